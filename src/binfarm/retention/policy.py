"""Which instances `binfarm gc` keeps, and why: a pure decision over what the store holds
and what needs it (channels now and recently, hosts, pins, age, newer variants).

An instance is kept by the first rule that holds, in this order: a channel lists it now;
a recent generation of a channel listed it (a client may hold that index still); a host
reported it installed recently (its admin may reinstall it, or roll back to it); it is
pinned; it is younger than the grace period. Of the rest, the newest `keep` of each
package version and USE stay (what a rollback goes back to); everything else goes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from binfarm.store.catalog import Instance

__all__ = ["Decision", "Needs", "Policy", "Rule", "decide"]


class Rule(StrEnum):
    LISTED = "listed now"
    GENERATION = "listed by a recent generation"
    INSTALLED = "installed on a host"
    PINNED = "pinned"
    YOUNG = "younger than the grace period"
    NEWEST = "newest of its version and USE"
    NONE = "needed by nothing"


@dataclass(frozen=True)
class Policy:
    grace_s: int = 2 * 86400
    generations_s: int = 7 * 86400
    hosts_s: int = 30 * 86400
    keep: int = 1


@dataclass(frozen=True)
class Needs:
    """For each instance id that something needs, what: "laptop/stable", "web1", a pin's
    reason."""

    listed: Mapping[int, str]
    generations: Mapping[int, str]
    installed: Mapping[int, str]
    pinned: Mapping[int, str]


@dataclass(frozen=True)
class Decision:
    instance: Instance
    rule: Rule
    why: str

    @property
    def kept(self) -> bool:
        return self.rule != Rule.NONE


def decide(instances: Iterable[Instance], needs: Needs, policy: Policy,
           now: float) -> list[Decision]:
    decisions: dict[int, Decision] = {}
    rest: dict[tuple[str, tuple[str, ...]], list[Instance]] = {}
    for instance in instances:
        found = next(((rule, why[instance.id]) for rule, why in (
            (Rule.LISTED, needs.listed), (Rule.GENERATION, needs.generations),
            (Rule.INSTALLED, needs.installed), (Rule.PINNED, needs.pinned))
            if instance.id in why), None)
        if found is None and now - instance.created_at < policy.grace_s:
            found = (Rule.YOUNG, f"stored {int(now - instance.created_at)} s ago")
        if found is None:
            rest.setdefault((instance.cpv, instance.key_inputs.use), []).append(instance)
        else:
            decisions[instance.id] = Decision(instance, *found)
    for variant in rest.values():
        newest_first = sorted(variant, key=lambda i: i.id, reverse=True)
        for rank, instance in enumerate(newest_first):
            decisions[instance.id] = (
                Decision(instance, Rule.NEWEST, f"{rank + 1} of {policy.keep}")
                if rank < policy.keep else Decision(instance, Rule.NONE, "superseded"))
    return sorted(decisions.values(), key=lambda d: d.instance.id)
