"""Build requests, their state, and their logs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from binfarm.api.models import BuildOut, BuildRequestIn
from binfarm.server.deps import AdminToken, FarmDep
from binfarm.server.routes.convert import build_out

__all__ = ["router"]

router = APIRouter(tags=["builds"])


@router.post("/builds", status_code=status.HTTP_201_CREATED)
def request_builds(body: BuildRequestIn, farm: FarmDep, _token: AdminToken) -> list[BuildOut]:
    """Queue a build of each atom for the profile; an identical active build is joined."""
    return [build_out(b) for b in farm.request_builds(body.profile, body.atoms)]


@router.get("/builds")
def list_builds(farm: FarmDep,
                limit: Annotated[int, Query(ge=1, le=10_000)] = 200) -> list[BuildOut]:
    return [build_out(b) for b in farm.queue.list(limit)]


@router.get("/builds/{build_id}")
def get_build(build_id: int, farm: FarmDep) -> BuildOut:
    return build_out(farm.queue.get(build_id), farm.catalog.for_build(build_id))


@router.get("/builds/{build_id}/log", response_class=Response,
            responses={200: {"content": {"text/plain": {}}}})
def get_build_log(build_id: int, farm: FarmDep,
                  offset: Annotated[int, Query(ge=0)] = 0) -> Response:
    """The build log from byte `offset` on; poll with the growing offset to follow it."""
    return Response(farm.read_log(build_id, offset), media_type="text/plain; charset=utf-8")
