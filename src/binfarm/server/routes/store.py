"""The store: garbage collection, pins, usage."""

from __future__ import annotations

from fastapi import APIRouter

from binfarm.api.models import (
    GcDecisionOut,
    GcIn,
    GcOut,
    PinIn,
    PinOut,
    UsageOut,
    UsageRowOut,
)
from binfarm.retention.policy import Policy
from binfarm.retention.service import Pin
from binfarm.rollout.service import parse_duration
from binfarm.server.deps import AdminToken, FarmDep
from binfarm.server.routes.convert import instance_out

__all__ = ["router"]

router = APIRouter(prefix="/store", tags=["store"])


@router.post("/gc")
def collect_garbage(body: GcIn, farm: FarmDep, _token: AdminToken) -> GcOut:
    """Delete the stored instances nothing needs (or with dry_run, say which and why)."""
    policy = Policy(grace_s=parse_duration(body.grace),
                    generations_s=parse_duration(body.generations),
                    hosts_s=parse_duration(body.hosts), keep=body.keep)
    plan = farm.retention.plan(policy)
    decisions = [GcDecisionOut(instance=instance_out(d.instance), kept=d.kept,
                               rule=d.rule.value, why=d.why) for d in plan.decisions]
    if body.dry_run:
        return GcOut(dry_run=True, decisions=decisions, strays=len(plan.strays),
                     freed_bytes=plan.freed_bytes)
    done = farm.retention.collect(plan)
    return GcOut(dry_run=False, decisions=decisions, strays=done.strays,
                 freed_bytes=done.freed_bytes, finished=done.finished)


def _pin_out(pin: Pin) -> PinOut:
    return PinOut(instance=instance_out(pin.instance), actor=pin.actor, reason=pin.reason,
                  at=pin.at)


@router.get("/pins")
def list_pins(farm: FarmDep, _token: AdminToken) -> list[PinOut]:
    return [_pin_out(p) for p in farm.retention.pins()]


@router.post("/pins")
def pin(body: PinIn, farm: FarmDep, token: AdminToken) -> PinOut:
    """Keep an instance whatever `gc`'s rules say."""
    instance = farm.retention.pin(body.ref, token.name, body.reason)
    return next(_pin_out(p) for p in farm.retention.pins() if p.instance.id == instance.id)


@router.post("/unpin")
def unpin(body: PinIn, farm: FarmDep, _token: AdminToken) -> list[PinOut]:
    """Let `gc`'s rules decide for an instance again; returns the pins left."""
    farm.retention.unpin(body.ref)
    return [_pin_out(p) for p in farm.retention.pins()]


def _rows(tallies: dict[str, tuple[int, int]]) -> list[UsageRowOut]:
    return [UsageRowOut(name=name, instances=count, bytes=size)
            for name, (count, size) in sorted(tallies.items(), key=lambda t: -t[1][1])]


@router.get("/usage")
def store_usage(farm: FarmDep, _token: AdminToken) -> UsageOut:
    """Stored bytes by the profile that built them, by package and by channel."""
    usage = farm.retention.usage()
    channels = {f"{p}/{c}": v for (p, c), v in usage.by_channel.items()}
    return UsageOut(by_profile=_rows(usage.by_profile), by_package=_rows(usage.by_package),
                    by_channel=_rows(channels), disk_bytes=usage.disk_bytes)
