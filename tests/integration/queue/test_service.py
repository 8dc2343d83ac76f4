"""The build queue on SQLite and PostgreSQL, with a clock the test moves."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine, insert

from binfarm.db.tables import build_roots, profiles
from binfarm.errors import Conflict, NotFound
from binfarm.queue.rules import BuildState, backoff_s
from binfarm.queue.service import Build, BuildQueue, Requester
from binfarm.queue.workers import WorkerInfo, WorkerRegistry
from binfarm.settings import QueueSettings
from tests.integration.conftest import Clock

V2 = frozenset({"sse2", "sse4.2", "popcnt"})
V3 = V2 | {"avx2"}


@pytest.fixture
def queue(engine: Engine, clock: Clock) -> BuildQueue:
    with engine.begin() as conn:
        for name in ("desktop", "laptop"):
            conn.execute(insert(profiles).values(name=name, info={"chost": "x86_64-pc-linux-gnu"},
                                                 created_at=0, updated_at=0))
    settings = QueueSettings(lease_ttl_s=60, retry_base_s=10, retry_max_s=100, max_attempts=3,
                             bench_after=2, bench_s=600)
    registry = WorkerRegistry(engine, clock, settings)
    return BuildQueue(engine, clock, settings, registry, jitter=lambda: 1.0)


def worker(queue: BuildQueue, name: str, cpu: frozenset[str] = V3) -> WorkerInfo:
    return queue.workers.register(name, "x86_64", cpu, 1)


def ask(queue: BuildQueue, cpv: str, key: str, *, who: str = "alice", profile: str = "laptop",
        priority: int = 0, needs: frozenset[str] = V2, webhook: str | None = None,
        after: tuple[int, ...] = ()) -> Build:
    return queue.request(profile=profile, atom=cpv, cpv=cpv, key=key, required_isa=needs,
                         env={}, priority=priority, requester=Requester(who, None, webhook),
                         after=after)


def test_an_identical_request_joins_the_active_build(queue: BuildQueue) -> None:
    first = ask(queue, "app-misc/hello-1.0", "k1", who="alice")
    again = ask(queue, "app-misc/hello-1.0", "k1", who="bob", profile="desktop")
    other = ask(queue, "app-misc/hello-1.0", "k2")
    assert again.id == first.id and other.id != first.id
    assert queue.requester_count(first.id) == 2
    w = worker(queue, "w1")
    assert queue.lease(w).id == first.id
    assert ask(queue, "app-misc/hello-1.0", "k1").id == first.id  # running: still joined
    queue.finish(first.id, "w1", ok=True, error=None)
    assert ask(queue, "app-misc/hello-1.0", "k1").id != first.id  # ended: a new build


def test_concurrent_identical_requests_make_one_build(queue: BuildQueue) -> None:
    ids: list[int] = []
    lock = threading.Lock()

    def request(i: int) -> None:
        build = ask(queue, f"app-misc/p{i % 3}-1", f"race{i % 3}", who=f"client{i}")
        with lock:
            ids.append(build.id)

    threads = [threading.Thread(target=request, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 3
    assert sorted(queue.requester_count(i) for i in set(ids)) == [8, 8, 8]


def test_priority_first_then_fair_between_requesters(queue: BuildQueue) -> None:
    flood = [ask(queue, f"app-misc/p{i}-1", f"flood{i}", who="flooder") for i in range(20)]
    single = ask(queue, "app-misc/single-1", "single", who="patient")
    urgent = ask(queue, "app-misc/urgent-1", "urgent", who="flooder", priority=10)
    w = worker(queue, "w1")
    order = []
    while (build := queue.lease(w)) is not None:
        order.append(build.id)
        queue.finish(build.id, "w1", ok=True, error=None)
    assert order[0] == urgent.id  # priority first
    assert order.index(single.id) <= 2  # not behind the flooder's twenty
    assert sorted(order) == sorted([b.id for b in flood] + [single.id, urgent.id])


def test_a_raised_priority_moves_a_joined_build_up(queue: BuildQueue) -> None:
    low = ask(queue, "app-misc/a-1", "a")
    ask(queue, "app-misc/b-1", "b", priority=5)
    assert ask(queue, "app-misc/a-1", "a", priority=50).priority == 50
    assert queue.lease(worker(queue, "w1")).id == low.id


def test_each_build_is_leased_once_under_contention(queue: BuildQueue) -> None:
    ids = {ask(queue, f"app-misc/p{i}-1", f"k{i}").id for i in range(20)}
    leased: list[int] = []
    lock = threading.Lock()

    def take(name: str) -> None:
        w = worker(queue, name)
        while (build := queue.lease(w)) is not None:
            with lock:
                leased.append(build.id)

    threads = [threading.Thread(target=take, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(leased) == sorted(ids)


def test_a_worker_only_gets_what_its_cpu_runs(queue: BuildQueue) -> None:
    build = ask(queue, "app-misc/fastcalc-1.0", "avx2", needs=V3)
    assert queue.lease(worker(queue, "small", V2)) is None
    assert queue.lease(worker(queue, "big", V3)).id == build.id


def test_a_lapsed_lease_is_retried_with_backoff_then_failed(queue: BuildQueue,
                                                            clock: Clock) -> None:
    build = ask(queue, "app-misc/hello-1.0", "k", webhook="http://127.0.0.1:9/hook")
    w1, w2 = worker(queue, "w1"), worker(queue, "w2")
    assert queue.lease(w1).id == build.id
    clock.now += 30
    queue.heartbeat(build.id, "w1")  # alive: the lease moves on
    clock.now += 61
    assert queue.lease(w2) is None  # lapsed, requeued, but backing off 10 s
    assert queue.get(build.id).state == BuildState.QUEUED
    with pytest.raises(Conflict):
        queue.heartbeat(build.id, "w1")  # w1 learns it lost the build
    clock.now += 10
    assert queue.lease(w2).id == build.id  # retried elsewhere
    clock.now += 61
    queue.sweep()
    assert queue.get(build.id).attempts == 2
    clock.now += 20  # the second backoff is twice the first
    assert queue.lease(w1).id == build.id
    clock.now += 61
    queue.sweep()
    failed = queue.get(build.id)
    assert failed.state == BuildState.FAILED and "lost by its worker 3 times" in failed.error
    [notice] = queue.due_notices()
    assert notice.payload["status"] == "failed"


def test_a_worker_failing_in_a_row_is_benched(queue: BuildQueue, clock: Clock) -> None:
    w = worker(queue, "flaky")
    for i in range(2):
        build = ask(queue, f"app-misc/p{i}-1", f"k{i}")
        assert queue.lease(w).id == build.id
        queue.finish(build.id, "flaky", ok=False, error="emerge exited with status 1")
    ask(queue, "app-misc/next-1", "next")
    benched = queue.workers.get("flaky")
    assert benched.benched(clock.now)
    assert queue.lease(benched) is None
    clock.now += 601
    assert queue.lease(queue.workers.get("flaky")) is not None


def test_cancel_and_the_notices_it_queues(queue: BuildQueue) -> None:
    queued = ask(queue, "app-misc/a-1", "a", webhook="http://127.0.0.1:9/a")
    running = ask(queue, "app-misc/b-1", "b", webhook="http://127.0.0.1:9/b")
    w = worker(queue, "w1")
    queue.cancel(queued.id)
    assert queue.lease(w).id == running.id
    assert queue.cancel(running.id).state == BuildState.CANCELLED
    with pytest.raises(Conflict):
        queue.heartbeat(running.id, "w1")  # the worker stops emerge
    with pytest.raises(Conflict, match="only a queued or running"):
        queue.cancel(running.id)
    assert {n.payload["status"] for n in queue.due_notices()} == {"cancelled"}
    assert len(queue.due_notices()) == 2
    with pytest.raises(NotFound):
        queue.get(424242)


def test_a_server_restart_gives_running_builds_time_to_report(queue: BuildQueue,
                                                              clock: Clock) -> None:
    build = ask(queue, "app-misc/a-1", "a")
    queue.lease(worker(queue, "w1"))
    clock.now += 300  # the server was down far longer than the lease
    assert queue.extend_leases(60) == 1
    queue.sweep()
    assert queue.finish(build.id, "w1", ok=True, error=None).state == BuildState.SUCCEEDED


def test_backoff_doubles_and_is_capped() -> None:
    delays = [backoff_s(n, base_s=5, cap_s=60, jitter=1.0) for n in range(1, 7)]
    assert delays == [5, 10, 20, 40, 60, 60]
    assert backoff_s(1, base_s=5, cap_s=60, jitter=0.0) == 2.5


def test_a_build_waits_for_the_builds_it_needs(queue: BuildQueue) -> None:
    lib = ask(queue, "dev-libs/libgreet-1.0", "lib")
    app = ask(queue, "app-misc/hello-1.0", "app", who="plan", priority=10, after=(lib.id,))
    w = worker(queue, "w1")
    assert queue.lease(w).id == lib.id  # despite the app's higher priority
    assert queue.lease(w) is None  # the app waits for the library's binary
    queue.finish(lib.id, "w1", ok=True, error=None)
    assert queue.lease(w).id == app.id


def test_a_build_whose_dependency_failed_fails_too(queue: BuildQueue) -> None:
    lib = ask(queue, "dev-libs/libgreet-1.0", "lib")
    app = ask(queue, "app-misc/hello-1.0", "app", who="plan", after=(lib.id,))
    w = worker(queue, "w1")
    queue.lease(w)
    queue.finish(lib.id, "w1", ok=False, error="emerge exited with status 1")
    assert queue.lease(w) is None
    failed = queue.get(app.id)
    assert failed.state == BuildState.FAILED
    assert failed.error == f"dependency build {lib.id} did not succeed"


def test_only_a_worker_that_can_enter_chroot_roots_gets_their_builds(
        queue: BuildQueue, engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(build_roots).values(profile="desktop", digest="0" * 64, size=1,
                                                source="stage3", generation=0, created_at=0,
                                                updated_at=0))
    chroot_build = ask(queue, "app-misc/hello-1.0", "k-root", profile="desktop")
    prefix_build = ask(queue, "app-misc/tool-1.0", "k-prefix", profile="laptop")
    plain = worker(queue, "plain")
    assert queue.lease(plain).id == prefix_build.id
    assert queue.lease(plain) is None
    able = queue.workers.register("able", "x86_64", V3, 1, chroot=True)
    assert able.chroot and not plain.chroot
    assert queue.lease(able).id == chroot_build.id
