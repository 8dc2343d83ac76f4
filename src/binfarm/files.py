"""Directories only their owner may enter: the farm's data and a worker's build trees
hold tokens, credentials, the database and unpacked roots with setuid files."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["private_dir"]


def private_dir(path: Path) -> Path:
    """Make `path` (and its missing parents) a directory of mode 0700, even if it existed."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path
