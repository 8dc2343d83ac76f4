"""FarmMetrics: what `GET /metrics` exposes, in Prometheus' own format (prometheus_client).

Gauges, and the counts the database already keeps (builds finished, leases lost), are read
from the database at scrape time, so they are right after a restart and with several
servers on one database. Events only one process sees (requests answered, binhost traffic,
durations) are counters and histograms updated where they happen; Prometheus expects such
counters to restart with the process. Base units, `_total` counters, and no label that
grows without bound (no package, build id or host name; workers and profiles are few).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client import Counter as PromCounter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from binfarm import __version__
from binfarm.hosts.enrollment import HostState
from binfarm.queue.rules import BuildState
from binfarm.queue.workers import WorkerState

if TYPE_CHECKING:  # the collector reads through Farm; Farm owns the metrics
    from binfarm.farm import Farm

__all__ = ["FarmMetrics"]

_FINAL = {"succeeded": "success", "failed": "failure", "cancelled": "cancelled"}
_DURATION_BUCKETS = (10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 43200)
_WAIT_BUCKETS = (0.1, 1, 5, 15, 30, 60, 300, 900, 1800, 3600, 7200, 21600)


class FarmMetrics:
    def __init__(self, farm: Farm, clock: Callable[[], float] = time.time) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = PromCounter(
            "binfarm_build_requests", "Packages asked for, by what became of them.",
            ["outcome"], registry=self.registry)
        self.binhost_requests = PromCounter(
            "binfarm_binhost_requests", "Binhost GETs served, by profile and kind.",
            ["profile", "kind"], registry=self.registry)
        self.binhost_bytes = PromCounter(
            "binfarm_binhost_sent_bytes", "Bytes of package files and indexes served.",
            ["profile"], registry=self.registry)
        self.requeues = PromCounter(
            "binfarm_build_requeues", "Ended builds an admin queued again (a lost lease is "
            "retried by itself: binfarm_lease_expirations_total).", ["profile"],
            registry=self.registry)
        self.build_duration = Histogram(
            "binfarm_build_duration_seconds", "Builds from lease to end.",
            ["profile", "result"], buckets=_DURATION_BUCKETS, registry=self.registry)
        self.queue_wait = Histogram(
            "binfarm_queue_wait_seconds", "Builds from request to lease.", ["profile"],
            buckets=_WAIT_BUCKETS, registry=self.registry)
        self.registry.register(_FromDatabase(farm, clock))

    def build_finished(self, profile: str, state: str, requested_at: float,
                       started_at: float | None, finished_at: float | None) -> None:
        if started_at is None or finished_at is None:
            return
        self.build_duration.labels(profile, _FINAL.get(state, state)).observe(
            max(0.0, finished_at - started_at))
        self.queue_wait.labels(profile).observe(max(0.0, started_at - requested_at))


class _FromDatabase(Collector):
    def __init__(self, farm: Farm, clock: Callable[[], float]) -> None:
        self.farm = farm
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        now = self.clock()
        info = GaugeMetricFamily("binfarm_build_info", "The farm's version.",
                                 labels=["version"])
        info.add_metric([__version__], 1)
        yield info
        yield from self._queue(now)
        yield from self._workers(now)
        yield from self._store()
        yield from self._hosts(now)
        yield from self._distcc()

    def _queue(self, now: float) -> Iterator[Metric]:
        depth = GaugeMetricFamily("binfarm_queue_builds", "Builds queued or running.",
                                  labels=["profile", "state"])
        oldest = GaugeMetricFamily("binfarm_queue_oldest_age_seconds",
                                   "How long the oldest queued or running build was asked "
                                   "for.", labels=["profile", "state"])
        finished = CounterMetricFamily("binfarm_builds_finished", "Builds that ended.",
                                       labels=["profile", "result"])
        lost = CounterMetricFamily("binfarm_lease_expirations", "Leases lost (a worker "
                                   "stopped answering) and retried or failed.",
                                   labels=["profile"])
        lost_by: Counter[str] = Counter()
        for profile, state, count, first, attempts in self.farm.queue.tally():
            lost_by[profile] += attempts
            if state in _FINAL:
                finished.add_metric([profile, _FINAL[state]], count)
            else:
                depth.add_metric([profile, state], count)
                oldest.add_metric([profile, state], max(0.0, now - first))
        for profile, count in sorted(lost_by.items()):
            lost.add_metric([profile], count)
        yield from (depth, oldest, finished, lost)

    def _workers(self, now: float) -> Iterator[Metric]:
        running = Counter(b.worker for b in self.farm.queue.list(
            10_000, states=frozenset({BuildState.RUNNING})))
        states = GaugeMetricFamily("binfarm_workers", "Workers by state.", labels=["state"])
        slots = GaugeMetricFamily("binfarm_worker_slots", "Build slots of each worker.",
                                  labels=["worker", "state"])
        age = GaugeMetricFamily("binfarm_worker_heartbeat_age_seconds",
                                "Since each worker last called the farm.", labels=["worker"])
        failures = GaugeMetricFamily("binfarm_worker_consecutive_failures",
                                     "Failed builds in a row.", labels=["worker"])
        by_state: Counter[str] = Counter({s.value: 0 for s in WorkerState})
        for worker in self.farm.workers.list():
            busy = running.get(worker.name, 0)
            by_state[worker.state(now, self.farm.workers.offline_after_s, busy)] += 1
            slots.add_metric([worker.name, "busy"], busy)
            slots.add_metric([worker.name, "free"], max(0, worker.slots - busy))
            age.add_metric([worker.name], max(0.0, now - worker.last_seen_at))
            failures.add_metric([worker.name], worker.consecutive_failures)
        for state, count in sorted(by_state.items()):
            states.add_metric([state], count)
        yield from (states, slots, age, failures)

    def _store(self) -> Iterator[Metric]:
        objects = GaugeMetricFamily("binfarm_store_objects", "Binary packages stored.")
        size = GaugeMetricFamily("binfarm_store_size_bytes", "Bytes of binary packages stored.")
        alive = self.farm.catalog.alive()
        objects.add_metric([], len(alive))
        size.add_metric([], sum(i.size for i in alive))
        yield from (objects, size)

    def _hosts(self, now: float) -> Iterator[Metric]:
        hosts = GaugeMetricFamily("binfarm_hosts", "Fleet machines: current, outdated (the "
                                  "profile has newer versions), silent for a day, or never "
                                  "reported.", labels=["state"])
        by_state: Counter[str] = Counter({s.value: 0 for s in HostState})
        by_state.update(state.value for _h, state, _o in self.farm.enrollment.states(now))
        for state, count in sorted(by_state.items()):
            hosts.add_metric([state], count)
        yield hosts

    def _distcc(self) -> Iterator[Metric]:
        slots = GaugeMetricFamily("binfarm_distcc_slots", "distcc host slots by state.",
                                  labels=["state"])
        leased = len(self.farm.distcc_slots.leased())
        usable = sum(h.slots for h in self.farm.distcc_slots.list() if h.usable)
        down = sum(h.slots for h in self.farm.distcc_slots.list() if not h.usable)
        for state, count in (("busy", leased), ("free", max(0, usable - leased)),
                             ("down", down)):
            slots.add_metric([state], count)
        yield slots
