"""Where an emerge run's time went, read from its own output as it ran.

emerge announces each package it merges (">>> Emerging (2 of 3) cat/pkg-1::repo" from
source, ">>> Emerging binary (1 of 3) cat/pkg-1::repo" from a binary package). The time
before the first announcement is the resolution (and manifest checks); each package's
time runs from its announcement to the next one, or to emerge's end.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

__all__ = ["PHASES", "Mark", "breakdown", "mark_of"]

_EMERGING: Final = re.compile(rb"^>>> Emerging (binary )?\(\d+ of \d+\) (\S+?)(?:::\S+)?\s*$")

# Every phase a build's time is told in, in the order a build goes through them.
PHASES: Final = ("queue", "dependencies", "prepare", "fetch", "resolve", "install_deps",
                 "compile_deps", "compile", "upload", "indexing")


@dataclass(frozen=True)
class Mark:
    at: float
    binary: bool
    cpv: str


def mark_of(line: bytes, at: float) -> Mark | None:
    match = _EMERGING.match(line)
    if match is None:
        return None
    return Mark(at, match.group(1) is not None, match.group(2).decode(errors="replace"))


def breakdown(marks: Sequence[Mark], started: float, ended: float,
              targets: Sequence[str]) -> dict[str, float]:
    """Seconds of resolve, install_deps (binaries), compile_deps (dependencies from
    source) and compile (the packages in `targets`, cat/pkg-version)."""
    phases = {"resolve": (marks[0].at if marks else ended) - started, "install_deps": 0.0,
              "compile_deps": 0.0, "compile": 0.0}
    ends = [m.at for m in marks[1:]] + [ended]
    for mark, end in zip(marks, ends, strict=False):
        spent = end - mark.at
        phase = ("install_deps" if mark.binary
                 else "compile" if mark.cpv in targets else "compile_deps")
        phases[phase] += spent
    return {name: round(max(0.0, seconds), 3) for name, seconds in phases.items()}
