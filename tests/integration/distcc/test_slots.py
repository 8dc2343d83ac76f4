"""distcc slot leases on SQLite and PostgreSQL: never more than a host's slots, whoever
asks at once; slots come back when a build ends or its lease lapses."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine, insert

from binfarm.db.tables import profiles
from binfarm.distcc.model import HostState, parse_host
from binfarm.distcc.registry import DistccRegistry
from binfarm.queue.service import Build, BuildQueue, Requester
from binfarm.queue.workers import WorkerRegistry
from binfarm.settings import QueueSettings
from tests.integration.conftest import Clock

GCC = "(Debian 12.2.0-14+deb12u1) 12.2.0"


@pytest.fixture
def queue(engine: Engine, clock: Clock) -> BuildQueue:
    with engine.begin() as conn:
        conn.execute(insert(profiles).values(name="laptop", info={"chost": "x86_64-pc-linux-gnu"},
                                             created_at=0, updated_at=0))
    settings = QueueSettings(lease_ttl_s=60)
    return BuildQueue(engine, clock, settings, WorkerRegistry(engine, clock, settings),
                      jitter=lambda: 1.0)


@pytest.fixture
def registry(engine: Engine, clock: Clock) -> DistccRegistry:
    registry = DistccRegistry(engine, clock)
    for host, slots, state, compiler in (("10.0.0.1", 3, HostState.UP, GCC),
                                         ("10.0.0.2", 2, HostState.UP, GCC),
                                         ("10.0.0.3", 4, HostState.DOWN, GCC),
                                         ("10.0.0.4", 4, HostState.UP, "(Gentoo) 14.1.0")):
        registry.add(parse_host(host), slots, state=state, reason=None, compiler=compiler,
                     compilers=(), warning=None)
    return registry


def running(queue: BuildQueue, count: int) -> list[Build]:
    builds = []
    for i in range(count):
        queue.request(profile="laptop", atom=f"app-misc/p{i}", cpv=f"app-misc/p{i}-1",
                      key=f"k{i}", required_isa=frozenset(), env={}, priority=0,
                      requester=Requester("alice", None, None), after=())
        worker = queue.workers.register(f"w{i}", "x86_64", frozenset(), 1)
        build = queue.lease(worker)
        assert build is not None
        builds.append(build)
    return builds


def test_concurrent_leases_never_exceed_a_hosts_slots(queue: BuildQueue,
                                                      registry: DistccRegistry) -> None:
    builds = running(queue, 8)
    granted: dict[int, int] = {}
    lock = threading.Lock()

    def take(build: Build) -> None:
        grants = registry.lease(build.id, build.worker or "", 2, GCC)
        with lock:
            granted[build.id] = sum(g.slots for g in grants)

    threads = [threading.Thread(target=take, args=(b,)) for b in builds]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Only the two up hosts with the workers' gcc: 3 + 2 slots, each given once.
    assert sum(granted.values()) == 5
    per_host: dict[str, int] = {}
    for slot in registry.leased():
        per_host[slot.host] = per_host.get(slot.host, 0) + 1
    assert per_host == {"10.0.0.1:3632": 3, "10.0.0.2:3632": 2}


def test_slots_spread_over_hosts_and_come_back(queue: BuildQueue, registry: DistccRegistry,
                                               clock: Clock) -> None:
    first, second, third = running(queue, 3)
    grants = registry.lease(first.id, first.worker or "", 3, GCC)
    assert sorted((g.host, g.slots) for g in grants) == [("10.0.0.1:3632", 2),
                                                         ("10.0.0.2:3632", 1)]
    assert sum(g.slots for g in registry.lease(second.id, second.worker or "", 9, GCC)) == 2
    assert registry.lease(third.id, third.worker or "", 1, GCC) == []
    queue.finish(first.id, first.worker or "", ok=True, error=None)
    registry.release(first.id)
    assert sum(g.slots for g in registry.lease(third.id, third.worker or "", 9, GCC)) == 3
    clock.now += 61  # the second and third builds' leases lapse: their slots are free
    assert registry.leased() == []


def test_a_draining_host_is_not_leased(queue: BuildQueue, registry: DistccRegistry) -> None:
    (build,) = running(queue, 1)
    registry.set_draining("10.0.0.1:3632", True)
    grants = registry.lease(build.id, build.worker or "", 9, GCC)
    assert [g.host for g in grants] == ["10.0.0.2:3632"]
