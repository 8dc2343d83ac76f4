"""A worker's build roots, written from what the server says the profile is.

A prefix root (`roots/p-<hash>`) is kept between builds and accumulates the dependencies
it installs; only its etc/portage is rewritten. A chroot root is the worker's copy of the
profile's stage3 (see roots.chroot): brought up to date with @system when the profile, a
repository or the root's generation changed, then entered with bubblewrap for each build
over a throwaway layer, so a failed or killed build leaves it as it was.
Repositories must be at the location the server names (remote sync is later work).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

from binfarm.api.checkout import ProfileCheckout, checkout_profile
from binfarm.api.client import FarmClient, binhost_uri, farm_uri
from binfarm.api.models import CredentialOut, RootCopyIn, RootOut
from binfarm.errors import InvalidInput, Unavailable
from binfarm.files import private_dir
from binfarm.gentoo.configroot import NodeLayer, link_toolchain, write_config, write_node
from binfarm.gentoo.emerge import EmergeTarget, PrefixTarget, run_emerge
from binfarm.profiles.archive import tree_digest
from binfarm.revisions import revision_of
from binfarm.roots.chroot import ChrootCopy
from binfarm.roots.sandbox import (
    PKGDIR_IN_ROOT,
    Bind,
    ChrootTarget,
    Sandbox,
    check_sandbox_tools,
)

__all__ = ["BinhostCredentials", "BuildRoots", "root_name", "say"]

# Where a chroot root sees what the host binds in: Gentoo's own default locations.
_ROOT_REPOS = Path("/var/db/repos")
_ROOT_DISTDIR = Path("/var/cache/distfiles")
_ROOT_CA = Path("/etc/binfarm-ca.pem")  # an https farm's CA, in a chroot root
_SYSTEM_UPDATE = ("--update", "--deep", "--newuse", "--oneshot", "--usepkgonly",
                  "--getbinpkg", "--with-bdeps=n", "--verbose", "@system")


def root_name(profile: str) -> str:
    """Every build root's path has the same length: Portage relocates a binary into a
    prefix no longer than the one it was built in, so roots can share dependencies."""
    return "p-" + hashlib.sha256(profile.encode()).hexdigest()[:16]


class BinhostCredentials:
    """The worker's binhost credential of each profile, shared by all its slots: the
    server keeps one per worker and profile, and a new one revokes the last, so a slot
    asking for its own would cut off the emerge of another slot mid-build."""

    def __init__(self, client: FarmClient, worker: str) -> None:
        self.client, self.worker = client, worker
        self._by_profile: dict[str, CredentialOut] = {}
        self._lock = threading.Lock()

    def of(self, profile: str) -> CredentialOut:
        with self._lock:
            if profile not in self._by_profile:
                self._by_profile[profile] = self.client.binhost_credential(self.worker,
                                                                           profile)
            return self._by_profile[profile]


class BuildRoots:
    def __init__(self, client: FarmClient, work_dir: Path, distdir: Path, *, worker: str,
                 chroots: Path, timeout_s: float, credentials: BinhostCredentials,
                 ca_file: Path | None = None) -> None:
        self.client = client
        self.ca_file = ca_file
        self.work_dir = work_dir
        self.distdir = distdir
        self.worker = worker
        self.chroots = chroots
        self.timeout_s = timeout_s
        self.credentials = credentials
        self.chosts: dict[str, str] = {}  # each profile's CHOST, as its last checkout said
        private_dir(work_dir)
        private_dir(chroots)
        distdir.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def prepare(self, profile_name: str, log: BinaryIO, *,
                pinned: Mapping[str, str] | None = None,
                cancel: Callable[[], bool] | None = None) -> Iterator[EmergeTarget]:
        """The root to build `profile_name` in, for the length of the `with`; `pinned`
        repositories (a plan's snapshot) replace the current locations."""
        profile = checkout_profile(self.client, profile_name,
                                   self.work_dir / "profiles" / profile_name, pinned)
        self.chosts[profile_name] = profile.out.chost
        if profile.out.root is None:
            node = self._prefix(profile)
            say(log, f"build root: prefix {node}")
            self._drop_chroot(profile_name)
            yield PrefixTarget(node)
            return
        with self._chroot(profile, profile.out.root, log, cancel) as target:
            yield target

    def _layer(self, profile: ProfileCheckout, distdir: Path, repositories: Mapping[str, Path],
               ca_file: Path | None) -> NodeLayer:
        """This worker's layer for a build root of `profile`: the root gets a credential
        that reads only that profile's binhost and the mirror, never the worker's token."""
        name = profile.out.name
        cred = self.credentials.of(name)
        base = self.client.base_url
        return NodeLayer(distdir=distdir, repositories=repositories,
                         extra=dict(profile.out.flag_overrides),
                         mirrors=(farm_uri(base, "mirror", cred.user, cred.secret),),
                         binhost=binhost_uri(base, name, cred.user, cred.secret),
                         farm_keys=self.client.public_keys(), ca_file=ca_file)

    def _prefix(self, profile: ProfileCheckout) -> Path:
        node = self.work_dir / "roots" / root_name(profile.out.name)
        write_node(node, profile.tree, profile.make_profile,
                   self._layer(profile, self.distdir, profile.repositories, self.ca_file))
        missing = link_toolchain(node, profile.out.chost)
        if missing:
            raise InvalidInput(f"this worker has no compiler for CHOST {profile.out.chost} "
                               f"({', '.join(missing)})")
        return node

    @contextlib.contextmanager
    def _chroot(self, profile: ProfileCheckout, root: RootOut, log: BinaryIO,
                cancel: Callable[[], bool] | None) -> Iterator[EmergeTarget]:
        check_sandbox_tools()
        copy = ChrootCopy(self.chroots / profile.out.name)
        scratch = self.work_dir / "chroot-build"
        shutil.rmtree(scratch, ignore_errors=True)  # a build that was killed
        try:
            binds = self._write_chroot_config(profile, copy, scratch)
            self._bring_up_to_date(profile, root, copy, binds, scratch, log, cancel)
            with copy.locked(exclusive=False):
                state = copy.state()
                if state is None or state.digest != root.digest:
                    raise Unavailable(f"the chroot root of {profile.out.name!r} was replaced "
                                      "while this build started; it will be retried")
                say(log, f"build root: chroot {copy.directory} (archive {root.digest[:12]}"
                          f" from {root.source}, {len(state.layers)} @system layer(s)), "
                          "in a throwaway layer; EPREFIX is empty, ROOT is /")
                overlay = copy.overlay(scratch / "layer")
                overlay.create()
                yield ChrootTarget(Sandbox(overlay, binds), scratch / "binpkgs")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _write_chroot_config(self, profile: ProfileCheckout, copy: ChrootCopy,
                             scratch: Path) -> tuple[Bind, ...]:
        """This build's etc/portage and PKGDIR, and the binds that put them in the root."""
        in_root = {name: _ROOT_REPOS / name for name in profile.repositories}
        etc = scratch / "etc-portage"
        write_config(etc, profile.tree, profile.make_profile,
                     self._layer(profile, _ROOT_DISTDIR, in_root,
                                 _ROOT_CA if self.ca_file else None),
                     portage_user=_has_user(copy.base, "portage"))
        (scratch / "binpkgs").mkdir(parents=True)
        return (Bind(etc, "/etc/portage"),
                *((Bind(self.ca_file, str(_ROOT_CA)),) if self.ca_file else ()),
                Bind(self.distdir, str(_ROOT_DISTDIR), writable=True),
                Bind(scratch / "binpkgs", PKGDIR_IN_ROOT, writable=True),
                *(Bind(location, str(in_root[name]))
                  for name, location in sorted(profile.repositories.items())))

    def _bring_up_to_date(self, profile: ProfileCheckout, root: RootOut, copy: ChrootCopy,
                          binds: tuple[Bind, ...], scratch: Path, log: BinaryIO,
                          cancel: Callable[[], bool] | None) -> None:
        """Unpack the archive if this copy is not of it, and update @system from the farm's
        binaries if the profile, a repository or the generation changed since the last
        update. Changes wait for running builds (the lock); a failed update changes nothing."""
        wanted = _system_state(profile, root)
        state = copy.state()
        if state is not None and state.digest == root.digest and state.system_state == wanted:
            return
        with copy.locked(exclusive=True):
            state = copy.state()
            if state is None or state.digest != root.digest:
                say(log, f"fetching the chroot root {root.digest[:12]} ({root.size} bytes)")
                archive = copy.directory / "archive.download"
                try:
                    self.client.download_root_archive(profile.out.name, archive)
                    copy.install_base(archive, root.digest, root.generation)
                finally:
                    archive.unlink(missing_ok=True)
                state = copy.state()
            if state is not None and state.system_state != wanted:
                self._update_system(copy, root.generation, wanted, binds, scratch, log,
                                    cancel)
            self._report(profile.out.name, copy)

    def _update_system(self, copy: ChrootCopy, generation: int, wanted: str,
                       binds: tuple[Bind, ...], scratch: Path, log: BinaryIO,
                       cancel: Callable[[], bool] | None) -> None:
        say(log, "bringing the chroot root up to date with @system from the farm's binaries "
                  "(its profile, a repository or its generation changed)")
        overlay = copy.overlay(copy.new_layer_scratch())
        overlay.create()
        result = run_emerge(ChrootTarget(Sandbox(overlay, binds), scratch / "binpkgs"),
                            _SYSTEM_UPDATE, log, timeout_s=self.timeout_s, cancel=cancel)
        installed = overlay.upper / "var/db/pkg"
        if not result.ok:
            shutil.rmtree(overlay.upper.parent, ignore_errors=True)
            say(log, "@system could not be updated from the farm's binaries; this build "
                      "uses the root as it was (the update is tried again next build)")
        elif installed.is_dir() and any(installed.iterdir()):
            state = copy.keep_layer(overlay, generation, wanted)
            say(log, f"kept the @system update as layer {state.layers[-1]}")
        else:
            shutil.rmtree(overlay.upper.parent, ignore_errors=True)
            copy.mark(generation, wanted)
            say(log, "@system was already up to date")

    def _report(self, profile: str, copy: ChrootCopy) -> None:
        state = copy.state()
        if state is None:
            return
        self.client.report_root_copy(profile, RootCopyIn(
            worker=self.worker, digest=state.digest, generation=state.generation,
            layers=len(state.layers), disk_bytes=copy.disk_bytes(),
            system_state=state.system_state))

    def _drop_chroot(self, profile: str) -> None:
        """A profile that went back to a prefix root: its chroot copy is disk to give back."""
        copy = ChrootCopy(self.chroots / profile)
        if copy.directory.exists():
            with copy.locked(exclusive=True):
                copy.remove()


def _system_state(profile: ProfileCheckout, root: RootOut) -> str:
    """What the root's @system must match: the archive, the generation, the profile's
    tree and the repositories' revisions."""
    parts = {"digest": root.digest, "generation": root.generation,
             "tree": tree_digest(profile.tree, profile.make_profile),
             "repositories": {n: revision_of(loc) for n, loc in profile.repositories.items()}}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _has_user(root: Path, name: str) -> bool:
    try:
        lines = (root / "etc/passwd").read_text().splitlines()
    except OSError:
        return False
    return any(line.split(":", 1)[0] == name for line in lines)


def say(log: BinaryIO, message: str) -> None:
    log.write(f">>> binfarm: {message}\n".encode())
    log.flush()
