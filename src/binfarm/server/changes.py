"""Every write through the API moves the farm's change counter (store/changes.py) once it
is answered: whatever it changed (a build's outcome, a signing key's state, a profile's CPU
or root, a host's config), the cached indexes are rebuilt and the publisher looks again.
Writes that change no listing are left out: a running build's heartbeats and log chunks,
lease requests."""

from __future__ import annotations

import re
from typing import Final

from binfarm.farm import Farm
from binfarm.server.limits import ASGIApp, Receive, Scope, Send

__all__ = ["ChangesOnWrite"]

_WRITES: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_NO_CHANGE: Final = re.compile(r".*/(builds/\d+/(heartbeat|log)|worker/lease)$")


class ChangesOnWrite:
    def __init__(self, app: ASGIApp, farm: Farm) -> None:
        self.app = app
        self.farm = farm

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _WRITES \
                or _NO_CHANGE.match(scope["path"]):
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.farm.changes.bump()
