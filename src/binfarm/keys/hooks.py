"""A digest of a profile's build hooks: the files of its tree that Portage runs in a build.

`bashrc` and `profile/bashrc` are sourced in every phase, `env/` files are sourced for the
packages package.env names (so package.env counts too), `patches/` are applied by
eapply_user, and `profile/` can define variables of its own. Their contents go into every
build key of the profile, so a profile with a hook never shares a binary with one without.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Final

__all__ = ["HOOK_PATHS", "hooks_digest"]

HOOK_PATHS: Final = ("bashrc", "env", "patches", "profile")
_KEYED: Final = (*HOOK_PATHS, "package.env")


def hooks_digest(config_dir: Path) -> str:
    """SHA-256 over the hook files under `config_dir` (an etc/portage), or "" if none."""
    files = []
    for name in _KEYED:
        top = config_dir / name
        files += [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
    if not files:
        return ""
    digest = hashlib.sha256()
    for path in files:
        content = path.read_bytes()
        digest.update(f"{path.relative_to(config_dir)}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()
