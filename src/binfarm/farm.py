"""Farm: the composition root (database, store, queue, Portage helper, clock) and its use cases.

The server calls these methods and nothing below them; `binfarm serve` builds one Farm.
"""

from __future__ import annotations

import gzip
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from binfarm.db.engine import open_engine
from binfarm.errors import InvalidInput, NotFound
from binfarm.examples import EXAMPLE_PROFILES, EXAMPLE_REPO_NAME, example_paths
from binfarm.gentoo.configroot import NodeLayer
from binfarm.gentoo.pool import PortageHelper
from binfarm.profiles.archive import find_make_profile, pack_tree
from binfarm.profiles.model import MakeProfileRef
from binfarm.profiles.registry import Profile, ProfileRegistry
from binfarm.queue.service import Build, BuildQueue
from binfarm.repositories import RepositoryRegistry
from binfarm.settings import Settings
from binfarm.store.blobs import BlobStore, BlobWriter
from binfarm.store.catalog import Catalog, Instance
from binfarm.store.index import render_index
from binfarm.tokens import Role, TokenStore

__all__ = ["BinhostIndex", "Farm"]

log = logging.getLogger(__name__)

PACKAGE_SUFFIXES = (".gpkg.tar", ".xpak", ".tbz2")


@dataclass(frozen=True)
class BinhostIndex:
    text: str
    gzipped: bytes
    timestamp: int
    digest: str


class Farm:
    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.clock = clock
        self.data_dir = settings.data_dir
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "logs").mkdir(exist_ok=True)
        self.distdir = self.data_dir / "distfiles"
        self.distdir.mkdir(exist_ok=True)
        self.engine = open_engine(settings.database_url)
        self.helper = PortageHelper(settings.portage.helper_timeout_s)
        self.blobs = BlobStore(self.data_dir / "store")
        self.catalog = Catalog(self.engine, clock)
        self.queue = BuildQueue(self.engine, clock)
        self.repositories = RepositoryRegistry(self.engine, clock)
        self.profiles = ProfileRegistry(self.engine, self.data_dir / "profiles", self.helper, clock)
        self.tokens = TokenStore(self.engine, clock)

    # -- setup -------------------------------------------------------------------------

    def ensure_admin_token(self) -> Path:
        """Create the admin token on first start, in <data-dir>/admin.token (mode 0600)."""
        path = self.data_dir / "admin.token"
        if not path.exists():
            secret = self.tokens.create("admin", Role.ADMIN)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secret + "\n")
            log.info("created admin token path=%s", path)
        return path

    def register_example(self) -> None:
        """Register the shipped example repository and profiles unless already there."""
        paths = example_paths()
        if EXAMPLE_REPO_NAME not in self.repositories.locations():
            self.repositories.add(EXAMPLE_REPO_NAME, paths["repo"], paths["distfiles"])
        for name in EXAMPLE_PROFILES:
            if self.profiles.find(name) is None:
                tree = paths["profiles"] / name
                self.add_profile(name, pack_tree(tree), find_make_profile(tree))

    def node_layer(self, mirrors: tuple[str, ...] = ()) -> NodeLayer:
        return NodeLayer(distdir=self.distdir, repositories=self.repositories.locations(),
                         mirrors=mirrors)

    # -- profiles ----------------------------------------------------------------------

    def add_profile(self, name: str, packed_tree: bytes,
                    make_profile: MakeProfileRef | None) -> Profile:
        profile = self.profiles.add(name, packed_tree, make_profile, self.node_layer(),
                                    max_bytes=self.settings.server.max_profile_bytes)
        log.info("profile added profile=%s chost=%s", name, profile.info.chost)
        return profile

    def profile_tree(self, name: str) -> bytes:
        return pack_tree(self.profiles.get(name).tree)

    # -- builds ------------------------------------------------------------------------

    def request_builds(self, profile_name: str, atoms: list[str]) -> list[Build]:
        """Resolve every atom with Portage first, then queue them: all or nothing."""
        if not atoms:
            raise InvalidInput("name at least one atom to build")
        profile = self.profiles.get(profile_name)
        node = self.profiles.query_node(profile, self.node_layer())
        resolved = [self.helper.resolve(node, atom) for atom in atoms]
        queued = [self.queue.request(profile.name, r.atom, r.cpv) for r in resolved]
        for build in queued:
            log.info("build requested build_id=%s profile=%s cpv=%s", build.id, build.profile,
                     build.cpv)
        return queued

    def log_path(self, build_id: int) -> Path:
        return self.data_dir / "logs" / f"{build_id}.log"

    def read_log(self, build_id: int, offset: int = 0) -> bytes:
        self.queue.get(build_id)
        path = self.log_path(build_id)
        if not path.exists():
            return b""
        with open(path, "rb") as handle:
            handle.seek(max(offset, 0))
            return handle.read()

    def append_log(self, build_id: int, worker: str, chunk: bytes) -> None:
        self.queue.check_lease(build_id, worker)
        with open(self.log_path(build_id), "ab") as handle:
            handle.write(chunk)
        self.queue.add_log_bytes(build_id, len(chunk))

    def receive_package(self, build_id: int, worker: str, filename: str,
                        writer: BlobWriter) -> Instance:
        """Check a package uploaded for a build with Portage, then store and catalog it."""
        build = self.queue.check_lease(build_id, worker)
        suffix = next((s for s in PACKAGE_SUFFIXES if filename.endswith(s)), None)
        if suffix is None or "/" in filename:
            raise InvalidInput(f"{filename!r} is not a binary package file name "
                               f"(*{', *'.join(PACKAGE_SUFFIXES)})")
        profile = self.profiles.get(build.profile)
        writer.close()
        entry = self.helper.describe_binpkg(profile.node, writer.path)
        if not filename.startswith(entry["CPV"].split("/", 1)[1]):
            raise InvalidInput(f"{filename!r} holds {entry['CPV']}, not what its name says")
        blob = self.blobs.commit(writer)
        # Portage's client stamps the download with MTIME and re-fetches when they differ.
        entry["MTIME"] = str(int(blob.path.stat().st_mtime))
        instance = self.catalog.add(blob, entry, profile=build.profile, build=build_id,
                                    suffix=suffix)
        log.info("package stored build_id=%s cpv=%s sha256=%s", build_id, instance.cpv,
                 instance.sha256)
        return instance

    def finish_build(self, build_id: int, worker: str, *, ok: bool, error: str | None) -> Build:
        if ok and not self.catalog.for_build(build_id):
            ok, error = False, "the build reported success but uploaded no package"
        build = self.queue.finish(build_id, worker, ok=ok, error=error)
        log.info("build finished build_id=%s state=%s", build_id, build.state)
        return build

    # -- binhost -----------------------------------------------------------------------

    def binhost_index(self, profile_name: str) -> BinhostIndex:
        profile = self.profiles.get(profile_name)
        entries = [i.index_entry() for i in self.catalog.for_profile(profile.name)]
        state = self.catalog.index_state(profile.name, entries)
        header = {"ARCH": profile.info.arch, "CHOST": profile.info.chost,
                  "ACCEPT_KEYWORDS": profile.info.accept_keywords}
        text = render_index(header, entries, timestamp=state.timestamp)
        return BinhostIndex(text, gzip.compress(text.encode(), mtime=0), state.timestamp,
                            state.digest)

    def binhost_file(self, profile_name: str, path: str) -> Instance:
        self.profiles.get(profile_name)
        return self.catalog.find(profile_name, path)

    def mirror_file(self, name: str) -> Path:
        """A distfile the farm can serve to its workers: from DISTDIR or a repository's bundle."""
        if not name or "/" in name or name.startswith("."):
            raise NotFound(f"no distfile {name!r}")
        places = [self.distdir] + [r.distfiles for r in self.repositories.list() if r.distfiles]
        for place in places:
            candidate = place / name
            if candidate.is_file():
                return candidate
        raise NotFound(f"no distfile {name!r} on this farm")
