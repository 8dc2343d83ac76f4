"""Chroot build roots: upload a profile's stage3, see the workers' copies, ask for updates."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from binfarm.api.models import RootCopyIn, RootOut
from binfarm.roots.registry import RootCopy
from binfarm.server.deps import AdminToken, FarmDep, ReaderToken, WorkerToken
from binfarm.server.routes.convert import raw_body, root_out

__all__ = ["router"]

router = APIRouter(tags=["roots"])


@router.get("/roots")
def list_roots(farm: FarmDep, token: ReaderToken) -> list[RootOut]:
    return [root_out(r) for r in farm.roots.list()
            if token.reads_all or r.profile == token.profile]


@router.get("/profiles/{name}/root")
def get_root(name: str, farm: FarmDep, token: ReaderToken) -> RootOut:
    token.may_read(name)
    return root_out(farm.roots.get(name))


@router.put("/profiles/{name}/root", openapi_extra=raw_body("application/x-tar"))
async def set_root(
    name: str,
    request: Request,
    farm: FarmDep,
    _token: AdminToken,
    source: Annotated[str, Query(max_length=1024)] = "upload",
) -> RootOut:
    """Make a tar archive of a root (a stage3 tarball, any compression tar reads) the
    profile's chroot build root; from then on the profile builds in it."""
    farm.profiles.get(name)
    with farm.root_archives.receive(farm.settings.server.max_root_bytes) as writer:
        async for chunk in request.stream():
            writer.write(chunk)
        root = await run_in_threadpool(farm.set_build_root, name, writer, source)
    return root_out(root)


@router.delete("/profiles/{name}/root")
def delete_root(name: str, farm: FarmDep, _token: AdminToken) -> RootOut:
    """Go back to building the profile in a prefix; workers drop their copies."""
    return root_out(farm.roots.delete(name))


@router.post("/profiles/{name}/root/update")
def update_root(name: str, farm: FarmDep, _token: AdminToken) -> RootOut:
    """Have every worker bring its copy up to date with @system before its next build."""
    return root_out(farm.roots.request_update(name))


@router.get("/profiles/{name}/root/archive", response_class=FileResponse,
            responses={200: {"content": {"application/octet-stream": {}}}})
def get_root_archive(name: str, farm: FarmDep, _token: WorkerToken) -> FileResponse:
    return FileResponse(farm.roots.archive(name), media_type="application/octet-stream")


@router.put("/profiles/{name}/root/copies")
def report_root_copy(name: str, body: RootCopyIn, farm: FarmDep, token: WorkerToken) -> RootOut:
    farm.tokens.act_as_worker(token, body.worker)
    farm.roots.report_copy(name, RootCopy(**body.model_dump(), reported_at=0.0))
    return root_out(farm.roots.get(name))
