"""The build queue over the database.

A request whose build key is already queued or running joins that build, whichever
profile asked first: equal keys make equal binaries. A lease is a conditional UPDATE
checked by rowcount, so two workers can never take one build.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, insert, select, update

from binfarm.db.tables import builds
from binfarm.errors import Conflict, NotFound
from binfarm.queue.rules import ACTIVE, BuildState

__all__ = ["Build", "BuildQueue"]


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

    @classmethod
    def from_row(cls, row: Any) -> Build:
        return cls(row.id, row.profile, row.atom, row.cpv, row.key, BuildState(row.state),
                   row.priority,
                   row.worker, row.requested_at, row.started_at, row.finished_at, row.error,
                   row.log_bytes)


class BuildQueue:
    def __init__(self, engine: Engine, clock: Callable[[], float]) -> None:
        self.engine = engine
        self.clock = clock

    def request(self, profile: str, atom: str, cpv: str, key: str) -> Build:
        """Queue a build of `cpv` for `profile`, or join the active build with the same key."""
        with self.engine.begin() as conn:
            row = conn.execute(
                select(builds).where(builds.c.key == key,
                                     builds.c.state.in_([s.value for s in ACTIVE]))
                .order_by(builds.c.id).limit(1)
            ).first()
            if row is not None:
                return Build.from_row(row)
            new_id = conn.execute(insert(builds).values(
                profile=profile, atom=atom, cpv=cpv, key=key, state=BuildState.QUEUED.value,
                priority=0, requested_at=self.clock(), log_bytes=0,
            )).inserted_primary_key[0]
        return self.get(new_id)

    def get(self, build_id: int) -> Build:
        with self.engine.connect() as conn:
            row = conn.execute(select(builds).where(builds.c.id == build_id)).first()
        if row is None:
            raise NotFound(f"no build {build_id}")
        return Build.from_row(row)

    def list(self, limit: int = 200) -> list[Build]:
        query = select(builds).order_by(builds.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [Build.from_row(row) for row in conn.execute(query)]

    def lease(self, worker: str) -> Build | None:
        """Give `worker` the oldest queued build of the highest priority, or None."""
        for _ in range(5):
            with self.engine.begin() as conn:
                row = conn.execute(
                    select(builds.c.id).where(builds.c.state == BuildState.QUEUED.value)
                    .order_by(builds.c.priority.desc(), builds.c.id).limit(1)
                ).first()
                if row is None:
                    return None
                taken = conn.execute(
                    update(builds).where(builds.c.id == row.id,
                                         builds.c.state == BuildState.QUEUED.value)
                    .values(state=BuildState.RUNNING.value, worker=worker,
                            started_at=self.clock())
                ).rowcount
            if taken:
                return self.get(row.id)
        return None

    def check_lease(self, build_id: int, worker: str) -> Build:
        """The build, if `worker` holds it; Conflict otherwise."""
        build = self.get(build_id)
        if build.state != BuildState.RUNNING or build.worker != worker:
            raise Conflict(f"worker {worker!r} does not hold build {build_id}")
        return build

    def finish(self, build_id: int, worker: str, *, ok: bool, error: str | None) -> Build:
        state = BuildState.SUCCEEDED if ok else BuildState.FAILED
        with self.engine.begin() as conn:
            done = conn.execute(
                update(builds).where(builds.c.id == build_id, builds.c.worker == worker,
                                     builds.c.state == BuildState.RUNNING.value)
                .values(state=state.value, finished_at=self.clock(), error=error)
            ).rowcount
        if not done:
            raise Conflict(f"worker {worker!r} does not hold build {build_id}")
        return self.get(build_id)

    def add_log_bytes(self, build_id: int, count: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(builds).where(builds.c.id == build_id)
                         .values(log_bytes=builds.c.log_bytes + count))

    def requeue_worker(self, worker: str) -> int:
        """Put back the builds `worker` was running (it restarted, so it lost them)."""
        with self.engine.begin() as conn:
            return conn.execute(
                update(builds).where(builds.c.worker == worker,
                                     builds.c.state == BuildState.RUNNING.value)
                .values(state=BuildState.QUEUED.value, worker=None, started_at=None)
            ).rowcount
