"""A worker's per-profile build prefix, written from what the server says the profile is.

The prefix is kept between builds (its installed dependencies are reused); only its
etc/portage is rewritten, from the server's copy of the profile tree plus this machine's
layer. Repositories must be at the location the server names (remote sync is later work).
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from binfarm.api.client import FarmClient
from binfarm.errors import InvalidInput, Unavailable
from binfarm.gentoo.configroot import NodeLayer, link_toolchain, write_node
from binfarm.gentoo.pool import PortageHelper
from binfarm.profiles.archive import unpack_tree
from binfarm.profiles.model import MakeProfileRef

__all__ = ["BuildRoots", "root_name"]

_MAX_TREE_BYTES = 64 << 20


def root_name(profile: str) -> str:
    """Every build root's path has the same length: Portage relocates a binary into a
    prefix no longer than the one it was built in, so roots can share dependencies."""
    return "p-" + hashlib.sha256(profile.encode()).hexdigest()[:16]


class BuildRoots:
    def __init__(self, client: FarmClient, helper: PortageHelper, work_dir: Path,
                 distdir: Path) -> None:
        self.client = client
        self.helper = helper
        self.work_dir = work_dir
        self.distdir = distdir
        distdir.mkdir(parents=True, exist_ok=True)

    def prepare(self, profile_name: str, pinned: dict[str, str] | None = None) -> Path:
        """The build prefix of `profile_name`, with its configuration brought up to date;
        `pinned` repositories (a plan's snapshot) replace the current locations."""
        profile = self.client.get_profile(profile_name)
        tree = self.work_dir / "profiles" / profile_name
        shutil.rmtree(tree, ignore_errors=True)
        tree.parent.mkdir(parents=True, exist_ok=True)
        unpack_tree(self.client.profile_tree(profile_name), tree, max_bytes=_MAX_TREE_BYTES)
        repositories = {r.name: Path(r.location) for r in self.client.list_repositories()}
        repositories.update({name: Path(location) for name, location in (pinned or {}).items()})
        for name, location in repositories.items():
            if not (location / "profiles").is_dir():
                raise Unavailable(f"repository {name!r} is not at {location} on this worker")
        layer = NodeLayer(distdir=self.distdir, repositories=repositories,
                          mirrors=(f"{self.client.base_url}/mirror",),
                          binhost=self.client.binhost_uri(profile_name, "worker"))
        ref = MakeProfileRef.parse(profile.make_profile) if profile.make_profile else None
        node = self.work_dir / "roots" / root_name(profile_name)
        write_node(node, tree, ref, layer)
        missing = link_toolchain(node, profile.chost)
        if missing:
            raise InvalidInput(f"this worker has no compiler for CHOST {profile.chost} "
                               f"({', '.join(missing)})")
        return node
