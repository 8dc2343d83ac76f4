"""Request bodies: the token is checked before a byte of the body is read, and each route's
size limit is applied while reading, before anything parses it.

An ASGI middleware rather than a dependency: FastAPI reads and parses a JSON body before
it resolves dependencies, so a 400 MiB body would be in memory before the token check.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

from starlette.concurrency import run_in_threadpool

from binfarm.api.models import API_PREFIX
from binfarm.errors import BinfarmError, Denied
from binfarm.farm import Farm
from binfarm.server.errors import error_response, status_for

__all__ = ["BodyLimits"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_WITH_BODY: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Raw uploads and the setting that bounds each; every other body is JSON.
_UPLOADS: Final = (
    (re.compile(r"POST /builds/\d+/packages"), "max_package_bytes"),
    (re.compile(r"POST /builds/\d+/log"), "max_log_chunk_bytes"),
    (re.compile(r"PUT /profiles/[^/]+/root"), "max_root_bytes"),
    (re.compile(r"PUT /profiles/[^/]+|POST /hosts/[^/]+|PUT /hosts/[^/]+/config"),
     "max_profile_bytes"),
)


class BodyLimits:
    def __init__(self, app: ASGIApp, farm: Farm) -> None:
        self.app = app
        self.farm = farm

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or scope["method"] not in _WITH_BODY \
                or not path.startswith(API_PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        try:
            await self._check_token(scope)
        except BinfarmError as exc:
            status, kind = status_for(exc)
            await error_response(status, kind, str(exc), path=path)(scope, receive, send)
            return
        limit = self._limit(scope["method"], path.removeprefix(API_PREFIX))
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._too_large(scope, receive, send, limit)
            return
        received = 0
        started = refused = False

        async def counted() -> Message:
            # Past the limit: answer 413 here and tell the app the client went away, so
            # nothing it parses or answers after that reaches the client.
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit and not refused:
                    refused = True
                    if not started:
                        await self._too_large(scope, receive, send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted, watched)

    async def _check_token(self, scope: Scope) -> None:
        header = (_header(scope, b"authorization") or "").strip()
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Denied("this call needs a token (Authorization: Bearer TOKEN)")
        client = scope.get("client")
        await run_in_threadpool(self.farm.tokens.verify, secret.strip(),
                                client[0] if client else None)

    def _limit(self, method: str, route: str) -> int:
        server = self.farm.settings.server
        for pattern, setting in _UPLOADS:
            if pattern.fullmatch(f"{method} {route}"):
                return int(getattr(server, setting))
        return server.max_json_bytes

    @staticmethod
    async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        body = {"ok": False, "kind": "invalid_input", "status": 413,
                "error": f"the request body is larger than this route takes ({limit} bytes)"}
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": json.dumps(body).encode()})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None
