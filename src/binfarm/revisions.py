"""What identifies a repository's content, for pinning plans and refreshing build roots."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

__all__ = ["revision_of"]


def revision_of(location: Path) -> str:
    """The repository's revision: its git commit, or a digest of its metadata cache and
    eclasses (what a sync changes) where it is not a git checkout."""
    if (location / ".git").exists():
        done = subprocess.run(["git", "-C", str(location), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=30, check=False)
        if done.returncode == 0:
            return f"git:{done.stdout.strip()}"
    digest = hashlib.sha256()
    for sub in ("metadata/md5-cache", "eclass", "profiles"):
        for path in sorted(p for p in (location / sub).rglob("*") if p.is_file()):
            digest.update(f"{path.relative_to(location)}\0".encode())
            digest.update(path.read_bytes())
    return f"cache:{digest.hexdigest()}"
