"""Request dependencies: the Farm behind the app, and the token a mutating call needs."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from binfarm.farm import Farm
from binfarm.tokens import Token

__all__ = ["AdminToken", "FarmDep"]

_bearer = HTTPBearer(auto_error=False)


def get_farm(request: Request) -> Farm:
    farm: Farm = request.app.state.farm
    return farm


FarmDep = Annotated[Farm, Depends(get_farm)]


async def require_token(
    farm: FarmDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Token:
    secret = credentials.credentials if credentials else None
    return await run_in_threadpool(farm.tokens.verify, secret)


AdminToken = Annotated[Token, Depends(require_token)]
