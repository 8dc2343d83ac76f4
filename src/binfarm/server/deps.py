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

__all__ = ["AdminToken", "BinhostReader", "FarmDep", "RequesterToken", "WorkerToken"]

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


async def binhost_reader(profile: str, request: Request, farm: FarmDep) -> None:
    """Check binhost credentials: Portage sends `user:TOKEN@` from binrepos.conf as Basic
    auth. Sent ones must be valid and may be a client token of this profile only."""
    header = request.headers.get("authorization", "")
    secret = None
    if header.lower().startswith("basic "):
        try:
            secret = base64.b64decode(header[6:]).decode().partition(":")[2]
        except (ValueError, UnicodeDecodeError):
            secret = ""
    if secret is None:
        if farm.settings.server.binhost_auth == "required":
            raise Denied("this binhost needs credentials (sync-uri = http://HOST:TOKEN@...)")
        return
    address = request.client.host if request.client else None
    token = await run_in_threadpool(farm.tokens.verify, secret, address)
    if token.role == Role.CLIENT and token.profile != profile:
        raise Forbidden(f"token {token.name!r} may not read profile {profile!r}'s binhost")


BinhostReader = Depends(binhost_reader)
AdminToken = Annotated[Token, Depends(_role(Role.ADMIN))]
WorkerToken = Annotated[Token, Depends(_role(Role.ADMIN, Role.WORKER))]
RequesterToken = Annotated[Token, Depends(_role(Role.ADMIN, Role.CLIENT))]
