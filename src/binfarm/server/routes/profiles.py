"""Profiles and repositories: add a profile tree, read what Portage made of it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool

from binfarm import __version__
from binfarm.api.models import CpuIn, ProfileOut, RepositoryIn, RepositoryOut, WorldIn
from binfarm.profiles.model import MakeProfileRef
from binfarm.repositories import Repository
from binfarm.server.deps import AdminToken, FarmDep, ReaderToken
from binfarm.server.routes.convert import profile_out, raw_body, read_limited

__all__ = ["router"]

router = APIRouter(tags=["profiles"])



@router.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


def _repository_out(repo: Repository) -> RepositoryOut:
    return RepositoryOut(name=repo.name, location=str(repo.location),
                         distfiles=str(repo.distfiles) if repo.distfiles else None)


@router.get("/repositories")
def list_repositories(farm: FarmDep, _token: ReaderToken) -> list[RepositoryOut]:
    return [_repository_out(r) for r in farm.repositories.list()]


@router.post("/repositories", status_code=status.HTTP_201_CREATED)
def add_repository(body: RepositoryIn, farm: FarmDep, _token: AdminToken) -> RepositoryOut:
    """Register an ebuild repository at a path on the server (its repo_name must match)."""
    repo = farm.repositories.add(body.name, Path(body.location),
                                 Path(body.distfiles) if body.distfiles else None)
    return _repository_out(repo)


@router.delete("/repositories/{name}")
def remove_repository(name: str, farm: FarmDep, _token: AdminToken) -> RepositoryOut:
    """Forget a repository; refused while a profile's make.profile points into it."""
    return _repository_out(farm.remove_repository(name))


@router.get("/profiles")
def list_profiles(farm: FarmDep, token: ReaderToken) -> list[ProfileOut]:
    """Profiles (a client token: its own only)."""
    roots = {r.profile: r for r in farm.roots.list()}
    return [profile_out(p, roots.get(p.name)) for p in farm.profiles.list()
            if token.reads_all or p.name == token.profile]


@router.get("/profiles/{name}")
def get_profile(name: str, farm: FarmDep, token: ReaderToken) -> ProfileOut:
    token.may_read(name)
    return profile_out(farm.profiles.get(name), farm.roots.find(name))


@router.put("/profiles/{name}", status_code=status.HTTP_201_CREATED,
            openapi_extra=raw_body("application/gzip"))
async def add_profile(
    name: str,
    request: Request,
    farm: FarmDep,
    _token: AdminToken,
    make_profile: Annotated[str | None, Query(max_length=512)] = None,
    cpu: Annotated[str | None, Query(max_length=4096)] = None,
    exact_flags: bool = False,
) -> ProfileOut:
    """Add a profile from a tar.gz of its /etc/portage-shaped tree; Portage checks it first.

    `cpu` is what its machines can run (x86-64 level, -march name or CPU flag list);
    without it, exactly what the profile's own flags need.
    """
    body = await read_limited(request, farm.settings.server.max_profile_bytes)
    ref = MakeProfileRef.parse(make_profile) if make_profile else None
    profile = await run_in_threadpool(
        lambda: farm.add_profile(name, body, ref, cpu=cpu, exact_flags=exact_flags))
    return profile_out(profile, farm.roots.find(name),
                       await run_in_threadpool(farm.unbuildable, profile))


@router.put("/profiles/{name}/cpu")
def set_profile_cpu(name: str, body: CpuIn, farm: FarmDep, _token: AdminToken) -> ProfileOut:
    """Change what a profile's machines can run; refused if its own flags need more."""
    profile = farm.set_profile_cpu(name, body.cpu, body.exact_flags)
    return profile_out(profile, farm.roots.find(name), farm.unbuildable(profile))


@router.put("/profiles/{name}/world")
def set_profile_world(name: str, body: WorldIn, farm: FarmDep, _token: AdminToken) -> ProfileOut:
    """Set a profile's @world (what its machines install); each atom must resolve."""
    return profile_out(farm.set_world(name, body.atoms), farm.roots.find(name))


@router.get("/profiles/{name}/tree", response_class=Response,
            responses={200: {"content": {"application/gzip": {}}}})
def get_profile_tree(name: str, farm: FarmDep, token: ReaderToken) -> Response:
    token.may_read(name)
    return Response(farm.profile_tree(name), media_type="application/gzip")
