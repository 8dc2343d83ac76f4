"""Build states and backoff (pure)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ACTIVE", "FINAL", "BuildState", "backoff_s"]


class BuildState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE = frozenset({BuildState.QUEUED, BuildState.RUNNING})
FINAL = frozenset({BuildState.SUCCEEDED, BuildState.FAILED, BuildState.CANCELLED})


def backoff_s(attempt: int, *, base_s: float, cap_s: float, jitter: float) -> float:
    """Delay before retry number `attempt` (1, 2, ...): doubling, capped, with jitter in
    [0, 1) spreading it over its upper half so that retries do not move in step."""
    delay = min(cap_s, base_s * 2 ** max(attempt - 1, 0))
    return delay * (0.5 + jitter / 2)
