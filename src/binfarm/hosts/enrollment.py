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
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
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
from binfarm.store.changes import Changes
from binfarm.tokens import Role, Token, TokenStore
from binfarm.trust.hosttree import check_host_tree

__all__ = ["Enrollment", "HostState"]

log = logging.getLogger(__name__)

_SILENT_S = 86400.0  # a fleet machine that has not reported for a day


class HostState(StrEnum):
    CURRENT = "current"
    OUTDATED = "outdated"  # the profile has newer versions of what it has installed
    SILENT = "silent"
    UNREPORTED = "unreported"  # registered, never reported


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
    changes: Changes
    _best: dict[str, tuple[int, tuple[str, ...], dict[str, str]]] = field(
        default_factory=dict, init=False, repr=False, compare=False)

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

    def states(self, now: float) -> list[tuple[Host, HostState, list[str]]]:
        """Each fleet machine, whether it is current, and what it has that is outdated."""
        hosts = self.hosts.list()
        stale = self.out_of_date_by_host(hosts)
        return [(h, HostState.UNREPORTED if h.last_report_at is None else
                 HostState.SILENT if now - h.last_report_at > _SILENT_S else
                 HostState.OUTDATED if stale[h.name] else HostState.CURRENT, stale[h.name])
                for h in hosts]

    def out_of_date(self, host: Host) -> list[str]:
        """Installed packages for which the host's profile has a newer visible version."""
        return self.out_of_date_by_host([host])[host.name]

    def out_of_date_by_host(self, hosts: Sequence[Host]) -> dict[str, list[str]]:
        """`out_of_date` of each host, asking Portage once per profile."""
        members: dict[str, list[Host]] = defaultdict(list)
        for host in hosts:
            members[host.profile].append(host)
        found: dict[str, list[str]] = {}
        for profile, group in members.items():
            best = self._best_versions(profile, {cp_of(cpv) for h in group
                                                 for cpv in h.installed})
            for host in group:
                installed = {cp_of(cpv): cpv for cpv in host.installed}
                found[host.name] = sorted(f"{cpv} -> {best[cp]}"
                                          for cp, cpv in installed.items()
                                          if best.get(cp) and best[cp] != cpv)
        return found

    def _best_versions(self, profile_name: str, cps: set[str]) -> dict[str, str]:
        """Portage's best visible version of each package, kept until the farm changes
        (a sync, a profile edit and a host report are all writes): the dashboard and the
        metrics ask on every look."""
        if not cps:
            return {}
        asked = tuple(sorted(cps))
        kept = self._best.get(profile_name)
        if kept and kept[0] == self.changes.value and kept[1] == asked:
            return kept[2]
        seen = self.changes.value
        profile = self.profiles.get(profile_name)
        node = self.profiles.query_node(profile, self.node_layer(profile.name))
        best = self.helper.best_versions(node, list(asked))
        self._best[profile_name] = (seen, asked, best)
        return best

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
