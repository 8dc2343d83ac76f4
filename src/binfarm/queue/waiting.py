"""Why a queued build is not running, said from the queue's own state.

The lease query (service._candidates) and these reasons apply the same rules: a worker
takes a build when its architecture is the profile's, its CPU has every extension the
build needs, it can enter a chroot root when the profile has one, it is not benched,
it has a free slot, the build's backoff is over and the builds it waits for succeeded.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from binfarm.queue.rules import BuildState
from binfarm.queue.workers import WorkerInfo

__all__ = ["Needs", "Waiting", "never_reason", "wait_reason"]


@dataclass(frozen=True)
class Needs:
    """What a build asks of the worker that runs it."""

    arch: str
    isa: frozenset[str]
    chroot: bool


@dataclass(frozen=True)
class Waiting:
    reason: str
    # No registered worker could ever take the build as things are (a worker must come).
    stuck: bool = False


def never_reason(needs: Needs, workers: Sequence[WorkerInfo]) -> str | None:
    """Why no registered worker could ever run such a build, or None if one could."""
    if not workers:
        return "no worker is registered"
    same_arch = [w for w in workers if w.arch == needs.arch]
    if not same_arch:
        return (f"no registered worker builds for {needs.arch} (workers: "
                f"{', '.join(sorted({w.arch for w in workers}))})")
    cpu_fits = [w for w in same_arch if needs.isa <= w.cpu_features]
    if not cpu_fits:
        lacking = sorted(same_arch, key=lambda w: (len(needs.isa - w.cpu_features), w.name))
        said = "; ".join(f"{w.name} lacks {', '.join(sorted(needs.isa - w.cpu_features))}"
                         for w in lacking[:3])
        return (f"no registered worker's CPU can run it: it needs "
                f"{', '.join(sorted(needs.isa))}; {said}")
    if needs.chroot and not any(w.chroot for w in cpu_fits):
        return ("no worker that could run it can enter a chroot root (it needs bubblewrap "
                "and root: binfarm worker on such a machine)")
    return None


def wait_reason(*, needs: Needs, state: BuildState, not_before: float | None, attempts: int,
                after: Mapping[int, BuildState], workers: Sequence[WorkerInfo],
                running: Mapping[str, int], now: float) -> Waiting | None:
    """Why a build is queued and not running; None for a build that is not queued."""
    if state != BuildState.QUEUED:
        return None
    if (never := never_reason(needs, workers)) is not None:
        return Waiting(never, stuck=True)
    if not_before is not None and not_before > now:
        return Waiting(f"backoff until {time.strftime('%H:%M:%S', time.localtime(not_before))}"
                       f" after attempt {attempts}")
    for build_id, waited in sorted(after.items()):
        if waited != BuildState.SUCCEEDED:
            return Waiting(f"waiting for build {build_id} ({waited})")
    fitting = [w for w in workers if w.arch == needs.arch and needs.isa <= w.cpu_features
               and (w.chroot or not needs.chroot)]
    ready = [w for w in fitting if not w.benched(now)]
    if not ready:
        until = min(w.benched_until or now for w in fitting)
        return Waiting(f"every worker that could run it is benched, the first until "
                       f"{time.strftime('%H:%M:%S', time.localtime(until))}")
    if all(running.get(w.name, 0) >= w.slots for w in ready):
        return Waiting(f"every worker that could run it is busy "
                       f"({', '.join(w.name for w in ready)})")
    return Waiting("ready: a worker with a free slot takes it at its next lease "
                   "(higher priority first)")
