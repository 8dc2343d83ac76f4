"""Build states and which moves between them are allowed (pure)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ACTIVE", "FINAL", "BuildState"]


class BuildState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE = frozenset({BuildState.QUEUED, BuildState.RUNNING})
FINAL = frozenset({BuildState.SUCCEEDED, BuildState.FAILED, BuildState.CANCELLED})
