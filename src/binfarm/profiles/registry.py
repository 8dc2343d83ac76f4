"""The farm's profiles: a copy of each user's tree, checked by Portage before it is kept.

A profile is added whole or not at all: the tree is unpacked and evaluated by Portage in
a staging directory, and only a tree Portage accepted is renamed into place and recorded.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from binfarm.db.tables import profiles
from binfarm.errors import Conflict, InvalidInput, NotFound
from binfarm.gentoo.configroot import NodeLayer, write_node
from binfarm.gentoo.pool import PortageHelper
from binfarm.gentoo.protocol import ProfileInfo
from binfarm.profiles.archive import unpack_tree
from binfarm.profiles.model import MakeProfileRef, check_profile_name

__all__ = ["Profile", "ProfileRegistry"]


@dataclass(frozen=True)
class Profile:
    name: str
    make_profile: MakeProfileRef | None
    info: ProfileInfo
    tree: Path
    node: Path

    @classmethod
    def from_row(cls, row: Any, root: Path) -> Profile:
        ref = MakeProfileRef.parse(row.make_profile) if row.make_profile else None
        return cls(row.name, ref, ProfileInfo.model_validate(row.info), root / row.name / "tree",
                   root / row.name / "node")


class ProfileRegistry:
    """Profiles under `root`/<name>/{tree,node}; `node` is the farm's own view for queries."""

    def __init__(self, engine: Engine, root: Path, helper: PortageHelper,
                 clock: Callable[[], float]) -> None:
        self.engine = engine
        self.root = root
        self.helper = helper
        self.clock = clock
        root.mkdir(parents=True, exist_ok=True)

    def add(self, name: str, packed_tree: bytes, make_profile: MakeProfileRef | None,
            layer: NodeLayer, *, max_bytes: int) -> Profile:
        """Check the tree with Portage and keep it; InvalidInput with Portage's complaint."""
        check_profile_name(name)
        if self.find(name) is not None:
            raise Conflict(f"profile {name!r} already exists")
        _check_repo(make_profile, layer.repositories)
        staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=self.root))
        try:
            unpack_tree(packed_tree, staging / "tree", max_bytes=max_bytes)
            info = self._evaluate(staging / "tree", staging / "node", make_profile, layer)
            final = self.root / name
            staging.rename(final)
            try:
                with self.engine.begin() as conn:
                    now = self.clock()
                    conn.execute(insert(profiles).values(
                        name=name, make_profile=str(make_profile) if make_profile else None,
                        info=info.model_dump(), created_at=now, updated_at=now))
            except IntegrityError as exc:
                shutil.rmtree(final, ignore_errors=True)
                raise Conflict(f"profile {name!r} already exists") from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return self.get(name)

    def find(self, name: str) -> Profile | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(profiles).where(profiles.c.name == name)).first()
        return Profile.from_row(row, self.root) if row else None

    def get(self, name: str) -> Profile:
        profile = self.find(name)
        if profile is None:
            raise NotFound(f"no profile {name!r}")
        return profile

    def list(self) -> list[Profile]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(profiles).order_by(profiles.c.name))
            return [Profile.from_row(row, self.root) for row in rows]

    def query_node(self, profile: Profile, layer: NodeLayer) -> Path:
        """The farm's own node for `profile`, rewritten so it follows the repositories."""
        write_node(profile.node, profile.tree, profile.make_profile, layer)
        return profile.node

    def _evaluate(self, tree: Path, node: Path, make_profile: MakeProfileRef | None,
                  layer: NodeLayer) -> ProfileInfo:
        try:
            write_node(node, tree, make_profile, layer)
        except OSError as exc:
            raise InvalidInput(f"cannot use the profile tree: {exc}") from exc
        return self.helper.inspect_profile(node)


def _check_repo(ref: MakeProfileRef | None, repositories: Mapping[str, Path]) -> None:
    if ref is None or ref.repo in repositories:
        return
    known = ", ".join(sorted(repositories)) or "none"
    raise InvalidInput(
        f"make.profile points into repository {ref.repo!r}, which this farm does not have "
        f"(it has: {known})"
    )
