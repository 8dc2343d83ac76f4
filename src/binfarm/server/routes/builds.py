"""Build requests, their state, their logs; cancelling, queueing again, priority."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from starlette.concurrency import run_in_threadpool

from binfarm.api.models import BuildOut, BuildRequestIn, PriorityIn
from binfarm.farm import Farm
from binfarm.queue.rules import BuildState
from binfarm.queue.service import Build, Requester
from binfarm.server.deps import AdminToken, FarmDep, ReaderToken, RequesterToken
from binfarm.server.routes.convert import BuildId, ByteOffset, build_out
from binfarm.tokens import Token

__all__ = ["router"]

router = APIRouter(tags=["builds"])


@router.post("/builds", status_code=status.HTTP_201_CREATED)
async def request_builds(body: BuildRequestIn, farm: FarmDep,
                         token: RequesterToken) -> list[BuildOut]:
    """Queue a build of each atom for the profile; a build with the same key is joined, and
    a key already stored is answered with the build that made it."""
    requester = Requester(await run_in_threadpool(farm.requester_name, token, body.requester),
                          token.id, body.webhook)
    builds = await run_in_threadpool(
        lambda: farm.request_builds(body.profile, body.atoms, requester=requester, token=token,
                                    env=body.env, priority=body.priority))
    waiting = farm.queue.waiting(builds)
    return [build_out(b, farm.packages_of(b), farm.queue.requester_count(b.id),
                      waiting.get(b.id)) for b in builds]


@router.get("/builds")
def list_builds(
    farm: FarmDep,
    token: ReaderToken,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
    state: Annotated[list[BuildState] | None, Query()] = None,
    profile: Annotated[str | None, Query(max_length=64)] = None,
) -> list[BuildOut]:
    """Builds, newest first (a client token: its profile's only)."""
    if not token.reads_all:
        token.may_read(profile or token.profile or "")
        profile = token.profile
    builds = farm.queue.list(limit, states=frozenset(state) if state else None, profile=profile)
    waiting = farm.queue.waiting(builds)
    return [build_out(b, requesters=farm.queue.requester_count(b.id), waiting=waiting.get(b.id))
            for b in builds]


def _readable(farm: Farm, build_id: int, token: Token) -> Build:
    build = farm.queue.get(build_id)
    token.may_read(build.profile)
    return build


@router.get("/builds/{build_id}")
def get_build(build_id: BuildId, farm: FarmDep, token: ReaderToken) -> BuildOut:
    build = _readable(farm, build_id, token)
    return build_out(build, farm.packages_of(build), farm.queue.requester_count(build_id),
                     farm.queue.waiting([build]).get(build.id))


@router.post("/builds/{build_id}/cancel")
def cancel_build(build_id: BuildId, farm: FarmDep, token: RequesterToken) -> BuildOut:
    """Cancel a queued or running build (a client token: only its profile's)."""
    return build_out(farm.cancel_build(build_id, token))


@router.post("/builds/{build_id}/requeue")
def requeue_build(build_id: BuildId, farm: FarmDep, _token: AdminToken) -> BuildOut:
    """Queue a failed or cancelled build again (its log starts over)."""
    return build_out(farm.requeue_build(build_id))


@router.put("/builds/{build_id}/priority")
def set_priority(build_id: BuildId, body: PriorityIn, farm: FarmDep,
                 _token: AdminToken) -> BuildOut:
    """Move a queued build up or down the queue."""
    return build_out(farm.queue.set_priority(build_id, body.priority))


@router.get("/builds/{build_id}/log", response_class=Response,
            responses={200: {"content": {"text/plain": {}}}})
def get_build_log(build_id: BuildId, farm: FarmDep, token: ReaderToken,
                  offset: ByteOffset = 0,
                  limit: Annotated[int, Query(ge=1, le=8 << 20)] = 1 << 20) -> Response:
    """Up to `limit` bytes of the build log from byte `offset` on; read on (and follow a
    running build) with the growing offset until an empty answer."""
    _readable(farm, build_id, token)
    return Response(farm.read_log(build_id, offset, limit),
                    media_type="text/plain; charset=utf-8")
