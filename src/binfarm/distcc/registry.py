"""The farm's distcc hosts, their leased slots and what builds compile on them (server side).

A leased slot is a row whose primary key is (host, slot number below the host's slots), so
no host is ever handed out beyond its slots, by any number of servers. A lease lives as
long as its build runs on the worker that took it: rows whose build ended, died or lost
its lease are swept before every lease and every read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, exists, insert, select, update
from sqlalchemy.exc import IntegrityError

from binfarm.db.tables import builds, distcc_activity, distcc_hosts, distcc_slots
from binfarm.distcc.model import HostAddress, HostState, SlotGrant
from binfarm.errors import Conflict, found

__all__ = ["DistccHost", "DistccRegistry", "LeasedSlot"]

_ATTEMPTS = 5


@dataclass(frozen=True)
class DistccHost:
    name: str
    address: str
    port: int
    slots: int
    state: HostState
    draining: bool
    reason: str | None
    compiler: str | None
    compilers: tuple[str, ...]
    warning: str | None
    added_at: float
    probed_at: float | None
    stats: Mapping[str, str] | None
    stats_at: float | None

    @classmethod
    def from_row(cls, row: Any) -> DistccHost:
        return cls(row.name, row.address, row.port, row.slots, HostState(row.state),
                   bool(row.draining), row.reason, row.compiler, tuple(row.compilers or ()),
                   row.warning, row.added_at, row.probed_at, row.stats, row.stats_at)

    @property
    def usable(self) -> bool:
        return self.state == HostState.UP and not self.draining


@dataclass(frozen=True)
class LeasedSlot:
    host: str
    slot: int
    build: int
    worker: str
    leased_at: float


class DistccRegistry:
    def __init__(self, engine: Engine, clock: Callable[[], float]) -> None:
        self.engine = engine
        self.clock = clock

    def add(self, host: HostAddress, slots: int, *, state: HostState, reason: str | None,
            compiler: str | None, compilers: Sequence[str], warning: str | None) -> DistccHost:
        now = self.clock()
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(distcc_hosts).values(
                    name=host.name, address=host.address, port=host.port, slots=slots,
                    state=state.value, draining=False, reason=reason, compiler=compiler,
                    compilers=list(compilers), warning=warning, added_at=now, probed_at=now))
        except IntegrityError as exc:
            raise Conflict(f"distcc host {host.name} is already registered") from exc
        return self.get(host.name)

    def find(self, name: str) -> DistccHost | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(distcc_hosts).where(distcc_hosts.c.name == name)).first()
        return DistccHost.from_row(row) if row else None

    def get(self, name: str) -> DistccHost:
        return found(self.find(name), f"no distcc host {name!r}")

    def list(self) -> list[DistccHost]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(distcc_hosts).order_by(distcc_hosts.c.name))
            return [DistccHost.from_row(row) for row in rows]

    def set_draining(self, name: str, draining: bool) -> DistccHost:
        self.get(name)
        with self.engine.begin() as conn:
            conn.execute(update(distcc_hosts).where(distcc_hosts.c.name == name)
                         .values(draining=draining))
        return self.get(name)

    def remove(self, name: str) -> DistccHost:
        host = self.get(name)
        with self.engine.begin() as conn:
            conn.execute(delete(distcc_slots).where(distcc_slots.c.host == name))
            conn.execute(delete(distcc_hosts).where(distcc_hosts.c.name == name))
        return host

    def record_probe(self, name: str, *, state: HostState, reason: str | None,
                     compiler: str | None, compilers: Sequence[str]) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(distcc_hosts).where(distcc_hosts.c.name == name).values(
                state=state.value, reason=reason, compiler=compiler,
                compilers=list(compilers), probed_at=self.clock()))

    def record_stats(self, name: str, stats: Mapping[str, str] | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(distcc_hosts).where(distcc_hosts.c.name == name)
                         .values(stats=dict(stats) if stats is not None else None,
                                 stats_at=self.clock() if stats is not None else None))

    # -- slots -----------------------------------------------------------------------

    def lease(self, build: int, worker: str, want: int, compiler: str) -> list[SlotGrant]:
        """Up to `want` free slots of the usable hosts running `compiler`, spread over the
        hosts as distcc itself fills them (one slot of each, then a second...)."""
        for attempt in range(_ATTEMPTS):
            try:
                with self.engine.begin() as conn:
                    self._sweep(conn)
                    conn.execute(delete(distcc_slots).where(distcc_slots.c.build == build))
                    return self._lease(conn, build, worker, want, compiler)
            except IntegrityError:
                if attempt == _ATTEMPTS - 1:
                    raise
        return []

    def _lease(self, conn: Connection, build: int, worker: str, want: int,
               compiler: str) -> list[SlotGrant]:
        hosts = [DistccHost.from_row(r) for r in conn.execute(
            select(distcc_hosts).order_by(distcc_hosts.c.name))]
        taken: dict[str, set[int]] = {}
        for row in conn.execute(select(distcc_slots.c.host, distcc_slots.c.slot)):
            taken.setdefault(row.host, set()).add(row.slot)
        free = {h.name: [i for i in range(h.slots) if i not in taken.get(h.name, set())]
                for h in hosts if h.usable and h.compiler == compiler}
        chosen: dict[str, list[int]] = {}
        while want > 0 and any(free.values()):
            for name, slots in free.items():
                if want > 0 and slots:
                    chosen.setdefault(name, []).append(slots.pop(0))
                    want -= 1
        now = self.clock()
        for name, slots in chosen.items():
            conn.execute(insert(distcc_slots), [
                {"host": name, "slot": s, "build": build, "worker": worker, "leased_at": now}
                for s in slots])
        by_name = {h.name: h for h in hosts}
        return [SlotGrant(name, by_name[name].address, by_name[name].port, len(slots))
                for name, slots in chosen.items()]

    def release(self, build: int) -> int:
        with self.engine.begin() as conn:
            conn.execute(delete(distcc_activity).where(distcc_activity.c.build == build))
            return conn.execute(delete(distcc_slots)
                                .where(distcc_slots.c.build == build)).rowcount

    def leased(self) -> list[LeasedSlot]:
        with self.engine.begin() as conn:
            self._sweep(conn)
            rows = conn.execute(select(distcc_slots).order_by(distcc_slots.c.host,
                                                              distcc_slots.c.slot))
            return [LeasedSlot(r.host, r.slot, r.build, r.worker, r.leased_at) for r in rows]

    def _sweep(self, conn: Connection) -> None:
        """Drop the slots and activity of builds that no longer run where they were leased."""
        now = self.clock()
        for table in (distcc_slots, distcc_activity):
            alive = exists().where(and_(builds.c.id == table.c.build,
                                        builds.c.state == "running",
                                        builds.c.worker == table.c.worker,
                                        builds.c.lease_expires_at >= now))
            conn.execute(delete(table).where(~alive))

    # -- activity ----------------------------------------------------------------------

    def report(self, build: int, worker: str, tasks: Sequence[Mapping[str, Any]]) -> None:
        with self.engine.begin() as conn:
            values = {"tasks": [dict(t) for t in tasks], "reported_at": self.clock()}
            if conn.execute(update(distcc_activity).where(and_(
                    distcc_activity.c.build == build, distcc_activity.c.worker == worker))
                    .values(**values)).rowcount == 0:
                conn.execute(delete(distcc_activity).where(distcc_activity.c.build == build))
                conn.execute(insert(distcc_activity).values(build=build, worker=worker,
                                                            **values))

    def activity(self) -> list[tuple[int, str, float, list[dict[str, Any]]]]:
        with self.engine.begin() as conn:
            self._sweep(conn)
            rows = conn.execute(select(distcc_activity).order_by(distcc_activity.c.build))
            return [(r.build, r.worker, r.reported_at, list(r.tasks)) for r in rows]
