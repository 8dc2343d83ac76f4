"""A profile as a farm client uses it: the farm's record, its tree unpacked here, and where
its repositories are on this machine (at the locations the farm names)."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from binfarm.api.client import FarmClient
from binfarm.api.models import ProfileOut
from binfarm.errors import Unavailable
from binfarm.profiles.archive import unpack_tree
from binfarm.profiles.model import MakeProfileRef

__all__ = ["ProfileCheckout", "checkout_profile"]

_MAX_TREE_BYTES = 64 << 20


@dataclass(frozen=True)
class ProfileCheckout:
    out: ProfileOut
    tree: Path
    make_profile: MakeProfileRef | None
    repositories: Mapping[str, Path]


def checkout_profile(client: FarmClient, name: str, tree: Path,
                     pinned: Mapping[str, str] | None = None) -> ProfileCheckout:
    """Fetch profile `name` and unpack its tree into `tree` (replaced whole); `pinned`
    repository locations (a plan's snapshot) replace the current ones."""
    out = client.get_profile(name)
    shutil.rmtree(tree, ignore_errors=True)
    tree.parent.mkdir(parents=True, exist_ok=True)
    unpack_tree(client.profile_tree(name), tree, max_bytes=_MAX_TREE_BYTES)
    repositories = {r.name: Path(r.location) for r in client.list_repositories()}
    repositories.update({n: Path(location) for n, location in (pinned or {}).items()})
    for repo, location in repositories.items():
        if not (location / "profiles").is_dir():
            raise Unavailable(f"repository {repo!r} is not at {location} on this machine")
    ref = MakeProfileRef.parse(out.make_profile) if out.make_profile else None
    return ProfileCheckout(out, tree, ref, repositories)
