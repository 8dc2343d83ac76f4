"""Keep the published tree up to date: `publish_all` writes every profile's channels whose
generation moved; `run` (a thread of `serve`) does so whenever something changed, and at
the moment a soak time ends."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

from binfarm.publish.indexes import Indexes
from binfarm.publish.tree import PublishedTree, Written
from binfarm.rollout.channels import Channel

__all__ = ["Published", "Publisher"]

log = logging.getLogger(__name__)

_IDLE_S = 3600.0  # with no soak time pending, a look an hour (a clock that jumped)


@dataclass(frozen=True)
class Published:
    profile: str
    channel: Channel
    written: Written


class Publisher:
    def __init__(self, indexes: Indexes, tree: PublishedTree,
                 profiles: Callable[[], list[str]], clock: Callable[[], float]) -> None:
        self.indexes = indexes
        self.tree = tree
        self.profiles = profiles
        self.clock = clock
        self._lock = threading.Lock()  # one publisher at a time: the loop, `binfarm publish`
        # Why the last round failed (None: it did not), for the dashboard.
        self.failure: str | None = None

    def publish_all(self) -> list[Published]:
        """Write what moved; a failure is kept (`failure`) until a round succeeds."""
        try:
            done = self._publish_all()
        except Exception as exc:
            self.failure = str(exc) or type(exc).__name__
            raise
        self.failure = None
        return done

    def _publish_all(self) -> list[Published]:
        with self._lock:
            done = []
            for profile in self.profiles():
                for channel in Channel:
                    index = self.indexes.get(profile, channel)
                    written = self.tree.write(profile, channel.value, index.state,
                                              index.header, index.listed)
                    if written.created:
                        log.info("published profile=%s channel=%s generation=%s packages=%s",
                                 profile, channel, written.generation, written.packages)
                    done.append(Published(profile, channel, written))
            return done

    def _next_soak_end(self) -> float:
        return min((self.indexes.get(p, c).valid_until for p in self.profiles()
                    for c in Channel), default=math.inf)

    def run(self, stop: threading.Event) -> None:
        self.tree.check_filesystem()
        changes = self.indexes.changes
        seen = -1
        while not stop.is_set():
            if changes.value != seen:
                seen = changes.value
                try:
                    self.publish_all()
                except Exception:  # the loop must outlive one failed round
                    log.exception("publishing failed")
            wait = min(_IDLE_S, max(0.0, self._next_soak_end() - self.clock()))
            if wait == 0.0:
                seen = -1  # a soak time ended: publish again
                continue
            # Woken by a change, or by `stop` (serve bumps the counter when it stops).
            changes.wait(seen, wait)
