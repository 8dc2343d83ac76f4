"""Rollout: a profile's promotion rule, promotion by hand, withdrawal, rollback, history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from binfarm.api.models import (
    InstanceOut,
    InstanceRefIn,
    PendingOut,
    RollbackIn,
    RolledBackOut,
    RolloutEventOut,
    RolloutRuleIn,
    RolloutRuleOut,
)
from binfarm.farm import Farm
from binfarm.rollout.service import Rule, parse_duration
from binfarm.server.deps import AdminToken, FarmDep, ReaderToken
from binfarm.server.routes.convert import instance_out

__all__ = ["router"]

router = APIRouter(prefix="/profiles/{name}", tags=["rollout"])


def _rule_out(farm: Farm, name: str, rule: Rule) -> RolloutRuleOut:
    pending = [PendingOut(instance=instance_out(p.instance), waits_for=list(p.waits_for))
               for p in farm.channels.pending(name)]
    return RolloutRuleOut(profile=name, soak_s=rule.soak_s, canaries=rule.canaries,
                          tests=rule.tests, describe=rule.describe(), pending=pending)


@router.get("/rollout")
def get_rollout_rule(name: str, farm: FarmDep, token: ReaderToken) -> RolloutRuleOut:
    """The promotion rule, and what testing holds that stable does not yet, waiting for
    what (a failed test run says why)."""
    token.may_read(name)
    return _rule_out(farm, name, farm.rollout.rule(farm.profiles.get(name).name))


@router.put("/rollout")
def set_rollout_rule(name: str, body: RolloutRuleIn, farm: FarmDep,
                     _token: AdminToken) -> RolloutRuleOut:
    """When an instance in testing is promoted to stable."""
    profile = farm.profiles.get(name)
    rule = Rule(parse_duration(body.soak), body.canaries, body.tests)
    return _rule_out(farm, name, farm.rollout.set_rule(profile.name, rule))


@router.post("/promote")
def promote(name: str, body: InstanceRefIn, farm: FarmDep,
            token: AdminToken) -> list[InstanceOut]:
    """Promote an instance (or testing's current instances of an atom) to stable."""
    farm.profiles.get(name)
    return [instance_out(i) for i in farm.channels.promote(name, body.ref, token.name)]


@router.post("/withdraw")
def withdraw(name: str, body: InstanceRefIn, farm: FarmDep,
             token: AdminToken) -> list[InstanceOut]:
    """Take an instance (or testing's current instances of an atom) out of both channels."""
    farm.profiles.get(name)
    return [instance_out(i) for i in farm.channels.withdraw(name, body.ref, token.name,
                                                            body.reason)]


@router.post("/rollback")
def rollback(name: str, body: RollbackIn, farm: FarmDep,
             token: AdminToken) -> list[RolledBackOut]:
    """Serve the last good instance of a package as stable's newest again."""
    farm.profiles.get(name)
    return [RolledBackOut(withdrawn=instance_out(old), served=instance_out(back))
            for old, back in farm.channels.rollback(name, body.atom, token.name)]


@router.get("/history")
def rollout_history(name: str, farm: FarmDep, token: ReaderToken,
                    atom: Annotated[str | None, Query(max_length=512)] = None,
                    ) -> list[RolloutEventOut]:
    """Every promotion, withdrawal and rollback: when, by whom or which rule, and why."""
    token.may_read(name)
    farm.profiles.get(name)
    return [RolloutEventOut(at=e.event.at, action=e.event.action.value, actor=e.event.actor,
                            reason=e.event.reason, instance=instance_out(e.instance))
            for e in farm.channels.history(name, atom)]
