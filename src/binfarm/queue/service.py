"""The build queue over the database: requests, fair leases, heartbeats, retries, notices.

A request whose build key is already queued or running joins that build, whichever
profile asked: equal keys make equal binaries, and every requester is recorded. A lease is
a conditional UPDATE checked by rowcount, so two workers never take one build; it lapses
`lease_ttl_s` after the last heartbeat, and the build goes back to the queue after an
exponential backoff, up to `max_attempts`. Among builds of equal priority, the requester
served longest ago goes first, so one requester's 500 requests do not starve another's
one. When a build ends, a notice is queued for every requester that gave a webhook; the
notice table is the outbox, so delivery survives a restart.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from binfarm.db.tables import build_roots, builds, notices, profiles, requests
from binfarm.errors import Conflict, NotFound, found
from binfarm.queue.rules import ACTIVE, FINAL, BuildState, backoff_s
from binfarm.queue.waiting import Needs, Waiting, never_reason, wait_reason
from binfarm.queue.workers import WorkerInfo, WorkerRegistry
from binfarm.settings import QueueSettings

__all__ = ["Build", "BuildQueue", "Requester"]

_CANDIDATES = 200


@dataclass(frozen=True)
class Build:
    id: int
    profile: str
    atom: str
    cpv: str
    key: str | None
    state: BuildState
    priority: int
    worker: str | None
    requested_at: float
    started_at: float | None
    finished_at: float | None
    error: str | None
    log_bytes: int
    env: dict[str, str]
    requester: str | None
    attempts: int
    not_before: float | None
    lease_expires_at: float | None
    required_isa: frozenset[str]
    after: tuple[int, ...]
    repositories: dict[str, str]
    # A test run of this instance: built with FEATURES=test, never packaged.
    tests_instance: int | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: Any) -> Build:
        return cls(row.id, row.profile, row.atom, row.cpv, row.key, BuildState(row.state),
                   row.priority, row.worker, row.requested_at, row.started_at,
                   row.finished_at, row.error, row.log_bytes, dict(row.env or {}),
                   row.requester, row.attempts, row.not_before, row.lease_expires_at,
                   frozenset(row.required_isa or ()), tuple(row.after or ()),
                   dict(row.repositories or {}), row.tests_instance, dict(row.timings or {}))


@dataclass(frozen=True)
class Requester:
    """Who asked for a build, and where to tell them it ended."""

    name: str
    token_id: int | None = None
    webhook: str | None = None


class BuildQueue:
    def __init__(self, engine: Engine, clock: Callable[[], float], settings: QueueSettings,
                 workers: WorkerRegistry, jitter: Callable[[], float] = random.random) -> None:
        self.engine = engine
        self.clock = clock
        self.settings = settings
        self.workers = workers
        self.jitter = jitter

    # -- requests --------------------------------------------------------------------------

    def request(self, *, profile: str, atom: str, cpv: str, key: str,
                required_isa: frozenset[str], env: dict[str, str], priority: int,
                requester: Requester, after: tuple[int, ...] = (),
                repositories: dict[str, str] | None = None,
                tests_instance: int | None = None) -> Build:
        """Queue a build, or join the active one with the same key (raising its priority).

        `after`: builds whose binaries this one needs first; it waits for them.
        `repositories`: where the repositories it builds from are (a plan's snapshot).
        `tests_instance`: the build is a test run of that instance. The unique
        index on active keys settles a race between identical requests: the loser's
        insert fails, and it joins the winner's build.
        """
        try:
            return self._request(profile, atom, cpv, key, required_isa, env, priority,
                                 requester, after, repositories, tests_instance)
        except IntegrityError:
            return self._request(profile, atom, cpv, key, required_isa, env, priority,
                                 requester, after, repositories, tests_instance)

    def _request(self, profile: str, atom: str, cpv: str, key: str,
                 required_isa: frozenset[str], env: dict[str, str], priority: int,
                 requester: Requester, after: tuple[int, ...],
                 repositories: dict[str, str] | None, tests_instance: int | None) -> Build:
        with self.engine.begin() as conn:
            row = conn.execute(
                select(builds.c.id, builds.c.priority)
                .where(builds.c.key == key, builds.c.state.in_([s.value for s in ACTIVE]))
                .order_by(builds.c.id).limit(1)
            ).first()
            if row is not None:
                build_id = row.id
                if priority > row.priority:
                    conn.execute(update(builds).where(builds.c.id == build_id)
                                 .values(priority=priority))
            else:
                build_id = conn.execute(insert(builds).values(
                    profile=profile, atom=atom, cpv=cpv, key=key, state=BuildState.QUEUED.value,
                    priority=priority, requested_at=self.clock(), log_bytes=0, env=env or None,
                    requester=requester.name, required_isa=sorted(required_isa), attempts=0,
                    after=sorted(set(after)) or None, repositories=repositories or None,
                    tests_instance=tests_instance,
                )).inserted_primary_key[0]
            self._add_requester(conn, build_id, requester)
        return self.get(build_id)

    def join_finished(self, build_id: int, requester: Requester) -> Build:
        """Record a requester of a build that already ended; its notice goes out at once."""
        with self.engine.begin() as conn:
            request_id = self._add_requester(conn, build_id, requester)
            build = self._get(conn, build_id)
            if requester.webhook:
                self._queue_notice(conn, request_id, requester, build)
        return build

    def requester_count(self, build_id: int) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(requests)
                                    .where(requests.c.build == build_id)).scalar_one())

    # -- reading ---------------------------------------------------------------------------

    def get(self, build_id: int) -> Build:
        with self.engine.connect() as conn:
            return self._get(conn, build_id)

    def list(self, limit: int = 200, *, states: frozenset[BuildState] | None = None,
             profile: str | None = None, package: str | None = None) -> list[Build]:
        """The newest builds; `package`: those whose cat/pn-version contains it."""
        query = select(builds).order_by(builds.c.id.desc()).limit(limit)
        if states:
            query = query.where(builds.c.state.in_([s.value for s in states]))
        if profile:
            query = query.where(builds.c.profile == profile)
        if package:
            query = query.where(builds.c.cpv.contains(package, autoescape=True))
        with self.engine.connect() as conn:
            return [Build.from_row(row) for row in conn.execute(query)]

    # -- why builds wait --------------------------------------------------------------------

    def tally(self) -> list[tuple[str, str, int, float, int]]:
        """(profile, state, builds, oldest request time, leases lost) for every pair."""
        query = select(builds.c.profile, builds.c.state, func.count(), func.min(
            builds.c.requested_at), func.coalesce(func.sum(builds.c.attempts), 0)).group_by(
            builds.c.profile, builds.c.state)
        with self.engine.connect() as conn:
            return [(r[0], r[1], int(r[2]), float(r[3]), int(r[4])) for r in conn.execute(query)]

    def waiting(self, wanted: Sequence[Build]) -> dict[int, Waiting]:
        """Why each queued build of `wanted` is not running (waiting.py), by build id."""
        queued = [b for b in wanted if b.state == BuildState.QUEUED]
        if not queued:
            return {}
        workers = self.workers.list()
        profile_names = sorted({b.profile for b in queued})
        waited_for = sorted({i for b in queued for i in b.after})
        with self.engine.connect() as conn:
            running = dict(conn.execute(
                select(builds.c.worker, func.count()).where(
                    builds.c.state == BuildState.RUNNING.value).group_by(builds.c.worker)).all())
            arch = {name: info["chost"].split("-", 1)[0] for name, info in conn.execute(
                select(profiles.c.name, profiles.c.info)
                .where(profiles.c.name.in_(profile_names)))}
            chroot = set(conn.execute(select(build_roots.c.profile).where(
                build_roots.c.profile.in_(profile_names))).scalars())
            states = {i: BuildState(s) for i, s in conn.execute(
                select(builds.c.id, builds.c.state).where(builds.c.id.in_(waited_for)))}
        now = self.clock()
        return {b.id: reason for b in queued if (reason := wait_reason(
            needs=Needs(arch.get(b.profile, ""), b.required_isa, b.profile in chroot),
            state=b.state, not_before=b.not_before, attempts=b.attempts,
            after={i: states[i] for i in b.after if i in states}, workers=workers,
            running=running, now=now)) is not None}

    def never_runs(self, profile: str, required_isa: frozenset[str]) -> str | None:
        """Why no registered worker could ever build for `profile` with `required_isa`."""
        with self.engine.connect() as conn:
            info = conn.execute(select(profiles.c.info)
                                .where(profiles.c.name == profile)).scalar_one()
            chroot = conn.execute(select(build_roots.c.profile)
                                  .where(build_roots.c.profile == profile)).first()
        needs = Needs(info["chost"].split("-", 1)[0], required_isa, chroot is not None)
        return never_reason(needs, self.workers.list())

    # -- leases ----------------------------------------------------------------------------

    def lease(self, worker: WorkerInfo) -> Build | None:
        """The next build this worker can run, fairly chosen, or None."""
        self.sweep()
        if worker.benched(self.clock()):
            return None
        for candidate in self._candidates(worker):
            now = self.clock()
            with self.engine.begin() as conn:
                taken = conn.execute(
                    update(builds).where(builds.c.id == candidate,
                                         builds.c.state == BuildState.QUEUED.value)
                    .values(state=BuildState.RUNNING.value, worker=worker.name,
                            started_at=now, lease_expires_at=now + self.settings.lease_ttl_s)
                ).rowcount
            if taken:
                return self.get(candidate)
        return None

    def heartbeat(self, build_id: int, worker: str) -> Build:
        """Extend the lease; Conflict when the worker no longer holds it (lost, cancelled)."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(builds).where(builds.c.id == build_id, builds.c.worker == worker,
                                     builds.c.state == BuildState.RUNNING.value)
                .values(lease_expires_at=self.clock() + self.settings.lease_ttl_s)
            ).rowcount
        if not done:
            raise Conflict(f"worker {worker!r} does not hold build {build_id}")
        self.workers.touch(worker)
        return self.get(build_id)

    def check_lease(self, build_id: int, worker: str) -> Build:
        """The build, if `worker` holds it; Conflict otherwise."""
        build = self.get(build_id)
        if build.state != BuildState.RUNNING or build.worker != worker:
            raise Conflict(f"worker {worker!r} does not hold build {build_id}")
        if build.lease_expires_at is not None and build.lease_expires_at < self.clock():
            raise Conflict(f"worker {worker!r}'s lease of build {build_id} has expired")
        return build

    def finish(self, build_id: int, worker: str, *, ok: bool, error: str | None,
               timings: Mapping[str, float] | None = None) -> Build:
        """End a running build; `timings`: seconds per phase as the worker and the server
        measured them, to which the time it waited (for its dependencies, then in the
        queue) is added."""
        state = BuildState.SUCCEEDED if ok else BuildState.FAILED
        with self.engine.begin() as conn:
            build = self._get(conn, build_id)
            waited = self._waits(conn, build)
            done = conn.execute(
                update(builds).where(builds.c.id == build_id, builds.c.worker == worker,
                                     builds.c.state == BuildState.RUNNING.value)
                .values(state=state.value, finished_at=self.clock(), error=error,
                        lease_expires_at=None, timings={**waited, **(timings or {})})
            ).rowcount
            if not done:
                raise Conflict(f"worker {worker!r} does not hold build {build_id}")
            self.workers.record(conn, worker, ok=ok, what=_failure(build, error))
            self._queue_notices(conn, build_id)
        return self.get(build_id)

    def _waits(self, conn: Connection, build: Build) -> dict[str, float]:
        """How long `build` waited for the builds it installs first, then for a worker."""
        if build.started_at is None:
            return {}
        ready = build.requested_at
        if build.after:
            ends = conn.execute(select(func.max(builds.c.finished_at))
                                .where(builds.c.id.in_(build.after))).scalar()
            ready = max(ready, min(ends or ready, build.started_at))
        return {"dependencies": round(ready - build.requested_at, 3),
                "queue": round(max(0.0, build.started_at - ready), 3)}

    def withdraw(self, build_id: int, token_id: int) -> int:
        """Remove the requests that token `token_id` made for an active build; return how
        many other requests remain. NotFound when the token asked for no such build."""
        with self.engine.begin() as conn:
            build = self._get(conn, build_id)
            if build.state not in ACTIVE:
                raise Conflict(f"build {build_id} is {build.state}: only a queued or running "
                               "build can be cancelled")
            gone = conn.execute(delete(requests).where(requests.c.build == build_id,
                                                       requests.c.token == token_id)).rowcount
            if not gone:
                raise NotFound(f"this token did not request build {build_id}")
            return int(conn.execute(select(func.count()).select_from(requests)
                                    .where(requests.c.build == build_id)).scalar_one())

    def set_priority(self, build_id: int, priority: int) -> Build:
        """Move a queued build up or down the queue."""
        with self.engine.begin() as conn:
            if not conn.execute(update(builds).where(
                    builds.c.id == build_id, builds.c.state == BuildState.QUEUED.value)
                    .values(priority=priority)).rowcount:
                build = self._get(conn, build_id)
                raise Conflict(f"build {build_id} is {build.state}: only a queued build's "
                               "priority can change")
        return self.get(build_id)

    def requeue(self, build_id: int) -> Build:
        """Queue a failed or cancelled build again, as if new (its log starts over)."""
        try:
            with self.engine.begin() as conn:
                done = conn.execute(update(builds).where(
                    builds.c.id == build_id,
                    builds.c.state.in_([BuildState.FAILED.value, BuildState.CANCELLED.value]))
                    .values(state=BuildState.QUEUED.value, worker=None, started_at=None,
                            finished_at=None, error=None, attempts=0, not_before=None,
                            lease_expires_at=None, requested_at=self.clock(), log_bytes=0,
                            timings=None)).rowcount
                if not done:
                    build = self._get(conn, build_id)
                    raise Conflict(f"build {build_id} is {build.state}: only a failed or "
                                   "cancelled build can be queued again")
        except IntegrityError as exc:
            raise Conflict(f"another build of the same key is queued or running: "
                           f"build {build_id} is not queued again") from exc
        return self.get(build_id)

    def cancel(self, build_id: int) -> Build:
        """Cancel a queued or running build; a running one's worker learns at its heartbeat."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(builds).where(builds.c.id == build_id,
                                     builds.c.state.in_([s.value for s in ACTIVE]))
                .values(state=BuildState.CANCELLED.value, finished_at=self.clock(),
                        lease_expires_at=None, error="cancelled")
            ).rowcount
            if not done:
                build = self._get(conn, build_id)
                raise Conflict(f"build {build_id} is {build.state}: only a queued or running "
                               "build can be cancelled")
            self._queue_notices(conn, build_id)
        return self.get(build_id)

    def sweep(self) -> list[int]:
        """Take back builds whose lease lapsed: requeue after a backoff, or fail them; fail
        queued builds waiting for a build that failed."""
        self._fail_orphans()
        now = self.clock()
        with self.engine.connect() as conn:
            lapsed = conn.execute(select(builds).where(
                builds.c.state == BuildState.RUNNING.value, builds.c.lease_expires_at < now
            )).all()
        swept = []
        for row in lapsed:
            attempts = row.attempts + 1
            if attempts >= self.settings.max_attempts:
                values: dict[str, Any] = {
                    "state": BuildState.FAILED.value, "finished_at": now,
                    "error": f"lost by its worker {attempts} times (last: {row.worker})"}
            else:
                delay = backoff_s(attempts, base_s=self.settings.retry_base_s,
                                  cap_s=self.settings.retry_max_s, jitter=self.jitter())
                values = {"state": BuildState.QUEUED.value, "worker": None,
                          "started_at": None, "not_before": now + delay}
            with self.engine.begin() as conn:
                done = conn.execute(
                    update(builds).where(builds.c.id == row.id,
                                         builds.c.state == BuildState.RUNNING.value,
                                         builds.c.lease_expires_at == row.lease_expires_at)
                    .values(attempts=attempts, lease_expires_at=None, **values)
                ).rowcount
                if done:
                    self.workers.record(conn, row.worker, ok=False,
                                        what=f"build {row.id} ({row.cpv}): lease expired")
                    if values["state"] == BuildState.FAILED.value:
                        self._queue_notices(conn, row.id)
                    swept.append(row.id)
        return swept

    def extend_leases(self, grace_s: float) -> int:
        """After a server restart: give running builds' workers time to report back."""
        with self.engine.begin() as conn:
            return conn.execute(
                update(builds).where(builds.c.state == BuildState.RUNNING.value)
                .values(lease_expires_at=self.clock() + grace_s)
            ).rowcount

    def requeue_worker(self, worker: str) -> int:
        """Put back at once the builds of a worker known to be gone (the embedded one after
        its server restarted): no backoff, no attempt counted."""
        with self.engine.begin() as conn:
            return conn.execute(
                update(builds).where(builds.c.worker == worker,
                                     builds.c.state == BuildState.RUNNING.value)
                .values(state=BuildState.QUEUED.value, worker=None, started_at=None,
                        lease_expires_at=None)
            ).rowcount

    def add_log_bytes(self, build_id: int, count: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(builds).where(builds.c.id == build_id)
                         .values(log_bytes=builds.c.log_bytes + count))

    # -- notices ---------------------------------------------------------------------------

    def due_notices(self, limit: int = 50) -> list[Any]:
        with self.engine.connect() as conn:
            return conn.execute(
                select(notices).where(notices.c.delivered_at.is_(None),
                                      notices.c.given_up_at.is_(None),
                                      notices.c.next_attempt_at <= self.clock())
                .order_by(notices.c.next_attempt_at).limit(limit)
            ).all()

    def notice_delivered(self, notice_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(notices).where(notices.c.id == notice_id)
                         .values(delivered_at=self.clock(),
                                 attempts=notices.c.attempts + 1))

    def notice_failed(self, notice_id: int, attempts: int, error: str) -> bool:
        """Schedule the next delivery after a backoff; return False when this was the last
        allowed attempt and the notice is given up."""
        delay = backoff_s(attempts + 1, base_s=1.0, cap_s=self.settings.notice_retry_max_s,
                          jitter=self.jitter())
        last = attempts + 1 >= self.settings.notice_max_attempts
        with self.engine.begin() as conn:
            conn.execute(update(notices).where(notices.c.id == notice_id)
                         .values(attempts=attempts + 1, next_attempt_at=self.clock() + delay,
                                 last_error=error[:2000],
                                 given_up_at=self.clock() if last else None))
        return not last

    # -- private ---------------------------------------------------------------------------

    def _candidates(self, worker: WorkerInfo) -> list[int]:
        """Queued builds this worker can run: highest priority, least recently served
        requester, oldest first."""
        served = builds.alias("served")
        last_served = (select(func.max(served.c.started_at))
                       .where(served.c.requester == builds.c.requester).scalar_subquery())
        query = (
            select(builds.c.id, builds.c.required_isa, builds.c.after, profiles.c.info,
                   build_roots.c.profile.label("chroot"))
            .join(profiles, profiles.c.name == builds.c.profile)
            .outerjoin(build_roots, build_roots.c.profile == builds.c.profile)
            .where(builds.c.state == BuildState.QUEUED.value,
                   or_(builds.c.not_before.is_(None), builds.c.not_before <= self.clock()))
            .order_by(builds.c.priority.desc(), last_served.asc().nulls_first(), builds.c.id)
            .limit(_CANDIDATES)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            return [row.id for row in rows
                    if row.info["chost"].split("-", 1)[0] == worker.arch
                    and frozenset(row.required_isa or ()) <= worker.cpu_features
                    and (row.chroot is None or worker.chroot)
                    and self._waiting_ok(conn, row.after)]

    def _waiting_ok(self, conn: Connection, after: list[int] | None) -> bool:
        if not after:
            return True
        states = conn.execute(select(builds.c.state).where(builds.c.id.in_(after))).scalars()
        return all(state == BuildState.SUCCEEDED.value for state in states)

    def _fail_orphans(self) -> None:
        """A queued build whose dependency build failed or was cancelled cannot succeed."""
        with self.engine.connect() as conn:
            queued = conn.execute(select(builds.c.id, builds.c.after).where(
                builds.c.state == BuildState.QUEUED.value)).all()
        # A JSON column stores None as JSON null, not SQL NULL: filter here, not in SQL.
        for row in (r for r in queued if r.after):
            with self.engine.begin() as conn:
                bad = conn.execute(select(builds.c.id).where(
                    builds.c.id.in_(row.after),
                    builds.c.state.in_([BuildState.FAILED.value, BuildState.CANCELLED.value]),
                )).scalars().all()
                if bad and conn.execute(update(builds).where(
                    builds.c.id == row.id, builds.c.state == BuildState.QUEUED.value,
                ).values(state=BuildState.FAILED.value, finished_at=self.clock(),
                         error=f"dependency build {bad[0]} did not succeed")).rowcount:
                    self._queue_notices(conn, row.id)

    def _get(self, conn: Connection, build_id: int) -> Build:
        row = conn.execute(select(builds).where(builds.c.id == build_id)).first()
        return Build.from_row(found(row, f"no build {build_id}"))

    def _add_requester(self, conn: Connection, build_id: int, requester: Requester) -> int:
        return int(conn.execute(insert(requests).values(
            build=build_id, requester=requester.name, token=requester.token_id,
            webhook=requester.webhook, created_at=self.clock(),
        )).inserted_primary_key[0])

    def _queue_notices(self, conn: Connection, build_id: int) -> None:
        build = self._get(conn, build_id)
        assert build.state in FINAL
        rows = conn.execute(select(requests).where(requests.c.build == build_id,
                                                   requests.c.webhook.is_not(None))).all()
        for row in rows:
            self._queue_notice(conn, row.id, Requester(row.requester, row.token, row.webhook),
                               build)

    def notify_requesters(self, build_id: int, payload: dict[str, Any]) -> int:
        """Queue `payload` (with each requester's name) for every requester of the build
        that gave a webhook: news of what it built after it ended (a withdrawal)."""
        with self.engine.begin() as conn:
            rows = conn.execute(select(requests).where(requests.c.build == build_id,
                                                       requests.c.webhook.is_not(None))).all()
            for row in rows:
                conn.execute(insert(notices).values(
                    request=row.id, url=row.webhook, attempts=0, next_attempt_at=self.clock(),
                    payload={**payload, "build": build_id, "requester": row.requester}))
        return len(rows)

    def _queue_notice(self, conn: Connection, request_id: int, requester: Requester,
                      build: Build) -> None:
        assert requester.webhook is not None
        payload = {"event": "build", "build": build.id, "status": build.state.value,
                   "cpv": build.cpv,
                   "profile": build.profile, "requester": requester.name,
                   "error": build.error}
        conn.execute(insert(notices).values(request=request_id, url=requester.webhook,
                                            payload=payload, attempts=0,
                                            next_attempt_at=self.clock()))


def _failure(build: Build, error: str | None) -> str:
    lines = (error or "").strip().splitlines()
    return f"build {build.id} ({build.cpv}): {lines[0] if lines else 'failed'}"
