"""Retention use cases: plan a collection, collect, pin, and measure the store.

Collecting is crash-safe by its order: the instances to delete are first marked collected
in one transaction (from then on no channel lists them, see store/catalog.py), and only
then are their files unlinked. A collection killed half way leaves marked instances whose
files may remain; the next one unlinks those first. No index ever lists a missing file.
Files of the store that no instance names (a resigned package's unsigned original, an
upload cut off before it was catalogued) go once older than the grace period, and never
younger than an hour (an upload under way, a file adopted but not yet catalogued).
"""

from __future__ import annotations

import contextlib
import os
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, delete, insert, select

from binfarm.db.tables import pins
from binfarm.errors import InvalidInput, NotFound
from binfarm.hosts.registry import HostRegistry
from binfarm.keys.cpv import cp_of
from binfarm.retention.policy import Decision, Needs, Policy, decide
from binfarm.rollout.channels import Channel
from binfarm.rollout.views import ChannelViews
from binfarm.store.blobs import BlobStore
from binfarm.store.catalog import Catalog, Instance

__all__ = ["Collection", "Pin", "Plan", "Retention", "Usage"]

_STRAY_AGE_S = 3600


@dataclass(frozen=True)
class Plan:
    policy: Policy
    decisions: list[Decision]
    # Files in the store no instance names, old enough to go: (path, bytes).
    strays: list[tuple[Path, int]]

    @property
    def doomed(self) -> list[Instance]:
        return [d.instance for d in self.decisions if not d.kept]

    @property
    def freed_bytes(self) -> int:
        return sum(i.size for i in self.doomed) + sum(size for _, size in self.strays)


@dataclass(frozen=True)
class Collection:
    instances: int
    strays: int
    freed_bytes: int
    # Instances a collection killed half way had marked, whose files went now.
    finished: int


@dataclass(frozen=True)
class Pin:
    instance: Instance
    actor: str
    reason: str
    at: float


@dataclass(frozen=True)
class Usage:
    """Stored instances and bytes by the profile that built them, by package (cat/pn),
    and what each profile's channel lists; with the store's own size on disk."""

    by_profile: dict[str, tuple[int, int]]
    by_package: dict[str, tuple[int, int]]
    by_channel: dict[tuple[str, str], tuple[int, int]]
    disk_bytes: int


class Retention:
    def __init__(self, engine: Engine, catalog: Catalog, channels: ChannelViews,
                 hosts: HostRegistry, blobs: BlobStore, profiles: Callable[[], list[str]],
                 clock: Callable[[], float]) -> None:
        self.engine = engine
        self.catalog = catalog
        self.channels = channels
        self.hosts = hosts
        self.blobs = blobs
        self.profiles = profiles
        self.clock = clock

    # -- gc ------------------------------------------------------------------------------

    def plan(self, policy: Policy) -> Plan:
        if min(policy.grace_s, policy.generations_s, policy.hosts_s, policy.keep) < 0:
            raise InvalidInput("retention periods and counts are never negative")
        now = self.clock()
        alive = self.catalog.alive()
        needs = Needs(self._listed(), self._generations(now - policy.generations_s),
                      self._installed(alive, now - policy.hosts_s),
                      {p.instance.id: f"by {p.actor}: {p.reason}" for p in self.pins()})
        named = {i.sha256 for i in alive} | {i.sha256 for i in self.catalog.collected()}
        return Plan(policy, decide(alive, needs, policy, now),
                    self._strays(named, now - max(policy.grace_s, _STRAY_AGE_S)))

    def collect(self, plan: Plan) -> Collection:
        finished = 0
        for instance in self.catalog.collected():
            finished += self._unlink(self.blobs.path(instance.sha256)) > 0
        doomed = plan.doomed
        self.catalog.collect([i.id for i in doomed])
        freed = sum(self._unlink(self.blobs.path(i.sha256)) for i in doomed)
        freed += sum(self._unlink(path) for path, _ in plan.strays)
        return Collection(len(doomed), len(plan.strays), freed, finished)

    @staticmethod
    def _unlink(path: Path) -> int:
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return 0
        return size

    def _listed(self) -> dict[int, str]:
        """What every channel lists now; reading it records it as a generation too."""
        listed: dict[int, str] = {}
        for profile in self.profiles():
            for channel in Channel:
                instances = self.channels.listed(profile, channel)
                self.catalog.index_state(profile, channel, instances)
                for instance in instances:
                    listed.setdefault(instance.id, f"{profile}/{channel}")
        return listed

    def _generations(self, since: float) -> dict[int, str]:
        kept: dict[int, str] = {}
        for generation in self.catalog.generations(since):
            for instance in generation.instances:
                kept.setdefault(instance, f"{generation.profile}/{generation.channel} "
                                          f"generation {generation.generation}")
        return kept

    def _installed(self, alive: list[Instance], since: float) -> dict[int, str]:
        by_file = {(i.cpv, i.entry.get("MD5")): i.id for i in alive}
        installed: dict[int, str] = {}
        for host in self.hosts.list():
            if host.last_report_at is None or host.last_report_at < since:
                continue
            for cpv, md5 in host.binpkgs.items():
                if (found := by_file.get((cpv, md5))) is not None:
                    installed.setdefault(found, host.name)
        return installed

    def _strays(self, named: set[str], before: float) -> list[tuple[Path, int]]:
        strays = []
        for folder in (self.blobs.root / "sha256", self.blobs.root / "tmp"):
            for dirpath, _, filenames in os.walk(folder):
                for name in filenames:
                    path = Path(dirpath, name)
                    with contextlib.suppress(FileNotFoundError):
                        found = path.stat()
                        if name not in named and found.st_mtime < before:
                            strays.append((path, found.st_size))
        return sorted(strays)

    # -- pins ----------------------------------------------------------------------------

    def pin(self, ref: str, actor: str, reason: str) -> Instance:
        instance = self._alive(ref)
        with self.engine.begin() as conn:
            conn.execute(delete(pins).where(pins.c.instance == instance.id))
            conn.execute(insert(pins).values(instance=instance.id, actor=actor,
                                             reason=reason or "pinned", at=self.clock()))
        return instance

    def unpin(self, ref: str) -> Instance:
        instance = self.catalog.lookup(ref)
        with self.engine.begin() as conn:
            if not conn.execute(delete(pins).where(pins.c.instance == instance.id)).rowcount:
                raise NotFound(f"{instance.path} is not pinned")
        return instance

    def pins(self) -> list[Pin]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(pins).order_by(pins.c.at)).all()
        instances = {i.id: i for i in self.catalog.by_ids({r.instance for r in rows})}
        return [Pin(instances[r.instance], r.actor, r.reason, r.at) for r in rows]

    def _alive(self, ref: str) -> Instance:
        instance = self.catalog.lookup(ref)
        if instance.collected_at is not None:
            raise InvalidInput(f"{instance.path} was collected by `binfarm gc`: its file is "
                               "gone, build it again")
        return instance

    # -- usage ---------------------------------------------------------------------------

    def usage(self) -> Usage:
        by_profile: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        by_package: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for instance in self.catalog.alive():
            for tally in (by_profile[instance.profile], by_package[cp_of(instance.cpv)]):
                tally[0] += 1
                tally[1] += instance.size
        by_channel = {}
        for profile in self.profiles():
            for channel in Channel:
                listed = self.channels.listed(profile, channel)
                by_channel[(profile, channel.value)] = (len(listed),
                                                        sum(i.size for i in listed))
        disk = sum(Path(d, f).stat().st_size for d, _, files in os.walk(self.blobs.root)
                   for f in files)
        return Usage({k: (v[0], v[1]) for k, v in by_profile.items()},
                     {k: (v[0], v[1]) for k, v in by_package.items()}, by_channel, disk)
