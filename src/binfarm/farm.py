"""Farm: the composition root (database, store, queue, Portage helper, clock) and its use cases.

The server calls these methods and nothing below them; `binfarm serve` builds one Farm.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from binfarm.db.engine import open_engine
from binfarm.distcc.registry import DistccRegistry
from binfarm.distcc.service import CompileHosts
from binfarm.errors import BinfarmError, Conflict, InvalidInput, NotFound
from binfarm.examples import EXAMPLE_CPUS, EXAMPLE_PROFILES, EXAMPLE_REPO_NAME, example_paths
from binfarm.files import private_dir
from binfarm.gentoo.configroot import NodeLayer, write_bare_node
from binfarm.gentoo.pool import PortageHelper, RequestedPackage
from binfarm.gentoo.protocol import ROOT_KIND_VAR
from binfarm.gentoo.toolchain import isa_of_inputs, required_isa
from binfarm.hosts import HostRegistry
from binfarm.hosts.enrollment import Enrollment
from binfarm.keys.cpu import Fit
from binfarm.keys.diff import differences
from binfarm.keys.inputs import KeyInputs, compute_key
from binfarm.metrics.farm import FarmMetrics
from binfarm.profiles.archive import (
    find_make_profile,
    pack_tree,
)
from binfarm.profiles.model import MakeProfileRef
from binfarm.profiles.registry import Profile, ProfileRegistry
from binfarm.publish.indexes import BuiltIndex, Indexes
from binfarm.publish.publisher import Publisher
from binfarm.publish.tree import PublishedTree
from binfarm.queue.rules import BuildState
from binfarm.queue.service import Build, BuildQueue, Requester
from binfarm.queue.workers import WorkerInfo, WorkerRegistry
from binfarm.repositories import Repository, RepositoryRegistry
from binfarm.retention.service import Retention
from binfarm.rollout.channels import Channel
from binfarm.rollout.service import Rollout
from binfarm.rollout.testing import TestRuns
from binfarm.rollout.views import ChannelViews
from binfarm.roots.registry import BuildRoot, RootRegistry, check_root_archive
from binfarm.settings import Settings
from binfarm.signing.keys import SigningKeys
from binfarm.signing.resign import Resigning
from binfarm.store.blobs import BlobStore, BlobWriter, file_digests
from binfarm.store.catalog import GPKG_SUFFIX, Catalog, Instance, Viewer
from binfarm.store.changes import Changes
from binfarm.tokens import Role, Token, TokenStore
from binfarm.trust.destinations import Destinations
from binfarm.trust.overrides import check_env

__all__ = ["Explanation", "Farm", "InstanceVerdict"]

log = logging.getLogger(__name__)

PACKAGE_SUFFIXES = (".gpkg.tar", ".xpak", ".tbz2")
LEASE_POLL_S = 0.5  # a long-polling lease re-checks at least this often (sweeps, backoff)


@dataclass(frozen=True)
class InstanceVerdict:
    instance: Instance
    same_key: bool
    fit: Fit
    differences: tuple[str, ...]


@dataclass(frozen=True)
class Explanation:
    profile: Profile
    cpv: str
    key: str
    inputs: KeyInputs
    instances: list[InstanceVerdict]


def _write_secret(path: Path, secret: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")


class Farm:
    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.clock = clock
        self.data_dir = settings.data_dir
        private_dir(self.data_dir)
        (self.data_dir / "logs").mkdir(exist_ok=True)
        self.distdir = self.data_dir / "distfiles"
        self.distdir.mkdir(exist_ok=True)
        self.engine = open_engine(settings.database_url)
        self.helper = PortageHelper(settings.portage.helper_timeout_s)
        self.blobs = BlobStore(self.data_dir / "store")
        self.changes = Changes()
        self.catalog = Catalog(self.engine, clock, self.changes)
        self.workers = WorkerRegistry(self.engine, clock, settings.queue)
        self.queue = BuildQueue(self.engine, clock, settings.queue, self.workers)
        # Moved by every request: a long-polling lease looks again at once.
        self.work_generation = 0
        self.repositories = RepositoryRegistry(self.engine, clock)
        self.profiles = ProfileRegistry(self.engine, self.data_dir / "profiles", self.helper, clock)
        self.tokens = TokenStore(self.engine, clock)
        self.hosts = HostRegistry(self.engine, clock)
        self.root_archives = BlobStore(self.data_dir / "roots")
        self.roots = RootRegistry(self.engine, self.root_archives, clock)
        self._deps_of: dict[int, frozenset[str]] = {}
        # Seconds each running build's uploads took to check, sign and store so far.
        self._indexing_s: dict[int, float] = {}
        self.destinations = Destinations(settings.queue.webhook_allow)
        self.enrollment = Enrollment(
            hosts=self.hosts, profiles=self.profiles, tokens=self.tokens,
            repositories=self.repositories, helper=self.helper, scratch=self.data_dir,
            max_tree_bytes=settings.server.max_profile_bytes, node_layer=self.node_layer,
            add_profile=self.add_profile, changes=self.changes)
        self.signing_keys = SigningKeys(self.engine, self.data_dir / "signing", settings.signing,
                                        clock)
        self.signing_keys.ensure()
        self.rollout = Rollout(self.engine, clock, notify=self.queue.notify_requesters,
                               run_tests=TestRuns(self.queue, self.wake_workers).request,
                               changes=self.changes)
        self.channels = ChannelViews(self.catalog, self.rollout,
                                     lambda name: self._viewer(self.profiles.get(name)))
        self.indexes = Indexes(self.channels, self.catalog, self._index_header, self.changes,
                               clock)
        self.publisher = Publisher(
            self.indexes, PublishedTree(self.data_dir / "published", self.blobs,
                                        copy=settings.publish.copy_files,
                                        grace_s=settings.publish.grace_s),
            lambda: [p.name for p in self.profiles.list()], clock)
        self.retention = Retention(self.engine, self.catalog, self.channels, self.hosts,
                                   self.blobs, lambda: [p.name for p in self.profiles.list()],
                                   clock)
        self.resigning = Resigning(self.signing_keys, self.catalog, self.blobs, self.helper,
                                   write_bare_node(self.data_dir / "signing" / "node"))
        self.distcc_slots = DistccRegistry(self.engine, clock)
        self.compile_hosts = CompileHosts(self.distcc_slots, settings.distcc,
                                          self.workers.compilers)
        self.metrics = FarmMetrics(self, clock)

    def close(self) -> None:
        """Stop what the farm started besides threads: gpg's agent, database connections."""
        self.signing_keys.close()
        self.engine.dispose()

    # -- setup -------------------------------------------------------------------------

    def ensure_admin_token(self) -> Path:
        """Create the admin token on first start, in <data-dir>/admin.token (mode 0600)."""
        path = self.data_dir / "admin.token"
        if not path.exists():
            _write_secret(path, self.tokens.create("admin", Role.ADMIN)[1])
            log.info("created admin token path=%s", path)
        return path

    def embedded_worker_token(self, name: str) -> str:
        """The embedded worker `name`'s own worker token (never the admin's), kept in
        <data-dir>/workers/NAME.token (0600) and made again if it was revoked."""
        path = private_dir(self.data_dir / "workers") / f"{name}.token"
        if path.exists():
            secret = path.read_text().strip()
            try:
                if self.tokens.verify(secret).role == Role.WORKER:
                    return secret
            except BinfarmError:
                pass
            path.unlink()
        secret = self.tokens.create(f"embedded-{name}"[:128], Role.WORKER)[1]
        _write_secret(path, secret)
        return secret

    def register_example(self) -> None:
        """Register the shipped example repository and profiles unless already there."""
        paths = example_paths()
        if EXAMPLE_REPO_NAME not in self.repositories.locations():
            self.repositories.add(EXAMPLE_REPO_NAME, paths["repo"], paths["distfiles"])
        for name in EXAMPLE_PROFILES:
            if self.profiles.find(name) is None:
                tree = paths["profiles"] / name
                self.add_profile(name, pack_tree(tree), find_make_profile(tree),
                                 cpu=EXAMPLE_CPUS[name])
                self.profiles.set_world(name, (paths["worlds"] / name).read_text().split())

    def node_layer(self, profile: str | None = None) -> NodeLayer:
        """The farm's layer for its own nodes; for a profile with a chroot root, it says so
        (its binaries are built for /, and their keys differ from a prefix's)."""
        extra = {ROOT_KIND_VAR: "chroot"} if profile and self.roots.find(profile) else {}
        return NodeLayer(distdir=self.distdir, repositories=self.repositories.usable(),
                         extra=extra)

    # -- profiles ----------------------------------------------------------------------

    def add_profile(self, name: str, packed_tree: bytes, make_profile: MakeProfileRef | None,
                    *, cpu: str | None = None, exact_flags: bool = False,
                    base: str | None = None) -> Profile:
        profile = self.profiles.add(name, packed_tree, make_profile, self.node_layer(),
                                    max_bytes=self.settings.server.max_profile_bytes, cpu=cpu,
                                    exact_flags=exact_flags, base=base)
        log.info("profile added profile=%s chost=%s", name, profile.info.chost)
        return profile

    def remove_repository(self, name: str) -> Repository:
        """Forget a repository no profile's make.profile points into."""
        users = [p.name for p in self.profiles.list()
                 if p.make_profile is not None and p.make_profile.repo == name]
        if users:
            raise Conflict(f"repository {name!r} holds the make.profile of "
                           f"{', '.join(users)}: change or remove those profiles first")
        repo = self.repositories.remove(name)
        log.info("repository removed name=%s location=%s", name, repo.location)
        return repo

    def profile_tree(self, name: str) -> bytes:
        return pack_tree(self.profiles.get(name).tree)

    # -- chroot build roots ------------------------------------------------------------

    def set_build_root(self, profile: str, writer: BlobWriter, source: str) -> BuildRoot:
        """Make the received archive `profile`'s chroot root, once it is seen to be one."""
        self.profiles.get(profile)
        writer.close()
        check_root_archive(writer.path)
        root = self.roots.set(profile, self.root_archives.commit(writer), source)
        log.info("chroot root set profile=%s digest=%s size=%s", profile, root.digest,
                 root.size)
        return root

    # -- builds ------------------------------------------------------------------------

    def request_builds(self, profile_name: str, atoms: list[str], *,
                       requester: Requester | None = None, token: Token | None = None,
                       env: dict[str, str] | None = None, priority: int = 0) -> list[Build]:
        """Resolve and key every atom with Portage first, then queue them: all or nothing.

        A key that already has a stored instance is answered with the build that made it.
        `env` overrides the profile for these builds, as `USE=... emerge` would.
        """
        try:
            builds = self._request_builds(profile_name, atoms, requester=requester,
                                          token=token, env=env, priority=priority)
        except BinfarmError:
            self.metrics.requests.labels("rejected").inc(max(1, len(atoms)))
            raise
        return builds

    def _request_builds(self, profile_name: str, atoms: list[str], *,
                        requester: Requester | None, token: Token | None,
                        env: dict[str, str] | None, priority: int) -> list[Build]:
        if not atoms:
            raise InvalidInput("name at least one atom to build")
        if token is not None:
            token.may_request_for(profile_name)
            if token.role != Role.ADMIN:
                priority = min(priority, self.settings.queue.client_max_priority)
        env = check_env(env or {})
        if requester is not None and requester.webhook:
            self.destinations.check_url(requester.webhook)
        requester = requester or Requester(token.name if token else "farm",
                                           token.id if token else None)
        profile = self.profiles.get(profile_name)
        node = self.profiles.query_node(profile, self.node_layer(profile.name))
        wanted = self.helper.prepare_request(node, atoms, env)
        answered: dict[int, Build] = {}
        withdrawn = self.rollout.membership(profile.name).withdrawn
        for index in _dependencies_first(wanted):
            resolution, inputs = wanted[index].resolution, wanted[index].inputs
            needs = isa_of_inputs(inputs)
            if missing := sorted(needs - profile.cpu_features):
                raise InvalidInput(f"{resolution.cpv} would be built for {profile.name} with "
                                   f"{', '.join(missing)}, which its CPU ({profile.cpu_spec}) "
                                   "does not have")
            key = compute_key(inputs)
            stored = self.catalog.by_key(key)
            if stored is not None and stored.id in withdrawn:
                raise Conflict(self.rollout.why_withdrawn(profile.name, stored))
            if stored is not None and stored.build is not None:
                build = self.queue.join_finished(stored.build, requester)
                self.metrics.requests.labels("stored").inc()
                log.info("build answered from store build_id=%s profile=%s cpv=%s key=%s",
                         build.id, profile.name, resolution.cpv, key)
            else:
                # After the builds of what it needs among the atoms asked for with it: it
                # installs their binaries rather than compile them again alongside.
                after = tuple(answered[i].id for i in wanted[index].needs if i in answered)
                build = self.queue.request(
                    profile=profile.name, atom=resolution.atom, cpv=resolution.cpv, key=key,
                    required_isa=needs, env=env, priority=priority, requester=requester,
                    after=after)
                log.info("build requested build_id=%s profile=%s cpv=%s key=%s requester=%s",
                         build.id, profile.name, build.cpv, key, requester.name)
                merged = self.queue.requester_count(build.id) > 1
                self.metrics.requests.labels("merged" if merged else "created").inc()
            answered[index] = build
        self.wake_workers()
        return [answered[i] for i in range(len(wanted))]

    def requester_name(self, token: Token, asked: str | None = None) -> str:
        """Who a request is from: the name an admin gives, else the token's identity (a
        host's own name for its token), never a name a client picks."""
        if token.role == Role.ADMIN:
            return asked or token.name
        host = self.hosts.by_token(token.id)
        return host.name if host is not None else token.name

    def wake_workers(self) -> None:
        """Tell long-polling leases that there may be work."""
        self.work_generation += 1

    def set_world(self, name: str, atoms: list[str]) -> Profile:
        """A profile's @world; every atom must name a package Portage finds for it."""
        profile = self.profiles.get(name)
        node = self.profiles.query_node(profile, self.node_layer(profile.name))
        checked = [self.helper.resolve(node, atom).atom for atom in atoms]
        return self.profiles.set_world(name, checked)

    def cancel_build(self, build_id: int, token: Token | None = None) -> Build:
        """Cancel a build (the admin), or withdraw a client's own request for it: the build
        is cancelled only when no one else still wants it."""
        build = self.queue.get(build_id)
        if token is not None and token.role != Role.ADMIN:
            token.may_request_for(build.profile)
            if self.queue.withdraw(build_id, token.id) > 0:
                log.info("request withdrawn build_id=%s token=%s", build_id, token.name)
                return self.queue.get(build_id)
        cancelled = self.queue.cancel(build_id)
        self.distcc_slots.release(build_id)
        log.info("build cancelled build_id=%s", build_id)
        return cancelled

    def requeue_build(self, build_id: int) -> Build:
        build = self.queue.requeue(build_id)
        self.metrics.requeues.labels(build.profile).inc()
        self.log_path(build_id).unlink(missing_ok=True)
        self.wake_workers()
        log.info("build queued again build_id=%s", build_id)
        return build

    # -- workers -------------------------------------------------------------------------

    def register_worker(self, name: str, arch: str, cpu_features: frozenset[str],
                        slots: int, *, chroot: bool = False,
                        compiler: str | None = None) -> WorkerInfo:
        worker = self.workers.register(name, arch, cpu_features, slots, chroot=chroot,
                                       compiler=compiler)
        log.info("worker registered worker=%s arch=%s slots=%s chroot=%s", name, arch, slots,
                 chroot)
        return worker

    def lease(self, worker_name: str) -> Build | None:
        """The next build for the worker, if there is one now (the server's long-poll
        calls this again when `work_generation` moves, or every LEASE_POLL_S)."""
        worker = self.workers.get(worker_name)
        self.workers.touch(worker_name)
        build = self.queue.lease(worker)
        if build is not None:
            log.info("build leased build_id=%s worker=%s", build.id, worker_name)
        return build

    def heartbeat(self, build_id: int, worker: str) -> Build:
        return self.queue.heartbeat(build_id, worker)

    def log_path(self, build_id: int) -> Path:
        return self.data_dir / "logs" / f"{build_id}.log"

    def read_log(self, build_id: int, offset: int = 0, limit: int = 1 << 20) -> bytes:
        """At most `limit` bytes of a build's log from `offset` on (never the whole file)."""
        self.queue.get(build_id)
        path = self.log_path(build_id)
        if not path.exists():
            return b""
        with open(path, "rb") as handle:
            handle.seek(max(offset, 0))
            return handle.read(max(limit, 0))

    def append_log(self, build_id: int, worker: str, chunk: bytes) -> None:
        """Append to the log of a build `worker` holds the lease of, up to the log cap;
        what goes past it is dropped after a note. A cancelled build's worker has one lease
        period more, to say that it stopped emerge (it learns of the cancel at a
        heartbeat)."""
        build = self.queue.get(build_id)
        cancelled_lately = (build.state == BuildState.CANCELLED and build.worker == worker
                            and (build.finished_at or 0) + self.settings.queue.lease_ttl_s
                            >= self.clock())
        if not cancelled_lately:
            build = self.queue.check_lease(build_id, worker)
        room = self.settings.server.max_log_bytes - build.log_bytes
        if room <= 0:
            return
        kept = chunk[:room]
        if len(chunk) > room:
            kept += (f"\n>>> binfarm: log cut at {self.settings.server.max_log_bytes} bytes; "
                     "the rest of it was dropped\n").encode()
        with open(self.log_path(build_id), "ab") as handle:
            handle.write(kept)
        self.queue.add_log_bytes(build_id, len(kept))

    def receive_package(self, build_id: int, worker: str, filename: str, writer: BlobWriter,
                        sha256: str | None = None) -> Instance:
        """Check a package uploaded for a build with Portage, sign it, store and catalog it.

        `sha256`, when the worker sends it, must be the digest of what arrived. What is
        stored and served is the farm's signed copy; the upload itself is not kept.
        """
        started = time.monotonic()
        try:
            return self._receive_package(build_id, worker, filename, writer, sha256)
        finally:
            self._indexing_s[build_id] = (self._indexing_s.get(build_id, 0.0)
                                          + time.monotonic() - started)

    def _receive_package(self, build_id: int, worker: str, filename: str, writer: BlobWriter,
                         sha256: str | None) -> Instance:
        build = self.queue.check_lease(build_id, worker)
        if build.tests_instance is not None:
            raise InvalidInput(f"build {build_id} is a test run (FEATURES=test): what it builds "
                               "has USE=test and is never stored or served")
        if sha256 is not None and sha256.lower() != writer.sha256:
            raise InvalidInput(f"{filename!r} arrived with SHA-256 {writer.sha256}, the worker "
                               f"sent {sha256.lower()}: damaged in transit")
        suffix = next((s for s in PACKAGE_SUFFIXES if filename.endswith(s)), None)
        if suffix is None or "/" in filename:
            raise InvalidInput(f"{filename!r} is not a binary package file name "
                               f"(*{', *'.join(PACKAGE_SUFFIXES)})")
        if suffix != GPKG_SUFFIX:
            raise InvalidInput(f"{filename!r} is an XPAK package: the farm serves signed GPKG "
                               "only, as Portage ignores XPAK from binhosts it verifies "
                               "(build with BINPKG_FORMAT=gpkg)")
        writer.close()
        if (again := self.catalog.by_upload(writer.sha256)) is not None:
            return again
        node = self._node_for(build)
        with self.blobs.scratch() as signed:
            signing = self.signing_keys.request(signed)
            entry, inputs = self.helper.describe_binpkg(node, writer.path, signing)
            if not filename.startswith(entry["CPV"].split("/", 1)[1]):
                raise InvalidInput(f"{filename!r} holds {entry['CPV']}, not what its name says")
            if entry["CPV"] != build.cpv and entry["CPV"] not in self._dependencies(build, node):
                raise InvalidInput(f"{filename!r} holds {entry['CPV']}, which build "
                                   f"{build_id} ({build.cpv}) neither builds nor depends on")
            key = compute_key(inputs)
            if (stored := self.catalog.by_key(key)) is not None:
                log.info("package already stored build_id=%s cpv=%s sha256=%s", build_id,
                         stored.cpv, stored.sha256)
                return stored  # an instance of a key is never displaced
            digests = file_digests(signed)
            blob = self.blobs.adopt(signed, digests.sha256, digests.size)
        # Portage's client stamps the download with MTIME and re-fetches when they differ.
        entry.update(digests.entry_fields(), MTIME=str(int(blob.path.stat().st_mtime)))
        instance = self.catalog.add(
            blob, entry, key=key, key_inputs=inputs, required_isa=isa_of_inputs(inputs),
            profile=build.profile, build=build_id, suffix=suffix,
            signer=signing.key, upload_sha256=writer.sha256,
        )
        log.info("package stored build_id=%s cpv=%s sha256=%s", build_id, instance.cpv,
                 instance.sha256)
        return instance

    def _dependencies(self, build: Build, node: Path) -> frozenset[str]:
        """Every package version a build of `build.cpv` may merge on the way (Portage's
        resolver, as for a fresh machine), asked once per build."""
        if build.id not in self._deps_of:
            planned = self.helper.plan(node, [f"={build.cpv}"])
            self._deps_of = {build.id: frozenset(p.cpv for p in planned)}
        return self._deps_of[build.id]

    def _node_for(self, build: Build) -> Path:
        """The node a build's packages are read in: its plan's pinned repositories, if any,
        so eclass digests in their keys are those of the tree they were built from."""
        profile = self.profiles.get(build.profile)
        if not build.repositories:
            return self.profiles.query_node(profile, self.node_layer(profile.name))
        layer = self.node_layer(profile.name)
        pinned = {**layer.repositories,
                  **{name: Path(location) for name, location in build.repositories.items()}}
        variant = hashlib.sha256(json.dumps(build.repositories, sort_keys=True).encode())
        return self.profiles.query_node(profile, replace(layer, repositories=pinned),
                                        variant.hexdigest()[:12])

    def packages_of(self, build: Build) -> list[Instance]:
        """What a build stored, and the stored instance of its key when an upload was
        answered by one that was there first (built as another build's dependency)."""
        stored = self.catalog.for_build(build.id)
        first = self.catalog.by_key(build.key) if build.key else None
        if first is not None and all(i.sha256 != first.sha256 for i in stored):
            stored.append(first)
        return stored

    def finish_build(self, build_id: int, worker: str, *, ok: bool, error: str | None,
                     timings: Mapping[str, float] | None = None) -> Build:
        """End a build; `timings`: the worker's seconds per phase (the server adds how long
        it waited, and how long its uploads took to check, sign and store)."""
        build = self.queue.get(build_id)
        if ok and build.tests_instance is None and not self.packages_of(build):
            ok, error = False, "the build reported success but uploaded no package"
        indexing = self._indexing_s.pop(build_id, 0.0)
        measured = {**(timings or {}), "indexing": round(indexing, 3)}
        if "upload" in measured:  # the worker waited for the checks too: not its upload
            measured["upload"] = round(max(0.0, measured["upload"] - indexing), 3)
        build = self.queue.finish(build_id, worker, ok=ok, error=error, timings=measured)
        self.distcc_slots.release(build_id)
        self.metrics.build_finished(build.profile, build.state, build.requested_at,
                                    build.started_at, build.finished_at)
        self.wake_workers()  # builds that waited for this one may be leased now
        log.info("build finished build_id=%s state=%s", build_id, build.state)
        return build

    # -- binhost -----------------------------------------------------------------------

    def binhost_index(self, profile_name: str,
                      channel: Channel = Channel.STABLE) -> BuiltIndex:
        """The channel's index, from the cache while nothing it lists changed."""
        return self.indexes.get(self.profiles.get(profile_name).name, channel)

    def _index_header(self, profile_name: str) -> dict[str, str]:
        info = self.profiles.get(profile_name).info
        return {"ARCH": info.arch, "CHOST": info.chost, "ACCEPT_KEYWORDS": info.accept_keywords}

    def binhost_file(self, profile_name: str, path: str,
                     channel: Channel = Channel.STABLE) -> Instance:
        name = self.profiles.get(profile_name).name
        listed = self.indexes.get(name, channel).by_path.get(path)
        # Not in the current index: one a client still holds an older index of.
        return listed if listed is not None else self.channels.find(name, channel, path)

    def _viewer(self, profile: Profile) -> Viewer:
        return replace(profile.viewer, for_root=self.roots.find(profile.name) is not None)

    # -- keys ----------------------------------------------------------------------------

    def unbuildable(self, profile: Profile) -> str | None:
        """Why no registered worker could build for `profile` (its flags' extensions, its
        architecture, its chroot root), or None when one could."""
        needs = required_isa(profile.info.flag_values, frozenset(profile.info.cpu_flags_x86))
        return self.queue.never_runs(profile.name, needs)

    def set_profile_cpu(self, name: str, cpu: str | None,
                        exact_flags: bool | None = None) -> Profile:
        profile = self.profiles.set_cpu(name, cpu, self.node_layer(name), exact_flags)
        log.info("profile cpu changed profile=%s cpu=%s", name, profile.cpu_spec)
        return profile

    def explain(self, atom: str, profile_names: list[str]) -> list[Explanation]:
        """For each profile: its key for `atom`, and why each stored instance fits or not."""
        if not profile_names:
            raise InvalidInput("name at least one profile to explain for")
        out = []
        for name in profile_names:
            profile = self.profiles.get(name)
            node = self.profiles.query_node(profile, self.node_layer(profile.name))
            resolution = self.helper.resolve(node, atom)
            [inputs] = self.helper.key_inputs(node, [resolution.cpv])
            key = compute_key(inputs)
            viewer = self._viewer(profile)
            verdicts = [
                InstanceVerdict(instance, instance.key == key, viewer.fit(instance),
                                tuple(differences(inputs, instance.key_inputs)))
                for instance in self.catalog.for_cpv(resolution.cpv)
            ]
            out.append(Explanation(profile, resolution.cpv, key, inputs, verdicts))
        return out

    def find_instance(self, ref: str) -> Instance:
        """An instance by its SHA-256 (or a unique prefix of 8+ hex digits) or its PATH."""
        return self.catalog.lookup(ref)

    def mirror_file(self, name: str) -> int:
        """An open descriptor of a distfile the farm serves to its workers: a regular file
        directly in DISTDIR or a repository's bundle. A symlink is never followed (a build
        writes DISTDIR, and could plant one pointing anywhere)."""
        if not name or "/" in name or name.startswith(".") or "\0" in name:
            raise NotFound(f"no distfile {name!r}")
        places = [self.distdir] + [r.distfiles for r in self.repositories.list() if r.distfiles]
        for place in places:
            try:
                fd = os.open(place / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            except OSError:
                continue
            if stat.S_ISREG(os.fstat(fd).st_mode):
                return fd
            os.close(fd)
        raise NotFound(f"no distfile {name!r} on this farm")

    def visible(self, profile_name: str, instance: Instance) -> bool:
        """Whether `profile_name`'s binhost lists `instance`."""
        profile = self.profiles.find(profile_name)
        return profile is not None and any(
            i.sha256 == instance.sha256
            for i in self.channels.listed(profile.name, Channel.TESTING))


def _dependencies_first(wanted: list[RequestedPackage]) -> list[int]:
    """The indexes of `wanted`, each after those it needs (a cycle is broken where met)."""
    order: list[int] = []
    visiting: set[int] = set()

    def visit(index: int) -> None:
        if index in order or index in visiting:
            return
        visiting.add(index)
        for needed in wanted[index].needs:
            visit(needed)
        order.append(index)

    for index in range(len(wanted)):
        visit(index)
    return order
