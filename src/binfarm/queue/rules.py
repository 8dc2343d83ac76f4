"""Build states, the environment a request may override, and backoff (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Final

from binfarm.errors import InvalidInput

__all__ = ["ACTIVE", "ALLOWED_ENV", "FINAL", "BuildState", "backoff_s", "check_env"]


class BuildState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE = frozenset({BuildState.QUEUED, BuildState.RUNNING})
FINAL = frozenset({BuildState.SUCCEEDED, BuildState.FAILED, BuildState.CANCELLED})

# What a request may set for its build, as `cq -E` did: what shapes the binary or the run.
ALLOWED_ENV: Final = frozenset({
    "USE", "CFLAGS", "CXXFLAGS", "FFLAGS", "FCFLAGS", "LDFLAGS", "CPU_FLAGS_X86", "FEATURES",
    "MAKEOPTS", "ACCEPT_KEYWORDS", "ACCEPT_LICENSE",
})
_VALUE: Final = re.compile(r"^[^\x00-\x1f\x7f]{0,4096}$")


def check_env(env: Mapping[str, str]) -> dict[str, str]:
    """The overrides, if every name is allowed and every value is one printable line."""
    refused = sorted(set(env) - ALLOWED_ENV)
    if refused:
        raise InvalidInput(f"cannot override {', '.join(refused)}: a build takes only "
                           f"{', '.join(sorted(ALLOWED_ENV))}")
    for name, value in env.items():
        if not _VALUE.match(value):
            raise InvalidInput(f"{name}: a value is one printable line of at most 4096 bytes")
    return dict(sorted(env.items()))


def backoff_s(attempt: int, *, base_s: float, cap_s: float, jitter: float) -> float:
    """Delay before retry number `attempt` (1, 2, ...): doubling, capped, with jitter in
    [0, 1) spreading it over its upper half so that retries do not move in step."""
    delay = min(cap_s, base_s * 2 ** max(attempt - 1, 0))
    return delay * (0.5 + jitter / 2)
