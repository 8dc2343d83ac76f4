"""Test runs: where a profile's rule asks for tests, each instance in testing gets a build
of its own, of the same package with the same overrides plus FEATURES=test, that runs the
package's test suite (src_test) and packages nothing: its USE=test binary never reaches a
store, let alone the fleet. Its outcome is the instance's test verdict (rollout/service.py).

A test run has a key of its own, derived from the instance's: FEATURES=test leaves the
build key as it was for a package without IUSE=test, and a test run must neither join
that package's builds nor be answered by its stored instance.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from binfarm.queue.service import Build, BuildQueue, Requester
from binfarm.store.catalog import Instance

__all__ = ["TestRuns", "test_key"]

_REQUESTER = Requester("rollout tests")


def test_key(key: str) -> str:
    return hashlib.sha256(f"test run of {key}".encode()).hexdigest()


class TestRuns:
    __test__ = False  # not a pytest class, whatever its name

    def __init__(self, queue: BuildQueue, wake: Callable[[], None]) -> None:
        self.queue = queue
        self.wake = wake

    def request(self, instances: Sequence[Instance]) -> list[Build]:
        """Queue a test run of each instance, in the profile that built it."""
        queued = []
        for instance in instances:
            env = dict(self.queue.get(instance.build).env) if instance.build else {}
            env["FEATURES"] = " ".join([*env.get("FEATURES", "").split(), "test"])
            queued.append(self.queue.request(
                profile=instance.profile, atom=f"={instance.cpv}", cpv=instance.cpv,
                key=test_key(instance.key), required_isa=instance.required_isa, env=env,
                priority=0, requester=_REQUESTER, tests_instance=instance.id))
        if queued:
            self.wake()
        return queued
