"""Request dependencies: the Farm behind the app, and the token a mutating call needs."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from binfarm.errors import Denied, Forbidden
from binfarm.farm import Farm
from binfarm.tokens import Role, Token

__all__ = ["AdminToken", "BinhostReader", "EnrollToken", "FarmDep", "MirrorReader",
           "ReaderToken", "RequesterToken", "WorkerToken"]

_bearer = HTTPBearer(auto_error=False)


def get_farm(request: Request) -> Farm:
    farm: Farm = request.app.state.farm
    return farm


FarmDep = Annotated[Farm, Depends(get_farm)]


def _role(*roles: Role) -> Callable[..., Awaitable[Token]]:
    async def check(
        request: Request,
        farm: FarmDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Token:
        secret = credentials.credentials if credentials else None
        address = request.client.host if request.client else None
        token = await run_in_threadpool(farm.tokens.verify, secret, address)
        if token.role not in roles:
            raise Forbidden(f"a {token.role} token may not do this (needs "
                            f"{' or '.join(r.value for r in roles)})")
        return token

    return check


async def _fetcher_token(request: Request, farm: FarmDep) -> Token | None:
    """The token a fetcher sent: Portage sends `user:TOKEN@` from a sync-uri or mirror URI
    as Basic auth (a Bearer token is taken too). None when none was sent and the farm does
    not require one."""
    header = request.headers.get("authorization", "")
    secret = None
    if header.lower().startswith("basic "):
        try:
            secret = base64.b64decode(header[6:]).decode().partition(":")[2]
        except (ValueError, UnicodeDecodeError):
            secret = ""
    elif header.lower().startswith("bearer "):
        secret = header[7:].strip()
    if secret is None:
        if farm.settings.server.binhost_auth == "required":
            raise Denied("this farm needs credentials (sync-uri = http://HOST:TOKEN@...)")
        return None
    address = request.client.host if request.client else None
    return await run_in_threadpool(farm.tokens.verify, secret, address)


async def binhost_reader(profile: str, token: Annotated[Token | None,
                                                        Depends(_fetcher_token)]) -> None:
    """Sent credentials must be valid, and a profile-bound token may read only its own
    profile's binhost."""
    if token is not None and token.role != Role.ENROLL:
        token.may_read(profile)
    elif token is not None:
        raise Forbidden("an enrollment token only registers a machine")


async def mirror_reader(token: Annotated[Token | None, Depends(_fetcher_token)]) -> None:
    """The distfiles mirror: any valid token, or none when the farm does not require one."""
    if token is not None and token.role == Role.ENROLL:
        raise Forbidden("an enrollment token only registers a machine")


BinhostReader = Depends(binhost_reader)
MirrorReader = Depends(mirror_reader)
AdminToken = Annotated[Token, Depends(_role(Role.ADMIN))]
WorkerToken = Annotated[Token, Depends(_role(Role.ADMIN, Role.WORKER))]
RequesterToken = Annotated[Token, Depends(_role(Role.ADMIN, Role.CLIENT))]
# Reads: a viewer, admin or worker sees everything; a client its own profile's (checked by
# the route with Token.may_read).
ReaderToken = Annotated[Token, Depends(_role(Role.ADMIN, Role.VIEWER, Role.WORKER,
                                             Role.CLIENT))]
EnrollToken = Annotated[Token, Depends(_role(Role.ADMIN, Role.ENROLL))]


_scraper = _role(Role.ADMIN, Role.VIEWER)  # farm-wide figures: not a profile's client


async def _metrics_reader(request: Request, farm: FarmDep,
                          credentials: Annotated[HTTPAuthorizationCredentials | None,
                                                 Depends(_bearer)]) -> Token | None:
    """An admin's or viewer's token, unless the farm lets anyone scrape
    (server.metrics_public)."""
    if farm.settings.server.metrics_public:
        return None
    return await _scraper(request, farm, credentials)


MetricsReader = Annotated[Token | None, Depends(_metrics_reader)]

