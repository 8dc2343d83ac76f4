"""The workers the farm knows: what they can build, when last seen, whether benched."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from binfarm.db.tables import workers
from binfarm.errors import found
from binfarm.settings import QueueSettings

__all__ = ["WorkerInfo", "WorkerRegistry", "WorkerState"]


@dataclass(frozen=True)
class WorkerInfo:
    name: str
    arch: str
    cpu_features: frozenset[str]
    slots: int
    last_seen_at: float
    consecutive_failures: int
    benched_until: float | None
    chroot: bool = False
    compiler: str | None = None
    bench_reason: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> WorkerInfo:
        return cls(row.name, row.arch, frozenset(row.cpu_features), row.slots, row.last_seen_at,
                   row.consecutive_failures, row.benched_until, bool(row.chroot), row.compiler,
                   row.bench_reason)

    def benched(self, now: float) -> bool:
        return self.benched_until is not None and self.benched_until > now

    def state(self, now: float, offline_after_s: float, running: int) -> WorkerState:
        """One word for the dashboard and the metrics; benched wins over offline."""
        if self.benched(now):
            return WorkerState.BENCHED
        if now - self.last_seen_at > offline_after_s:
            return WorkerState.OFFLINE
        return WorkerState.BUSY if running else WorkerState.IDLE


class WorkerState(StrEnum):
    BUSY = "busy"
    IDLE = "idle"
    OFFLINE = "offline"
    BENCHED = "benched"


class WorkerRegistry:
    def __init__(self, engine: Engine, clock: Callable[[], float],
                 settings: QueueSettings) -> None:
        self.engine = engine
        self.clock = clock
        self.settings = settings

    @property
    def offline_after_s(self) -> float:
        """Silent this long, a worker counts as offline: three missed lease renewals."""
        return self.settings.lease_ttl_s * 3

    def register(self, name: str, arch: str, cpu_features: frozenset[str],
                 slots: int, *, chroot: bool = False,
                 compiler: str | None = None) -> WorkerInfo:
        """Record a worker (again): a re-registration keeps its failure record."""
        now = self.clock()
        values = {"arch": arch, "cpu_features": sorted(cpu_features), "slots": slots,
                  "chroot": chroot, "compiler": compiler, "last_seen_at": now}
        with self.engine.begin() as conn:
            if conn.execute(update(workers).where(workers.c.name == name)
                            .values(**values)).rowcount == 0:
                conn.execute(insert(workers).values(name=name, registered_at=now,
                                                    consecutive_failures=0, **values))
        return self.get(name)

    def get(self, name: str) -> WorkerInfo:
        with self.engine.connect() as conn:
            row = conn.execute(select(workers).where(workers.c.name == name)).first()
        return WorkerInfo.from_row(found(row, f"no worker {name!r}: it must register first"))

    def list(self) -> list[WorkerInfo]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(workers).order_by(workers.c.name))
            return [WorkerInfo.from_row(row) for row in rows]

    def compilers(self) -> set[str]:
        """The gcc of every worker that said which it runs."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(workers.c.compiler).where(workers.c.compiler.is_not(None)))
            return {row.compiler for row in rows}

    def touch(self, name: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(workers).where(workers.c.name == name)
                         .values(last_seen_at=self.clock()))

    def record(self, conn: Connection, name: str | None, *, ok: bool, what: str = "") -> None:
        """Count a build outcome in the caller's transaction; bench after a run of failures,
        saying why (`what`: the last failure)."""
        if name is None:
            return
        if ok:
            conn.execute(update(workers).where(workers.c.name == name)
                         .values(consecutive_failures=0))
            return
        row = conn.execute(select(workers.c.consecutive_failures)
                           .where(workers.c.name == name)).first()
        if row is None:
            return
        failures = row.consecutive_failures + 1
        values: dict[str, Any] = {"consecutive_failures": failures}
        if failures >= self.settings.bench_after:
            values.update(benched_until=self.clock() + self.settings.bench_s,
                          consecutive_failures=0,
                          bench_reason=f"{failures} failures in a row, the last: {what}")
        conn.execute(update(workers).where(workers.c.name == name).values(**values))
