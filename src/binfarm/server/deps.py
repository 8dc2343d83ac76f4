"""Request dependencies: the Farm behind the app, and the token a mutating call needs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from binfarm.errors import Forbidden
from binfarm.farm import Farm
from binfarm.tokens import Role, Token

__all__ = ["AdminToken", "FarmDep", "RequesterToken", "WorkerToken"]

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


AdminToken = Annotated[Token, Depends(_role(Role.ADMIN))]
WorkerToken = Annotated[Token, Depends(_role(Role.ADMIN, Role.WORKER))]
RequesterToken = Annotated[Token, Depends(_role(Role.ADMIN, Role.CLIENT))]
