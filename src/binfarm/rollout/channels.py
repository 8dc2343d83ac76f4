"""A profile's channels and the fold of its rollout events into their members.

Every published instance a profile's machines can run lands in `testing`; it is in
`stable` once promoted (by the profile's rule or by hand), and in neither once withdrawn
(a bad instance, or the newest one rolled back). Events are append-only, so a channel's
history is its events, and its index is a new generation whenever its members change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Action", "Channel", "Event", "Membership", "fold"]


class Channel(StrEnum):
    STABLE = "stable"
    TESTING = "testing"


class Action(StrEnum):
    PROMOTE = "promote"
    WITHDRAW = "withdraw"
    ROLLBACK = "rollback"


@dataclass(frozen=True)
class Event:
    id: int
    profile: str
    instance: int
    action: Action
    actor: str
    reason: str
    at: float


@dataclass(frozen=True)
class Membership:
    promoted: frozenset[int]
    withdrawn: frozenset[int]

    def holds(self, channel: Channel, instance: int) -> bool:
        if instance in self.withdrawn:
            return False
        return channel == Channel.TESTING or instance in self.promoted


def fold(events: Iterable[Event]) -> Membership:
    promoted: set[int] = set()
    withdrawn: set[int] = set()
    for event in events:
        (promoted if event.action == Action.PROMOTE else withdrawn).add(event.instance)
    return Membership(frozenset(promoted), frozenset(withdrawn))
