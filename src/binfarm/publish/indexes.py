"""Each channel's index, built once per change and kept: a repeat GET, a 304 and the
publisher cost no rendering.

A built index is valid while nothing changed (store/changes.py: the catalog, rollout and
every write through the API move the counter) and until the moment a soak time ends in its
profile, when the rule may promote what it did not before: invalidated by what changes
it, never by a timer.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from binfarm.rollout.channels import Channel
from binfarm.rollout.views import ChannelViews
from binfarm.store.catalog import Catalog, IndexState, Instance
from binfarm.store.changes import Changes
from binfarm.store.index import blocks_digest, entry_block, entry_order, index_text

__all__ = ["BuiltIndex", "Indexes"]


@dataclass(frozen=True)
class BuiltIndex:
    listed: tuple[Instance, ...]
    state: IndexState
    header: Mapping[str, str]
    encoded: bytes = field(repr=False)  # the Packages file: kept once, as bytes
    # Rebuild after this moment even if nothing changed (a soak time ends).
    valid_until: float
    by_path: dict[str, Instance] = field(repr=False)

    @property
    def text(self) -> str:
        return self.encoded.decode()

    @cached_property
    def gzipped(self) -> bytes:
        """Packages.gz, made when first asked for."""
        return gzip.compress(self.encoded, compresslevel=6, mtime=0)

    @property
    def timestamp(self) -> int:
        return self.state.timestamp

    @property
    def digest(self) -> str:
        return self.state.digest


class Indexes:
    def __init__(self, channels: ChannelViews, catalog: Catalog,
                 header: Callable[[str], Mapping[str, str]], changes: Changes,
                 clock: Callable[[], float]) -> None:
        self.channels = channels
        self.catalog = catalog
        self.header = header
        self.changes = changes
        self.clock = clock
        self._built: dict[tuple[str, Channel], tuple[int, BuiltIndex]] = {}
        # Each instance's block of index text, made once per file (SHA-256).
        self._blocks: dict[int, tuple[str, tuple[str, int, str], str]] = {}
        self._lock = threading.Lock()

    def get(self, profile: str, channel: Channel) -> BuiltIndex:
        seen = self.changes.value
        with self._lock:
            held = self._built.get((profile, channel))
        if held is not None and held[0] == seen and self.clock() < held[1].valid_until:
            return held[1]
        built = self._build(profile, channel)
        # Reading a channel may promote (the rule), which moves the counter: built again
        # from that state, the index is kept as of it (a later change is seen next time).
        for _ in range(2):
            if self.changes.value == seen:
                break
            seen = self.changes.value
            built = self._build(profile, channel)
        with self._lock:
            self._built[(profile, channel)] = (seen, built)
        return built

    def _build(self, profile: str, channel: Channel) -> BuiltIndex:
        listed, valid_until = self.channels.listed_until(profile, channel)
        parts = []
        for instance in listed:
            held = self._blocks.get(instance.id)
            if held is None or held[0] != instance.sha256:
                entry = instance.index_entry()
                held = self._blocks[instance.id] = (instance.sha256, entry_order(entry),
                                                    entry_block(entry))
            parts.append(held)
        if len(self._blocks) > 4 * len(listed) + 10_000:  # mostly collected ones
            self._blocks = {i.id: self._blocks[i.id] for i in listed}
        parts.sort(key=lambda part: part[1])
        blocks = [part[2] for part in parts]
        state = self.catalog.index_state(profile, channel, listed, blocks_digest(blocks))
        header = self.header(profile)
        text = index_text(header, blocks, timestamp=state.timestamp)
        return BuiltIndex(tuple(listed), state, header, text.encode(), valid_until,
                          {i.path: i for i in listed})
