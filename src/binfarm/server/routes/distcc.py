"""distcc hosts: register, probe, drain and remove them (admin), see their slots and what
they compile (readers), and lease their slots for a build (its worker)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from binfarm.api.models import (
    DistccActivityOut,
    DistccAddOut,
    DistccGrantOut,
    DistccHostIn,
    DistccHostOut,
    DistccLeaseIn,
    DistccLeaseOut,
    DistccTask,
)
from binfarm.distcc.registry import DistccHost, LeasedSlot
from binfarm.farm import Farm
from binfarm.server.deps import AdminToken, FarmDep, ReaderToken, WorkerToken
from binfarm.server.routes.convert import BuildId

__all__ = ["router"]

router = APIRouter(tags=["distcc"])

HostName = Annotated[str, Path(min_length=1, max_length=300, description="HOST:PORT")]


def _out(host: DistccHost, leased: list[LeasedSlot]) -> DistccHostOut:
    mine = [slot for slot in leased if slot.host == host.name]
    return DistccHostOut(
        name=host.name, address=host.address, port=host.port, slots=host.slots,
        state=host.state.value, draining=host.draining, reason=host.reason,
        compiler=host.compiler, compilers=list(host.compilers), warning=host.warning,
        probed_at=host.probed_at, stats=dict(host.stats) if host.stats else None,
        stats_at=host.stats_at, used=len(mine), builds=sorted({s.build for s in mine}))


def _one(farm: Farm, name: str) -> DistccHostOut:
    return _out(farm.distcc_slots.get(name), farm.distcc_slots.leased())


@router.post("/distcc/hosts", status_code=201)
def add_distcc_host(body: DistccHostIn, farm: FarmDep, _token: AdminToken) -> DistccAddOut:
    """Probe a host and keep it: refused (400) when it runs any compiler it is sent."""
    added = farm.compile_hosts.add(body.host, body.slots)
    return DistccAddOut(host=_one(farm, added.host.name), warnings=list(added.warnings))


@router.get("/distcc/hosts")
def list_distcc_hosts(farm: FarmDep, _token: ReaderToken) -> list[DistccHostOut]:
    leased = farm.distcc_slots.leased()
    return [_out(host, leased) for host in farm.distcc_slots.list()]


@router.get("/distcc/hosts/{name}")
def show_distcc_host(name: HostName, farm: FarmDep, _token: ReaderToken) -> DistccHostOut:
    return _one(farm, name)


@router.post("/distcc/hosts/{name}/drain")
def drain_distcc_host(name: HostName, farm: FarmDep, _token: AdminToken,
                      undo: Annotated[bool, Query()] = False) -> DistccHostOut:
    """No new builds get its slots (the builds holding some keep them); `undo` ends that."""
    farm.distcc_slots.set_draining(name, not undo)
    return _one(farm, name)


@router.delete("/distcc/hosts/{name}")
def remove_distcc_host(name: HostName, farm: FarmDep, _token: AdminToken) -> DistccHostOut:
    out = _one(farm, name)
    farm.distcc_slots.remove(name)
    return out


@router.post("/distcc/probe")
def probe_distcc_hosts(farm: FarmDep, _token: AdminToken,
                       host: Annotated[str | None, Query(max_length=300)] = None
                       ) -> list[DistccHostOut]:
    hosts = farm.compile_hosts.probe(host)
    leased = farm.distcc_slots.leased()
    return [_out(h, leased) for h in hosts]


@router.get("/distcc/activity")
def distcc_activity(farm: FarmDep, _token: ReaderToken) -> list[DistccActivityOut]:
    """What each build's distcc clients compile now, as its worker last reported."""
    return [DistccActivityOut(build=build, worker=worker, reported_at=at,
                              tasks=[DistccTask.model_validate(t) for t in tasks])
            for build, worker, at, tasks in farm.distcc_slots.activity()]


@router.post("/builds/{build_id}/distcc")
def lease_distcc_slots(build_id: BuildId, body: DistccLeaseIn, farm: FarmDep,
                       token: WorkerToken) -> DistccLeaseOut:
    """Slots on the up distcc hosts for a running build, held until it ends or its lease
    lapses; none when no host is up, free, and running the worker's gcc."""
    farm.tokens.act_as_worker(token, body.worker)
    farm.queue.check_lease(build_id, body.worker)
    worker = farm.workers.get(body.worker)
    grants = farm.compile_hosts.lease(build_id, body.worker, body.want, worker.compiler)
    return DistccLeaseOut(
        grants=[DistccGrantOut.model_validate(g, from_attributes=True) for g in grants],
        reason=None if grants else farm.compile_hosts.why_none(worker.compiler))
