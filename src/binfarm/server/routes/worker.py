"""The worker protocol: lease a build, stream its log, upload its packages, finish it."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from binfarm.api.models import (
    BuildOut,
    CredentialIn,
    CredentialOut,
    FinishIn,
    HeartbeatIn,
    HeartbeatOut,
    InstanceOut,
    LeaseIn,
    WorkerIn,
    WorkerOut,
)
from binfarm.errors import InvalidInput, TooMany
from binfarm.farm import LEASE_POLL_S, Farm
from binfarm.queue.rules import BuildState
from binfarm.queue.service import Build
from binfarm.server.deps import FarmDep, ReaderToken, WorkerToken
from binfarm.server.routes.convert import BuildId, build_out, instance_out, raw_body, worker_out
from binfarm.tokens import Role

__all__ = ["router"]

router = APIRouter(tags=["worker"])

_WAKE_S = 0.05  # how often a waiting lease looks whether a request came in (no database)

WorkerName = Annotated[str, Query(min_length=1, max_length=128)]


@router.post("/worker/register")
def register_worker(body: WorkerIn, farm: FarmDep, token: WorkerToken) -> WorkerOut:
    """Announce a worker: its architecture, CPU features and slots. A worker token takes
    the name at its first registration and may act only as that worker from then on."""
    farm.tokens.act_as_worker(token, body.name)
    worker = farm.register_worker(body.name, body.arch, frozenset(body.cpu_features),
                                  body.slots, chroot=body.chroot, compiler=body.compiler)
    return worker_out(worker, farm.clock(), [])


@router.get("/workers")
def list_workers(farm: FarmDep, _token: ReaderToken) -> list[WorkerOut]:
    running: dict[str, list[int]] = {}
    for build in farm.queue.list(10_000, states=frozenset({BuildState.RUNNING})):
        running.setdefault(build.worker or "", []).append(build.id)
    now = farm.clock()
    return [worker_out(w, now, running.get(w.name, [])) for w in farm.workers.list()]


@router.post("/worker/credential")
def binhost_credential(body: CredentialIn, farm: FarmDep, token: WorkerToken) -> CredentialOut:
    """A fresh read-only credential for a profile's binhost and the mirror, for the worker's
    build roots of that profile (the one it had before is revoked)."""
    farm.tokens.act_as_worker(token, body.worker)
    farm.profiles.get(body.profile)
    name = f"binhost-{body.profile}@{body.worker}"[:128]
    # The URI's user is only a label; one without '@' or '%' survives Portage's configparser.
    return CredentialOut(user="build-root",
                         secret=farm.tokens.replace(name, Role.BINHOST, body.profile))


@router.post("/worker/lease", response_model=BuildOut,
             responses={204: {"description": "No build for this worker"}})
async def lease_build(body: LeaseIn, request: Request, farm: FarmDep,
                      token: WorkerToken) -> Response:
    """The next build for this worker, waiting up to `wait_s` for one; 204 when none.

    The wait is on the event loop: a waiting worker holds no thread of the pool that
    serves the binhost and the API, and one token has at most `max_long_polls` waiting."""
    await run_in_threadpool(farm.tokens.act_as_worker, token, body.worker)
    polls: dict[int, int] = request.app.state.long_polls
    if polls.get(token.id, 0) >= farm.settings.server.max_long_polls:
        raise TooMany(f"token {token.name!r} has {polls[token.id]} lease requests waiting "
                      "already")
    polls[token.id] = polls.get(token.id, 0) + 1
    try:
        build = await _wait_for_lease(farm, body.worker, body.wait_s)
    finally:
        polls[token.id] -= 1
    if build is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return JSONResponse(build_out(build).model_dump())


async def _wait_for_lease(farm: Farm, worker: str, wait_s: float) -> Build | None:
    deadline = time.monotonic() + min(wait_s, farm.settings.queue.long_poll_s)
    while True:
        seen = farm.work_generation
        build = await run_in_threadpool(farm.lease, worker)
        if build is not None or time.monotonic() >= deadline:
            return build
        next_look = min(deadline, time.monotonic() + LEASE_POLL_S)
        while farm.work_generation == seen and time.monotonic() < next_look:
            await asyncio.sleep(_WAKE_S)


@router.post("/builds/{build_id}/heartbeat")
def heartbeat(build_id: BuildId, body: HeartbeatIn, farm: FarmDep,
              token: WorkerToken) -> HeartbeatOut:
    """Keep a lease, and say what its distcc clients compile now; 409 when the lease was
    lost or the build cancelled (stop building)."""
    farm.tokens.act_as_worker(token, body.worker)
    build = farm.heartbeat(build_id, body.worker)
    if body.distcc is not None:
        farm.distcc_slots.report(build_id, body.worker, [t.model_dump() for t in body.distcc])
    return HeartbeatOut(lease_expires_at=build.lease_expires_at or 0.0)


@router.post("/builds/{build_id}/log", status_code=status.HTTP_204_NO_CONTENT,
             openapi_extra=raw_body("application/octet-stream"))
async def append_build_log(build_id: BuildId, worker: WorkerName, request: Request,
                           farm: FarmDep, token: WorkerToken) -> None:
    await run_in_threadpool(farm.tokens.act_as_worker, token, worker)
    limit = farm.settings.server.max_log_chunk_bytes
    chunk = await request.body()
    if len(chunk) > limit:
        raise InvalidInput(f"log chunk larger than {limit} bytes")
    await run_in_threadpool(farm.append_log, build_id, worker, chunk)


@router.post("/builds/{build_id}/packages", status_code=status.HTTP_201_CREATED,
             openapi_extra=raw_body("application/octet-stream"))
async def upload_package(
    build_id: BuildId,
    worker: WorkerName,
    filename: Annotated[str, Query(min_length=1, max_length=255)],
    request: Request,
    farm: FarmDep,
    token: WorkerToken,
    sha256: Annotated[str | None, Query(pattern=r"^[0-9a-fA-F]{64}$")] = None,
) -> InstanceOut:
    """Upload one binary package a build produced; Portage reads it before it is stored.
    It must be the build's package or one it depends on, with a safe image, sent while the
    lease holds; a stored instance of the same key is kept and returned."""
    await run_in_threadpool(farm.tokens.act_as_worker, token, worker)
    await run_in_threadpool(farm.queue.check_lease, build_id, worker)
    with farm.blobs.receive(farm.settings.server.max_package_bytes) as writer:
        async for chunk in request.stream():
            writer.write(chunk)
        instance = await run_in_threadpool(farm.receive_package, build_id, worker, filename,
                                           writer, sha256)
    return instance_out(instance)


@router.post("/builds/{build_id}/finish")
def finish_build(build_id: BuildId, body: FinishIn, farm: FarmDep, token: WorkerToken) -> BuildOut:
    farm.tokens.act_as_worker(token, body.worker)
    build = farm.finish_build(build_id, body.worker, ok=body.ok, error=body.error,
                              timings=dict(body.timings))
    return build_out(build, farm.packages_of(build))
