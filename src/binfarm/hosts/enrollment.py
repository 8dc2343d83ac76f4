"""Enrollment: fleet machines register, follow their configuration, report, are moved.

A machine joins the profile whose stored tree is identical to its configuration (any one
with the admin's token, only its enrollment token's own profile otherwise), or gets its
own `host-NAME` profile, derived from a base, from a tree the host rules
(trust/hosttree.py) allow. A host never moves itself into another existing profile; the
admin does (`move`). `out_of_date` asks Portage for the profile's best versions.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from binfarm.errors import InvalidInput
from binfarm.gentoo.configroot import NodeLayer
from binfarm.gentoo.pool import PortageHelper
from binfarm.hosts.registry import Host, HostRegistry, check_host_name
from binfarm.keys.cpv import cp_of
from binfarm.profiles.archive import drop_machine_local, tree_digest, unpack_tree
from binfarm.profiles.model import MakeProfileRef
from binfarm.profiles.registry import Profile, ProfileRegistry
from binfarm.repositories import RepositoryRegistry
from binfarm.tokens import Role, Token, TokenStore
from binfarm.trust.hosttree import check_host_tree

__all__ = ["Enrollment"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Enrollment:
    """The host use cases, over the registries `Farm` wires in; `node_layer` and
    `add_profile` are the Farm's own (a host's profile is made as any profile is)."""

    hosts: HostRegistry
    profiles: ProfileRegistry
    tokens: TokenStore
    repositories: RepositoryRegistry
    helper: PortageHelper
    scratch: Path
    max_tree_bytes: int
    node_layer: Callable[[str | None], NodeLayer]
    add_profile: Callable[..., Profile]

    def register(self, name: str, packed_tree: bytes, make_profile: MakeProfileRef | None,
                 *, arch: str, cpu_features: frozenset[str], base: str | None = None,
                 token: Token | None = None) -> tuple[Host, str]:
        """Keep a machine's configuration as a profile and give the machine a client token
        for it. An identical profile is joined: any one with the admin's token, only its own
        base profile with an enrollment token (used up by this). Refused if the machine's
        CPU cannot run what the profile's binaries need."""
        name = check_host_name(name)
        enrolling = token is not None and token.role == Role.ENROLL
        if enrolling:
            assert token is not None
            if base is not None and base != token.profile:
                raise InvalidInput(f"this enrollment token registers machines for profile "
                                   f"{token.profile!r}, not {base!r}")
            base = token.profile
        if base is not None:
            self.profiles.get(base)
        with self.tokens.used_once(token) if enrolling and token else contextlib.nullcontext():
            profile = self._profile_for(name, packed_tree, make_profile, cpu_features, base,
                                        joinable={base} if enrolling and base else None)
            previous = self.hosts.find(name)
            if previous is not None and previous.token is not None:
                self.tokens.revoke(str(previous.token))
            created, secret = self.tokens.create(f"host-{name}", Role.CLIENT,
                                                 profile=profile.name)
            host = self.hosts.upsert(name, profile=profile.name, arch=arch,
                                     cpu_features=cpu_features, token=created.id)
        log.info("host registered host=%s profile=%s", name, profile.name)
        return host, secret

    def update_config(self, name: str, packed_tree: bytes,
                      make_profile: MakeProfileRef | None) -> Host:
        """The machine's configuration changed: follow it in the host's own profile. A host
        never moves itself into another existing profile (`move` is the admin's)."""
        host = self.hosts.get(name)
        base = self.profiles.get(host.profile).base or (
            host.profile if not host.profile.startswith("host-") else None)
        profile = self._profile_for(name, packed_tree, make_profile, host.cpu_features, base,
                                    joinable={host.profile})
        return self._rebind(host, profile)

    def move(self, name: str, profile_name: str) -> Host:
        """Put a host into another profile (the admin's decision); its CPU must fit."""
        host = self.hosts.get(name)
        profile = self.profiles.get(profile_name)
        _check_fits(name, host.cpu_features, profile)
        return self._rebind(host, profile)

    def _rebind(self, host: Host, profile: Profile) -> Host:
        if profile.name == host.profile:
            return host
        if host.token is not None:
            self.tokens.rebind(host.token, profile.name)
        log.info("host moved host=%s profile=%s", host.name, profile.name)
        return self.hosts.upsert(host.name, profile=profile.name, arch=host.arch,
                                 cpu_features=host.cpu_features, token=host.token)

    def report(self, name: str, result: str, installed: list[str],
               binpkgs: dict[str, str]) -> Host:
        return self.hosts.report(name, result, installed, binpkgs)

    def out_of_date(self, host: Host) -> list[str]:
        """Installed packages for which the host's profile has a newer visible version."""
        if not host.installed:
            return []
        profile = self.profiles.get(host.profile)
        node = self.profiles.query_node(profile, self.node_layer(profile.name))
        installed = {cp_of(cpv): cpv for cpv in host.installed}
        best = self.helper.best_versions(node, sorted(installed))
        return sorted(f"{cpv} -> {best[cp]}" for cp, cpv in installed.items()
                      if best.get(cp) and best[cp] != cpv)

    def shared_layer(self, host_name: str) -> dict[str, bytes]:
        """The `01*` files of the profile a host takes its shared configuration from."""
        host = self.hosts.get(host_name)
        profile = self.profiles.get(host.profile)
        source = self.profiles.get(profile.base) if profile.base else profile
        return {str(p.relative_to(source.tree)): p.read_bytes()
                for p in sorted(source.tree.rglob("01*")) if p.is_file()}

    def _profile_for(self, host: str, packed_tree: bytes, make_profile: MakeProfileRef | None,
                     cpu_features: frozenset[str], base: str | None, *,
                     joinable: set[str] | None = None) -> Profile:
        """The profile for a host's configuration: an identical existing one (among
        `joinable`, or any), else the host's own, made from a tree the host rules allow."""
        with tempfile.TemporaryDirectory(dir=self.scratch) as tmp:
            tree = Path(tmp) / "tree"
            unpack_tree(packed_tree, tree, max_bytes=self.max_tree_bytes)
            drop_machine_local(tree)
            profile = self.profiles.find_by_digest(tree_digest(tree, make_profile), joinable)
            if profile is None:
                check_host_tree(tree, repositories=set(self.repositories.locations()),
                                base=self.profiles.get(base).tree if base else None)
        if profile is not None:
            _check_fits(host, cpu_features, profile)
            return profile
        own = f"host-{host}"
        if self.profiles.find(own) is not None:
            return self.profiles.replace_tree(own, packed_tree, make_profile, self.node_layer(own),
                                              max_bytes=self.max_tree_bytes)
        return self.add_profile(own, packed_tree, make_profile, base=base,
                                cpu=" ".join(sorted(cpu_features)) or None)


def _check_fits(host: str, cpu_features: frozenset[str], profile: Profile) -> None:
    if missing := sorted(profile.cpu_features - cpu_features):
        raise InvalidInput(f"host {host}'s CPU lacks {', '.join(missing)}, which "
                           f"profile {profile.name} ({profile.cpu_spec}) needs")
