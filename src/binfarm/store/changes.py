"""A counter of changes to what binhost indexes list, for caches and for the publisher.

Whatever may change a channel's listing moves it: the catalog (an instance stored,
re-signed, collected), rollout (an event, a rule, a report), and every write through the
API (the server moves it after each, see server/app.py). Readers compare the value they
built from with the current one; the publisher waits on it.
"""

from __future__ import annotations

import threading

__all__ = ["Changes"]


class Changes:
    def __init__(self) -> None:
        self._value = 0
        self._moved = threading.Condition()

    @property
    def value(self) -> int:
        return self._value

    def bump(self) -> None:
        with self._moved:
            self._value += 1
            self._moved.notify_all()

    def wait(self, seen: int, timeout_s: float) -> int:
        """Wait until the value is no longer `seen`, or `timeout_s`; return it."""
        with self._moved:
            self._moved.wait_for(lambda: self._value != seen, timeout_s)
            return self._value
