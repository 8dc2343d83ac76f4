"""Channels as the binhost and the CLI see them: a profile's instances (what its machines
can run, see store/catalog.py) narrowed to a channel's members, and the by-hand use cases
that name instances by atom or by instance (SHA-256 prefix or PATH)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from binfarm.errors import InvalidInput, NotFound
from binfarm.rollout.channels import Channel, Event
from binfarm.rollout.service import Pending, Rollout, Verdict, matches
from binfarm.store.catalog import Catalog, Instance, Viewer

__all__ = ["ChannelViews", "Entry"]

_INSTANCE_REF: Final = re.compile(r"^[0-9a-f]{8,64}$|^[^/]+/[^/]+/[0-9a-f]{16}/")


@dataclass(frozen=True)
class Entry:
    event: Event
    instance: Instance


class ChannelViews:
    def __init__(self, catalog: Catalog, rollout: Rollout,
                 viewer: Callable[[str], Viewer]) -> None:
        self.catalog = catalog
        self.rollout = rollout
        self.viewer = viewer

    def listed(self, profile: str, channel: Channel) -> list[Instance]:
        """What the channel's index lists: one instance per package version and USE."""
        return self.listed_until(profile, channel)[0]

    def listed_until(self, profile: str, channel: Channel) -> tuple[list[Instance], float]:
        """What the channel lists, and until when at the latest: the moment a soak time
        ends, when the rule may promote what it did not before (infinity: no such
        moment)."""
        ends = [math.inf]

        def among(fitting: list[Instance]) -> list[Instance]:
            members = self.rollout.members(profile, channel, fitting)
            ends.append(self.rollout.soak_ends(profile, fitting))
            return members

        return self.catalog.visible_to(self.viewer(profile), among=among), min(ends)

    def find(self, profile: str, channel: Channel, path: str) -> Instance:
        """The instance served at `path`: only while it is in the channel (the rule
        applied first, as for the index: a file may be asked for before any index)."""
        instance = self.catalog.find(self.viewer(profile), path)
        if not self.rollout.members(profile, channel, [instance]):
            raise NotFound(f"no package {path!r} in this binhost")
        return instance

    def pending(self, profile: str) -> list[Pending]:
        """What testing lists that stable does not yet, and what each waits for."""
        return self.rollout.pending(profile, self.listed(profile, Channel.TESTING))

    def promote(self, profile: str, ref: str, actor: str) -> list[Instance]:
        """Promote an instance, or testing's current instances of an atom, to stable."""
        chosen = self._named(profile, ref)
        return self.rollout.promote(profile, chosen, actor)

    def withdraw(self, profile: str, ref: str, actor: str, reason: str) -> list[Instance]:
        return self.rollout.withdraw(profile, self._named(profile, ref), actor, reason)

    def rollback(self, profile: str, atom: str, actor: str) -> list[tuple[Instance, Instance]]:
        viewer = self.viewer(profile)
        return self.rollout.rollback(profile, atom, self.listed(profile, Channel.STABLE),
                                     self.catalog.fitting(viewer), actor)

    def report(self, profile: str, host: str, channel: Channel,
               installed: list[tuple[str, str]], verdict: Verdict,
               output: str) -> list[Instance]:
        """A host's verdict on what it installed, each (cat/pf, MD5 of the file as its
        package database records it): every one must be a file this farm serves."""
        viewer = self.viewer(profile)
        chosen = []
        for cpv, md5 in installed:
            match = [i for i in self.catalog.for_cpv(cpv)
                     if i.entry.get("MD5") == md5 and viewer.fit(i).ok]
            if not match:
                raise InvalidInput(f"{cpv} with MD5 {md5} is no package this farm serves "
                                   f"{profile}: built elsewhere, or substituted on the way")
            chosen.append(match[0])
        for instance in chosen:
            self.rollout.report(profile, host, channel, instance, verdict, output)
        return chosen

    def history(self, profile: str, atom: str | None = None) -> list[Entry]:
        events = self.rollout.history(profile)
        instances = {i.id: i for i in self.catalog.by_ids({e.instance for e in events})}
        return [Entry(e, instances[e.instance]) for e in events
                if atom is None or matches(atom, instances[e.instance].cpv)]

    def _named(self, profile: str, ref: str) -> list[Instance]:
        if _INSTANCE_REF.match(ref):
            instance = self.catalog.lookup(ref)
            if not self.viewer(profile).fit(instance).ok:
                raise InvalidInput(f"{instance.path} is not for {profile}'s machines")
            return [instance]
        chosen = [i for i in self.listed(profile, Channel.TESTING) if matches(ref, i.cpv)]
        if not chosen:
            raise NotFound(f"the testing channel of {profile} lists nothing matching {ref!r}")
        return chosen
