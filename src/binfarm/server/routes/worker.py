"""The worker protocol: lease a build, stream its log, upload its packages, finish it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from binfarm.api.models import BuildOut, FinishIn, InstanceOut, LeaseIn
from binfarm.errors import InvalidInput
from binfarm.server.deps import AdminToken, FarmDep
from binfarm.server.routes.convert import build_out, instance_out

__all__ = ["router"]

router = APIRouter(tags=["worker"])

_BINARY_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string",
                                                            "format": "binary"}}},
    }
}
WorkerName = Annotated[str, Query(min_length=1, max_length=128)]


@router.post("/worker/lease", response_model=BuildOut,
             responses={204: {"description": "No build is queued"}})
def lease_build(body: LeaseIn, farm: FarmDep, _token: AdminToken) -> Response:
    """The next build for this worker, or 204 when the queue is empty."""
    build = farm.queue.lease(body.worker)
    if build is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return JSONResponse(build_out(build).model_dump())


@router.post("/builds/{build_id}/log", status_code=status.HTTP_204_NO_CONTENT,
             openapi_extra=_BINARY_BODY)
async def append_build_log(build_id: int, worker: WorkerName, request: Request,
                           farm: FarmDep, _token: AdminToken) -> None:
    limit = farm.settings.server.max_log_chunk_bytes
    chunk = await request.body()
    if len(chunk) > limit:
        raise InvalidInput(f"log chunk larger than {limit} bytes")
    await run_in_threadpool(farm.append_log, build_id, worker, chunk)


@router.post("/builds/{build_id}/packages", status_code=status.HTTP_201_CREATED,
             openapi_extra=_BINARY_BODY)
async def upload_package(
    build_id: int,
    worker: WorkerName,
    filename: Annotated[str, Query(min_length=1, max_length=255)],
    request: Request,
    farm: FarmDep,
    _token: AdminToken,
) -> InstanceOut:
    """Upload one binary package a build produced; Portage reads it before it is stored."""
    await run_in_threadpool(farm.queue.check_lease, build_id, worker)
    with farm.blobs.receive(farm.settings.server.max_package_bytes) as writer:
        async for chunk in request.stream():
            writer.write(chunk)
        instance = await run_in_threadpool(farm.receive_package, build_id, worker, filename,
                                           writer)
    return instance_out(instance)


@router.post("/builds/{build_id}/finish")
def finish_build(build_id: int, body: FinishIn, farm: FarmDep, _token: AdminToken) -> BuildOut:
    build = farm.finish_build(build_id, body.worker, ok=body.ok, error=body.error)
    return build_out(build, farm.catalog.for_build(build_id))
