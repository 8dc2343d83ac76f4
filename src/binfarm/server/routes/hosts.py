"""Hosts: machines that install from the farm register, follow their config, report."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from starlette.concurrency import run_in_threadpool

from binfarm.api.models import (
    CanaryReportIn,
    HostChannelIn,
    HostOut,
    HostProfileIn,
    HostRegisteredOut,
    InstanceOut,
    ReportIn,
    SharedFileOut,
)
from binfarm.errors import Forbidden
from binfarm.farm import Farm
from binfarm.hosts import Host
from binfarm.profiles.model import MakeProfileRef
from binfarm.rollout.channels import Channel
from binfarm.rollout.service import Verdict
from binfarm.server.deps import AdminToken, EnrollToken, FarmDep, ReaderToken, RequesterToken
from binfarm.server.routes.convert import instance_out, raw_body, read_limited
from binfarm.tokens import Role, Token

__all__ = ["router"]

router = APIRouter(tags=["hosts"])

MakeProfile = Annotated[str | None, Query(max_length=512)]


def host_out(host: Host, out_of_date: list[str] | None = None) -> HostOut:
    return HostOut(name=host.name, profile=host.profile, arch=host.arch,
                   cpu_features=sorted(host.cpu_features), registered_at=host.registered_at,
                   last_report_at=host.last_report_at, last_result=host.last_result,
                   installed=list(host.installed), channel=host.channel,
                   out_of_date=out_of_date or [])


def _own(farm: Farm, name: str, token: Token) -> Host:
    host = farm.hosts.get(name)
    if token.role != Role.ADMIN and host.token != token.id:
        raise Forbidden(f"token {token.name!r} is not host {name!r}'s")
    return host


@router.post("/hosts/{name}", status_code=status.HTTP_201_CREATED,
             openapi_extra=raw_body("application/gzip"))
async def register_host(
    name: str, request: Request, farm: FarmDep, token: EnrollToken,
    arch: Annotated[str, Query(min_length=1, max_length=64)],
    cpu_features: Annotated[str, Query(max_length=8192)] = "",
    make_profile: MakeProfile = None,
    base: Annotated[str | None, Query(max_length=64)] = None,
    channel: Annotated[str, Query(pattern=r"^(stable|testing)$")] = "stable",
) -> HostRegisteredOut:
    """Register a machine from a tar.gz of its /etc/portage: it joins the profile with the
    same configuration, or gets its own (derived from `base`). An enrollment token
    registers one machine, for its own profile."""
    body = await read_limited(request, farm.settings.server.max_profile_bytes)
    ref = MakeProfileRef.parse(make_profile) if make_profile else None
    host, secret = await run_in_threadpool(
        lambda: farm.enrollment.register(name, body, ref, arch=arch, base=base, token=token,
                                   cpu_features=frozenset(cpu_features.split())))
    if channel != host.channel:
        host = await run_in_threadpool(farm.hosts.set_channel, host.name, channel)
    return HostRegisteredOut(host=host_out(host), token=secret)


@router.put("/hosts/{name}/config", openapi_extra=raw_body("application/gzip"))
async def update_host_config(name: str, request: Request, farm: FarmDep, token: RequesterToken,
                             make_profile: MakeProfile = None) -> HostOut:
    """The machine's configuration now: the farm follows it before building for it."""
    await run_in_threadpool(_own, farm, name, token)
    body = await read_limited(request, farm.settings.server.max_profile_bytes)
    ref = MakeProfileRef.parse(make_profile) if make_profile else None
    host = await run_in_threadpool(farm.enrollment.update_config, name, body, ref)
    return host_out(host)


@router.post("/hosts/{name}/report")
def report_host(name: str, body: ReportIn, farm: FarmDep, token: RequesterToken) -> HostOut:
    """What an update did, and what the machine has installed now."""
    _own(farm, name, token)
    binpkgs = {p.cpv: p.md5 for p in body.binpkgs}
    return host_out(farm.enrollment.report(name, body.result, body.installed, binpkgs))


@router.post("/hosts/{name}/canary")
def report_canary(name: str, body: CanaryReportIn, farm: FarmDep,
                  token: RequesterToken) -> list[InstanceOut]:
    """The host's health check of packages it installed: a pass counts towards their
    promotion (from a host of the testing channel), a failure withdraws them at once."""
    host = _own(farm, name, token)
    return [instance_out(i) for i in farm.channels.report(
        host.profile, host.name, Channel(host.channel),
        [(p.cpv, p.md5) for p in body.installed], Verdict(body.verdict), body.output)]


@router.get("/hosts/{name}/shared")
def get_shared_layer(name: str, farm: FarmDep, token: RequesterToken) -> list[SharedFileOut]:
    """The shared (`01*`) files the host's configuration takes from its base profile."""
    _own(farm, name, token)
    return [SharedFileOut(path=path, content_b64=base64.b64encode(data).decode())
            for path, data in farm.enrollment.shared_layer(name).items()]


@router.put("/hosts/{name}/profile")
def move_host(name: str, body: HostProfileIn, farm: FarmDep, _token: AdminToken) -> HostOut:
    """Put a host into another existing profile (its token follows)."""
    return host_out(farm.enrollment.move(name, body.profile))


@router.put("/hosts/{name}/channel")
def set_host_channel(name: str, body: HostChannelIn, farm: FarmDep,
                     _token: AdminToken) -> HostOut:
    """Which channel of its profile the host installs from (it follows on its next
    `binfarm client update`)."""
    return host_out(farm.hosts.set_channel(name, body.channel))


@router.get("/hosts")
def list_hosts(farm: FarmDep, token: ReaderToken) -> list[HostOut]:
    """Every host: its profile, last report, what it has installed and what is out of date
    (a client token: the hosts of its profile)."""
    shown = [host for host in farm.hosts.list()
             if token.reads_all or host.profile == token.profile]
    stale = farm.enrollment.out_of_date_by_host(shown)
    return [host_out(host, stale[host.name]) for host in shown]
