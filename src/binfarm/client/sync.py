"""`client sync`: the farm's shared (`01*`) files into this machine's configuration.

The seed admin rsynced the master's `01*` files to every machine; here the farm sends
its base profile's. A file is written only where the machine has none, or has the one
binfarm wrote last time: the machine's own files are never overwritten.
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass
from pathlib import Path

from binfarm.errors import InvalidInput

__all__ = ["Change", "apply_sync", "plan_sync"]


@dataclass(frozen=True)
class Change:
    path: str
    content: bytes
    action: str  # "create", "update", "keep-own" (the machine's file stays)
    diff: str


def plan_sync(config_dir: Path, shared: dict[str, bytes],
              synced: dict[str, str]) -> list[Change]:
    """What syncing `shared` into `config_dir` would do; `synced`: digests binfarm wrote."""
    changes = []
    for path, content in sorted(shared.items()):
        target = config_dir / path
        if ".." in Path(path).parts or Path(path).is_absolute():
            raise InvalidInput(f"the farm sent an unsafe path {path!r}")
        if not target.exists():
            changes.append(Change(path, content, "create", _diff(path, b"", content)))
            continue
        current = target.read_bytes()
        if current == content:
            continue
        ours = synced.get(path) == hashlib.sha256(current).hexdigest()
        action = "update" if ours else "keep-own"
        changes.append(Change(path, content, action, _diff(path, current, content)))
    return changes


def apply_sync(config_dir: Path, changes: list[Change], synced: dict[str, str]) -> None:
    """Write the creates and updates, whole, and remember what was written."""
    for change in changes:
        if change.action == "keep-own":
            continue
        target = config_dir / change.path
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.binfarm-new")
        temporary.write_bytes(change.content)
        temporary.replace(target)
        synced[change.path] = hashlib.sha256(change.content).hexdigest()


def _diff(path: str, before: bytes, after: bytes) -> str:
    return "".join(difflib.unified_diff(
        before.decode(errors="replace").splitlines(keepends=True),
        after.decode(errors="replace").splitlines(keepends=True),
        fromfile=f"a/{path}", tofile=f"b/{path}"))
