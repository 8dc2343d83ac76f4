"""Rollout use cases: the promotion rule, promotion by hand, withdrawal, rollback, history.

The rule is evaluated by the farm whenever a channel's members are asked for: an instance
in testing that has soaked the profile's time and passed the health check of enough
testing hosts (canaries) is promoted then, recorded as an event by "rule" like any
promotion by hand; one failed check withdraws it. A profile without a rule promotes what
lands at once (a farm's first users expect a build to reach their machines).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import Engine, delete, func, insert, select

from binfarm.db.tables import builds, canary_reports, rollout_events, rollout_rules
from binfarm.errors import InvalidInput
from binfarm.keys.cpv import cp_of
from binfarm.rollout.channels import Action, Channel, Event, Membership, fold
from binfarm.store.catalog import Instance
from binfarm.store.changes import Changes

__all__ = ["Notify", "Pending", "Rollout", "Rule", "RunTests", "TestRun", "Verdict",
           "parse_duration", "show_duration"]

_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION: Final = re.compile(r"^(\d+)([smhdw]?)$")


def parse_duration(text: str) -> int:
    """Seconds in `30m`, `24h`, `7d`, `2w` or plain seconds."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise InvalidInput(f"{text!r} is not a duration: say 90s, 30m, 24h, 7d or 2w")
    return int(match.group(1)) * _UNITS[match.group(2) or "s"]


def show_duration(seconds: int) -> str:
    for unit in ("w", "d", "h", "m"):
        if seconds and seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True)
class Rule:
    soak_s: int = 0
    canaries: int = 0
    # A test run (FEATURES=test) of the instance must pass first.
    tests: bool = False

    def describe(self) -> str:
        if not (self.soak_s or self.canaries or self.tests):
            return "promoted as it lands"
        parts = [f"after {show_duration(self.soak_s)} in testing"] if self.soak_s else []
        if self.tests:
            parts.append("once its test suite passed (FEATURES=test)")
        if self.canaries:
            parts.append(f"once {self.canaries} testing host{'s' if self.canaries > 1 else ''} "
                         "passed its health check")
        return "promoted " + " and ".join(parts)


@dataclass(frozen=True)
class TestRun:
    """The latest test run of an instance: its build, state and error."""

    build: int
    state: str
    error: str | None


@dataclass(frozen=True)
class Pending:
    """An instance in testing, not yet in stable, and what the rule still waits for."""

    instance: Instance
    waits_for: tuple[str, ...]
    # What the rule found already (the evidence a promotion by rule records).
    found: tuple[str, ...] = ()


class Verdict(StrEnum):
    PASSED = "passed"
    FAILED = "failed"


def matches(atom: str, cpv: str) -> bool:
    """Whether `cpv` is what `atom` (cat/pn or cat/pn-version) names."""
    return atom in (cpv, cp_of(cpv))


# Told of a withdrawal: (build id, notice payload); Farm passes the queue's outbox.
Notify = Callable[[int, dict[str, Any]], object]
# Asked to queue test runs of instances that have none (rollout/testing.py).
RunTests = Callable[[Sequence[Instance]], object]


class Rollout:
    def __init__(self, engine: Engine, clock: Callable[[], float],
                 notify: Notify | None = None, run_tests: RunTests | None = None,
                 changes: Changes | None = None) -> None:
        self.engine = engine
        self.clock = clock
        self.notify = notify
        self.run_tests = run_tests
        self.changes = changes or Changes()
        self._folded: dict[str, tuple[int | None, Membership]] = {}

    # -- the rule ------------------------------------------------------------------------

    def rule(self, profile: str) -> Rule:
        with self.engine.connect() as conn:
            row = conn.execute(select(rollout_rules)
                               .where(rollout_rules.c.profile == profile)).first()
        return Rule(row.soak_s, row.canaries, row.tests) if row else Rule()

    def set_rule(self, profile: str, rule: Rule) -> Rule:
        if rule.soak_s < 0 or rule.canaries < 0:
            raise InvalidInput("a soak time and a number of canaries are never negative")
        with self.engine.begin() as conn:
            conn.execute(delete(rollout_rules).where(rollout_rules.c.profile == profile))
            if rule != Rule():
                conn.execute(insert(rollout_rules).values(profile=profile, soak_s=rule.soak_s,
                                                          canaries=rule.canaries,
                                                          tests=rule.tests))
        self.changes.bump()
        return rule

    # -- channels ------------------------------------------------------------------------

    def members(self, profile: str, channel: Channel,
                candidates: Sequence[Instance]) -> list[Instance]:
        """Those of `candidates` (what the profile's machines can run) in `channel`, after
        promoting what the rule promotes now."""
        membership = self._apply_rule(profile, candidates)
        return [i for i in candidates if membership.holds(channel, i.id)]

    def _apply_rule(self, profile: str, candidates: Sequence[Instance]) -> Membership:
        membership = self.membership(profile)
        rule = self.rule(profile)
        due = [p for p in self._waiting(profile, rule, membership, candidates)
               if not p.waits_for]
        if not due:
            return membership
        for p in due:
            evidence = f": {'; '.join(p.found)}" if p.found else ""
            self._record(profile, [p.instance], Action.PROMOTE, "rule",
                         rule.describe() + evidence)
        return self.membership(profile)

    def soak_ends(self, profile: str, candidates: Sequence[Instance]) -> float:
        """The first moment one of `candidates` still soaking has soaked (infinity: none)."""
        rule = self.rule(profile)
        if not rule.soak_s:
            return math.inf
        membership = self.membership(profile)
        now = self.clock()
        return min((i.created_at + rule.soak_s for i in candidates
                    if i.id not in membership.promoted and i.id not in membership.withdrawn
                    and now - i.created_at < rule.soak_s), default=math.inf)

    def pending(self, profile: str, candidates: Sequence[Instance]) -> list[Pending]:
        """Testing's instances the rule has not promoted, each with what it waits for."""
        membership = self._apply_rule(profile, candidates)
        return self._waiting(profile, self.rule(profile), membership, candidates)

    def _waiting(self, profile: str, rule: Rule, membership: Membership,
                 candidates: Sequence[Instance]) -> list[Pending]:
        """For each candidate neither promoted nor withdrawn, what the rule waits for."""
        now = self.clock()
        fresh = [i for i in candidates
                 if i.id not in membership.promoted and i.id not in membership.withdrawn]
        passed = self._passed(profile) if rule.canaries else {}
        runs = self.test_runs([i.id for i in fresh]) if rule.tests else {}
        # Only the newest of each package version and USE is tested: what testing lists.
        newest = {(i.cpv, i.key_inputs.use): i for i in sorted(fresh, key=lambda i: i.id)}
        untested = [i for i in newest.values() if rule.tests and i.id not in runs]
        if untested and self.run_tests is not None:
            self.run_tests(untested)
            runs = self.test_runs([i.id for i in fresh])
        waiting = []
        for instance in fresh:
            reasons, found = [], []
            age = now - instance.created_at
            if age < rule.soak_s:
                reasons.append(f"soak: {show_duration(int(rule.soak_s - age))} more")
            elif rule.soak_s:
                found.append(f"{show_duration(int(age))} in testing")
            if rule.tests:
                run = runs.get(instance.id)
                if run is not None and run.state == "succeeded":
                    found.append(f"test run passed in build {run.build}")
                else:
                    reasons.append(_tests_wait(run))
            hosts = passed.get(instance.id, [])
            if len(hosts) < rule.canaries:
                reasons.append(f"canaries: {len(hosts)} of {rule.canaries} testing hosts "
                               "passed")
            elif rule.canaries:
                found.append(f"health check passed on {', '.join(hosts)}")
            waiting.append(Pending(instance, tuple(reasons), tuple(found)))
        return waiting

    def test_runs(self, ids: Sequence[int]) -> dict[int, TestRun]:
        """The latest test run of each of these instances that has one."""
        query = select(builds.c.id, builds.c.tests_instance, builds.c.state, builds.c.error) \
            .where(builds.c.tests_instance.in_(sorted(ids))).order_by(builds.c.id)
        with self.engine.connect() as conn:
            return {r.tests_instance: TestRun(r.id, r.state, r.error)
                    for r in conn.execute(query)}

    def membership(self, profile: str) -> Membership:
        """The fold of the profile's events, folded again only when one was added (events
        are append-only: the newest id tells)."""
        with self.engine.connect() as conn:
            newest = conn.execute(select(func.max(rollout_events.c.id))
                                  .where(rollout_events.c.profile == profile)).scalar()
        held = self._folded.get(profile)
        if held is not None and held[0] == newest:
            return held[1]
        membership = fold(self.history(profile))
        self._folded[profile] = (newest, membership)
        return membership

    # -- by hand -------------------------------------------------------------------------

    def promote(self, profile: str, chosen: Sequence[Instance], actor: str) -> list[Instance]:
        membership = self.membership(profile)
        if gone := [i for i in chosen if i.id in membership.withdrawn]:
            raise InvalidInput(f"{_names(gone)} {'was' if len(gone) == 1 else 'were'} "
                               f"withdrawn from {profile}: build it again to promote it")
        fresh = [i for i in chosen if i.id not in membership.promoted]
        self._record(profile, fresh, Action.PROMOTE, actor, "by hand")
        return fresh

    def withdraw(self, profile: str, chosen: Sequence[Instance], actor: str,
                 reason: str) -> list[Instance]:
        membership = self.membership(profile)
        fresh = [i for i in chosen if i.id not in membership.withdrawn]
        self._record(profile, fresh, Action.WITHDRAW, actor, reason or "by hand")
        for instance in fresh:
            if instance.build is not None and self.notify is not None:
                self.notify(instance.build, {
                    "event": "withdrawn", "profile": profile, "cpv": instance.cpv,
                    "instance": instance.path, "sha256": instance.sha256, "by": actor,
                    "reason": reason or "by hand"})
        return fresh

    def rollback(self, profile: str, atom: str, stable: Sequence[Instance],
                 candidates: Sequence[Instance], actor: str) -> list[tuple[Instance, Instance]]:
        """Withdraw the stable channel's instances of `atom` where an earlier promoted one
        of the same package version and USE remains to take its place; returns (withdrawn,
        now served) pairs."""
        current = [i for i in stable if matches(atom, i.cpv)]
        if not current:
            raise InvalidInput(f"the stable channel of {profile} serves nothing matching "
                               f"{atom!r}")
        membership = self.membership(profile)
        pairs = []
        for instance in current:
            earlier = [c for c in candidates if c.id < instance.id and c.cpv == instance.cpv
                       and c.key_inputs.use == instance.key_inputs.use
                       and membership.holds(Channel.STABLE, c.id)]
            if not earlier:
                use = " ".join(instance.key_inputs.use) or "none"
                raise InvalidInput(
                    f"no earlier instance of {instance.cpv} (USE {use}) was promoted in "
                    f"{profile}: nothing to roll back to (`binfarm withdraw` takes it out of "
                    "both channels)")
            pairs.append((instance, earlier[-1]))
        for withdrawn, back in pairs:
            self._record(profile, [withdrawn], Action.ROLLBACK, actor,
                         f"rolled back to {back.path}")
        return pairs

    def report(self, profile: str, host: str, channel: Channel, instance: Instance,
               verdict: Verdict, output: str) -> None:
        """A host's health check of an instance it installed; a failed one withdraws the
        instance from both channels at once."""
        with self.engine.begin() as conn:
            conn.execute(insert(canary_reports).values(
                profile=profile, instance=instance.id, host=host, channel=channel.value,
                verdict=verdict.value, output=output, at=self.clock()))
        self.changes.bump()
        if verdict == Verdict.FAILED:
            tail = output.strip().splitlines()[-1:] or ["no output"]
            self.withdraw(profile, [instance], f"host {host}",
                          f"health check failed on {host}: {tail[0][:200]}")

    def _passed(self, profile: str) -> dict[int, list[str]]:
        """The testing hosts that passed each instance's health check."""
        query = select(canary_reports.c.instance, canary_reports.c.host).where(
            canary_reports.c.profile == profile,
            canary_reports.c.verdict == Verdict.PASSED.value,
            canary_reports.c.channel == Channel.TESTING.value,
        ).distinct().order_by(canary_reports.c.instance, canary_reports.c.host)
        passed: dict[int, list[str]] = {}
        with self.engine.connect() as conn:
            for instance, host in conn.execute(query):
                passed.setdefault(instance, []).append(host)
        return passed

    def why_withdrawn(self, profile: str, instance: Instance) -> str:
        """What a request for a withdrawn instance's key is told: the same settings build
        the same binary (builds are reproducible, and a key has one instance), so it is
        not built again."""
        last = next((e for e in reversed(self.history(profile)) if e.instance == instance.id
                     and e.action == Action.WITHDRAW), None)
        said = f" by {last.actor}: {last.reason}" if last and last.reason else ""
        return (f"{instance.cpv} as {profile} builds it is instance {instance.sha256[:16]}, "
                f"withdrawn from {profile}'s channels{said}. The same settings build the same "
                "binary: change its USE or flags, or the ebuild (a new revision), to get "
                "another")

    def history(self, profile: str) -> list[Event]:
        query = select(rollout_events).where(rollout_events.c.profile == profile) \
            .order_by(rollout_events.c.id)
        with self.engine.connect() as conn:
            return [Event(r.id, r.profile, r.instance, Action(r.action), r.actor, r.reason,
                          r.at) for r in conn.execute(query)]

    def _record(self, profile: str, chosen: Sequence[Instance], action: Action, actor: str,
                reason: str) -> None:
        if not chosen:
            return
        now = self.clock()
        with self.engine.begin() as conn:
            conn.execute(insert(rollout_events), [
                {"profile": profile, "instance": i.id, "action": action.value, "actor": actor,
                 "reason": reason, "at": now} for i in chosen])
        self.changes.bump()


def _tests_wait(run: TestRun | None) -> str:
    if run is None:
        return "tests: no test run yet"
    if run.state in ("failed", "cancelled"):
        return f"tests {run.state} in build {run.build}: {run.error or 'no reason given'}"
    return f"tests: build {run.build} {run.state}"


def _names(chosen: Sequence[Instance]) -> str:
    return ", ".join(i.path for i in chosen)
