"""What this machine can build for: its architecture, its CPU's extensions, chroot roots."""

from __future__ import annotations

import platform
from pathlib import Path

from binfarm.keys.cpu import features_from_cpu_flags
from binfarm.roots.sandbox import missing_sandbox_tools

__all__ = ["can_enter_roots", "local_arch", "local_cpu_features"]


def local_arch() -> str:
    return platform.machine()


def can_enter_roots() -> bool:
    """Whether this machine has what chroot build roots need (bubblewrap, unshare)."""
    return not missing_sandbox_tools()


def local_cpu_features(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The extensions /proc/cpuinfo lists on its first `flags` line, as gcc names them."""
    for line in cpuinfo.read_text().splitlines():
        if line.startswith("flags"):
            return features_from_cpu_flags(line.split(":", 1)[1].split())
    return frozenset()
