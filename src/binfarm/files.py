"""Directories only their owner may enter: the farm's data and a worker's build trees
hold tokens, credentials, the database and unpacked roots with setuid files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

__all__ = ["private_dir", "swap_in"]


def private_dir(path: Path) -> Path:
    """Make `path` (and its missing parents) a directory of mode 0700, even if it existed."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def swap_in(staging: Path, target: Path) -> None:
    """Put the directory `staging` where `target` is, replacing it by two renames, so a
    reader sees the old tree or the new one, never half of either."""
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)
