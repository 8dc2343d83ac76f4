"""API tokens: create (the secret is shown once), list, revoke. Admin only."""

from __future__ import annotations

from fastapi import APIRouter, status

from binfarm.api.models import NewTokenOut, TokenIn, TokenOut
from binfarm.server.deps import AdminToken, FarmDep
from binfarm.server.routes.convert import token_out
from binfarm.tokens import Role

__all__ = ["router"]

router = APIRouter(tags=["tokens"])


@router.post("/tokens", status_code=status.HTTP_201_CREATED)
def create_token(body: TokenIn, farm: FarmDep, _token: AdminToken) -> NewTokenOut:
    """A new token; a client token is bound to one profile, any token may be bound to
    networks."""
    if body.profile is not None:
        farm.profiles.get(body.profile)
    created, secret = farm.tokens.create(body.name, Role(body.role), profile=body.profile,
                                         networks=body.networks)
    return NewTokenOut(**token_out(created).model_dump(), secret=secret)


@router.get("/tokens")
def list_tokens(farm: FarmDep, _token: AdminToken) -> list[TokenOut]:
    return [token_out(t) for t in farm.tokens.list()]


@router.delete("/tokens/{name_or_id}")
def revoke_token(name_or_id: str, farm: FarmDep, _token: AdminToken) -> TokenOut:
    """Revoke a token by name (the newest of that name) or id."""
    return token_out(farm.tokens.revoke(name_or_id))
