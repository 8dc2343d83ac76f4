"""Why a queued build waits, from the queue's state (queue/waiting.py)."""

from __future__ import annotations

import pytest

from binfarm.queue.rules import BuildState
from binfarm.queue.waiting import Needs, Waiting, wait_reason
from binfarm.queue.workers import WorkerInfo

NOW = 1_800_000_000.0
HASWELL = frozenset({"sse2", "avx", "avx2", "bmi2", "hle", "rtm"})
NO_TSX = HASWELL - {"hle", "rtm"}
NEEDS_HASWELL = Needs("x86_64", HASWELL, False)


def worker(name: str = "embedded", features: frozenset[str] = NO_TSX, *, arch: str = "x86_64",
           chroot: bool = False, benched_until: float | None = None, slots: int = 1
           ) -> WorkerInfo:
    return WorkerInfo(name, arch, features, slots, NOW, 0, benched_until, chroot)


def reason(*workers: WorkerInfo, needs: Needs = NEEDS_HASWELL,
           running: dict[str, int] | None = None, **build: object) -> Waiting | None:
    fields: dict[str, object] = {"state": BuildState.QUEUED, "not_before": None,
                                 "attempts": 0, "after": {}, **build}
    return wait_reason(needs=needs, workers=list(workers), running=running or {}, now=NOW,
                       **fields)  # type: ignore[arg-type]


def test_a_cpu_without_tsx_is_named_with_what_it_lacks() -> None:
    said = reason(worker(), worker("big", HASWELL - {"rtm"}))
    assert said == Waiting("no registered worker's CPU can run it: it needs avx, avx2, bmi2, "
                           "hle, rtm, sse2; big lacks rtm; embedded lacks hle, rtm", stuck=True)


@pytest.mark.parametrize(("workers", "needs", "expected"), [
    ((), Needs("x86_64", frozenset(), False), "no worker is registered"),
    ((worker(arch="aarch64"),), Needs("x86_64", frozenset(), False),
     "no registered worker builds for x86_64 (workers: aarch64)"),
    ((worker(),), Needs("x86_64", frozenset({"sse2"}), True),
     "no worker that could run it can enter a chroot root"),
])
def test_a_build_no_worker_could_ever_take_is_stuck(workers: tuple[WorkerInfo, ...],
                                                     needs: Needs, expected: str) -> None:
    said = reason(*workers, needs=needs)
    assert said is not None and said.stuck and said.reason.startswith(expected)


def test_backoff_dependencies_bench_and_busy_are_said_in_that_order() -> None:
    fits = worker(features=HASWELL)
    said = reason(fits, not_before=NOW + 60, attempts=2, after={7: BuildState.RUNNING})
    assert said is not None and not said.stuck
    assert said.reason.startswith("backoff until ") and said.reason.endswith(" after attempt 2")
    said = reason(fits, after={7: BuildState.RUNNING, 5: BuildState.SUCCEEDED})
    assert said == Waiting("waiting for build 7 (running)")
    said = reason(worker(features=HASWELL, benched_until=NOW + 600))
    assert said is not None and said.reason.startswith("every worker that could run it is "
                                                       "benched, the first until ")
    assert reason(fits, running={"embedded": 1}) == \
        Waiting("every worker that could run it is busy (embedded)")
    ready = reason(fits, worker("spare", HASWELL, slots=2), running={"embedded": 1,
                                                                     "spare": 1})
    assert ready is not None and ready.reason.startswith("ready: ")


def test_only_a_queued_build_waits() -> None:
    assert reason(worker(), state=BuildState.RUNNING) is None
