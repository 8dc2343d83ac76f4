"""The build queue on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Engine, insert

from binfarm.db.tables import profiles
from binfarm.errors import Conflict, NotFound
from binfarm.queue.rules import BuildState
from binfarm.queue.service import BuildQueue


@pytest.fixture
def queue(engine: Engine) -> BuildQueue:
    with engine.begin() as conn:
        for name in ("desktop", "laptop"):
            conn.execute(insert(profiles).values(name=name, info={}, created_at=0, updated_at=0))
    return BuildQueue(engine, time.time)


def test_an_identical_request_joins_the_active_build(queue: BuildQueue) -> None:
    first = queue.request("laptop", "hello", "app-misc/hello-1.0", "k1")
    again = queue.request("laptop", "app-misc/hello", "app-misc/hello-1.0", "k1")
    same_key_elsewhere = queue.request("desktop", "hello", "app-misc/hello-1.0", "k1")
    other_key = queue.request("desktop", "hello", "app-misc/hello-1.0", "k2")
    assert again.id == first.id == same_key_elsewhere.id
    assert other_key.id != first.id
    leased = queue.lease("w1")
    assert leased is not None and leased.id == first.id
    assert queue.request("laptop", "hello", "app-misc/hello-1.0", "k1").id == first.id
    queue.finish(first.id, "w1", ok=True, error=None)
    assert queue.request("laptop", "hello", "app-misc/hello-1.0", "k1").id != first.id


def test_each_build_is_leased_once_under_contention(queue: BuildQueue) -> None:
    ids = {queue.request("laptop", f"p{i}", f"app-misc/p{i}-1", f"k{i}").id for i in range(20)}
    leased: list[int] = []
    lock = threading.Lock()

    def take(worker: str) -> None:
        while (build := queue.lease(worker)) is not None:
            with lock:
                leased.append(build.id)

    threads = [threading.Thread(target=take, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(leased) == sorted(ids)


def test_only_the_lease_holder_finishes(queue: BuildQueue) -> None:
    build = queue.request("laptop", "hello", "app-misc/hello-1.0", "k1")
    with pytest.raises(Conflict):
        queue.finish(build.id, "w1", ok=True, error=None)  # not leased yet
    queue.lease("w1")
    with pytest.raises(Conflict):
        queue.check_lease(build.id, "intruder")
    done = queue.finish(build.id, "w1", ok=False, error="emerge exited with status 1")
    assert done.state == BuildState.FAILED and done.error
    with pytest.raises(NotFound):
        queue.get(9999)


def test_a_restarted_worker_gives_its_builds_back(queue: BuildQueue) -> None:
    build = queue.request("laptop", "hello", "app-misc/hello-1.0", "k1")
    queue.lease("embedded")
    assert queue.requeue_worker("embedded") == 1
    again = queue.get(build.id)
    assert again.state == BuildState.QUEUED and again.worker is None
