#!/usr/bin/env python3
"""The build queue on SQLite and PostgreSQL, side by side, at 1, 10 and 100 clients.

    .venv/bin/python bench/queue.py [--requests 2000] [--keys 50]

Each client thread sends build requests through binfarm's BuildQueue on a fresh database;
requests cycle over --keys build keys, so most of them merge into an active build (dedup).
Printed: requests accepted per second, and the latency from a request for a new build to
its lease by a worker polling the queue (p50, p95; each client waits for its build's
lease before asking again). Portage resolution (about 0.5 s a
request, in the helper) is left out: these are the queue's own figures.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the standard library's `queue`, which threads need: take its
# directory off the import path before anything imports `queue`.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    del sys.path[0]

import argparse
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from sqlalchemy import insert

from binfarm.db.engine import open_engine
from binfarm.db.scratch import scratch_database
from binfarm.db.tables import profiles
from binfarm.queue.service import BuildQueue, Requester
from binfarm.queue.workers import WorkerRegistry
from binfarm.settings import QueueSettings

CLIENTS = (1, 10, 100)
LATENCY_BUILDS = 100


@contextmanager
def database(kind: str) -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="binfarm-bench-queue-") as tmp, \
            scratch_database(kind, Path(tmp)) as url:
        yield url


def make_queue(url: str) -> BuildQueue:
    engine = open_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(profiles).values(name="laptop", created_at=0, updated_at=0,
                                             info={"chost": "x86_64-pc-linux-gnu"}))
    settings = QueueSettings()
    return BuildQueue(engine, time.time, settings, WorkerRegistry(engine, time.time, settings))


def ask(queue: BuildQueue, key: str, client: int) -> int:
    return queue.request(profile="laptop", atom=key, cpv=f"bench/{key}-1", key=key,
                         required_isa=frozenset(), env={}, priority=0,
                         requester=Requester(f"client-{client}")).id


def throughput(url: str, clients: int, requests: int, keys: int) -> tuple[float, int]:
    queue = make_queue(url)
    per_client = requests // clients

    def client(c: int) -> set[int]:
        return {ask(queue, f"k{(c * per_client + i) % keys}", c) for i in range(per_client)}

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        builds = set().union(*pool.map(client, range(clients)))
    elapsed = time.perf_counter() - started
    queue.engine.dispose()
    return per_client * clients / elapsed, len(builds)


def latency(url: str, clients: int) -> list[float]:
    """Closed loop: each client asks for a new build and waits for its lease, then asks
    again; one worker polls the queue. The wait is pickup time plus the other clients'."""
    queue = make_queue(url)
    worker = queue.workers.register("bench", "x86_64", frozenset(), 1)
    leased: dict[int, threading.Event] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def lease_loop() -> None:
        while not stop.is_set():
            build = queue.lease(worker)
            if build is None:
                time.sleep(0.001)
                continue
            with lock:
                leased.setdefault(build.id, threading.Event()).set()

    def client(c: int) -> list[float]:
        waits = []
        for i in range(c, LATENCY_BUILDS, clients):
            at = time.perf_counter()
            build_id = ask(queue, f"new{i}", c)
            with lock:
                event = leased.setdefault(build_id, threading.Event())
            event.wait(60)
            waits.append(time.perf_counter() - at)
        return waits

    leaser = threading.Thread(target=lease_loop)
    leaser.start()
    with ThreadPoolExecutor(clients) as pool:
        waited = [w for waits in pool.map(client, range(clients)) for w in waits]
    stop.set()
    leaser.join()
    queue.engine.dispose()
    return waited


def ms(values: list[float], q: Callable[[list[float]], float]) -> str:
    return f"{q(values) * 1000:8.1f}" if values else "       -"


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--keys", type=int, default=50)
    args = parser.parse_args()
    print(f"{args.requests} requests over {args.keys} keys per run; latency over "
          f"{LATENCY_BUILDS} new builds")
    print(f"{'clients':>7}  {'SQLite req/s':>12} {'builds':>6} {'p50 ms':>8} {'p95 ms':>8}"
          f"   {'PostgreSQL req/s':>16} {'builds':>6} {'p50 ms':>8} {'p95 ms':>8}")
    for clients in CLIENTS:
        row = [f"{clients:>7} "]
        for kind in ("sqlite", "postgresql"):
            with database(kind) as url:
                rate, builds = throughput(url, clients, args.requests, args.keys)
            with database(kind) as url:
                waited = latency(url, clients)
            width = 12 if kind == "sqlite" else 16
            row.append(f" {rate:>{width}.0f} {builds:>6} {ms(waited, statistics.median)} "
                       f"{ms(waited, p95)}  ")
        print("".join(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
