"""Ask this machine's Portage what it would do, and run emerge, in its own environment."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from binfarm.errors import InvalidInput

__all__ = ["BINHOST_OPTIONS", "Plan", "parse_plan", "pretend", "run_emerge"]

BINHOST_OPTIONS: Final = ("--getbinpkg", "--usepkg", "--binpkg-respect-use=y")
_MERGE_LINE: Final = re.compile(r"^\[(ebuild|binary)[^\]]*\]\s+(\S+)", re.MULTILINE)


@dataclass(frozen=True)
class Plan:
    compile: tuple[str, ...]
    binary: tuple[str, ...]


def pretend(args: Sequence[str], *, timeout_s: float) -> Plan:
    """What `emerge ARGS` would merge with the farm's binhost: compiled or from binaries."""
    done = subprocess.run(["emerge", "--pretend", "--color=n", "--nospinner", *BINHOST_OPTIONS,
                           *args], capture_output=True, text=True, timeout=timeout_s,
                          check=False)
    if done.returncode != 0:
        raise InvalidInput(f"Portage cannot do `emerge {' '.join(args)}`:",
                           detail=(done.stdout[-3000:] + done.stderr[-3000:]).strip())
    return parse_plan(done.stdout)


def parse_plan(output: str) -> Plan:
    """What `emerge --pretend` printed it would merge: compiled, or from binaries."""
    compile_, binary = [], []
    for kind, cpv in _MERGE_LINE.findall(output):
        # --verbose writes cat/pf:SLOT/SUBSLOT::repo; a package shown twice is one
        name = cpv.split("::", 1)[0].split(":", 1)[0]
        (compile_ if kind == "ebuild" else binary).append(name)
    return Plan(tuple(dict.fromkeys(compile_)), tuple(dict.fromkeys(binary)))


def run_emerge(args: Sequence[str], *, timeout_s: float) -> int:
    """Run emerge with the user's arguments, its output going to this terminal."""
    return subprocess.run(["emerge", "--ask=n", "--color=n", *args], timeout=timeout_s,
                          check=False).returncode
