"""API tokens: random secrets, stored only as SHA-256 digests, each with a role.

admin may do everything; worker may run the worker protocol; client may request builds
for its one profile. A token may be limited to networks (CIDRs).
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, insert, select, update

from binfarm.db.tables import tokens
from binfarm.errors import Denied, Forbidden, InvalidInput, NotFound

__all__ = ["Role", "Token", "TokenStore"]


class Role(StrEnum):
    ADMIN = "admin"
    WORKER = "worker"
    CLIENT = "client"


@dataclass(frozen=True)
class Token:
    id: int
    name: str
    role: Role
    profile: str | None
    networks: tuple[str, ...]
    created_at: float
    revoked_at: float | None

    @classmethod
    def from_row(cls, row: Any) -> Token:
        return cls(row.id, row.name, Role(row.role), row.profile, tuple(row.networks or ()),
                   row.created_at, row.revoked_at)

    def may_request_for(self, profile: str) -> None:
        """Forbidden unless this token may ask for builds of `profile`."""
        if self.role == Role.ADMIN or (self.role == Role.CLIENT and self.profile == profile):
            return
        raise Forbidden(f"token {self.name!r} ({self.role}) may not request builds for "
                        f"profile {profile!r}")


class TokenStore:
    def __init__(self, engine: Engine, clock: Callable[[], float]) -> None:
        self.engine = engine
        self.clock = clock

    def create(self, name: str, role: Role, *, profile: str | None = None,
               networks: Iterable[str] = ()) -> tuple[Token, str]:
        """A new token and its secret; only the digest is kept, so the secret is shown once."""
        if not name or len(name) > 128:
            raise InvalidInput("a token needs a name of 1-128 characters")
        if (role == Role.CLIENT) != (profile is not None):
            raise InvalidInput("a client token needs --profile, and only a client token has one")
        cidrs = [_cidr(n) for n in networks]
        secret = f"bf_{secrets.token_urlsafe(32)}"
        with self.engine.begin() as conn:
            token_id = conn.execute(insert(tokens).values(
                name=name, role=role.value, secret_sha256=_digest(secret),
                created_at=self.clock(), profile=profile, networks=cidrs or None,
            )).inserted_primary_key[0]
            row = conn.execute(select(tokens).where(tokens.c.id == token_id)).one()
        return Token.from_row(row), secret

    def verify(self, secret: str | None, address: str | None = None) -> Token:
        """The token `secret` belongs to; Denied when missing, unknown or revoked, and
        Forbidden when used from outside its networks."""
        if not secret:
            raise Denied("this call needs a token (Authorization: Bearer TOKEN)")
        with self.engine.connect() as conn:
            row = conn.execute(select(tokens).where(tokens.c.secret_sha256 == _digest(secret),
                                                    tokens.c.revoked_at.is_(None))).first()
        if row is None:
            raise Denied("unknown or revoked token")
        token = Token.from_row(row)
        if token.networks and not _inside(address, token.networks):
            raise Forbidden(f"token {token.name!r} may not be used from {address}")
        return token

    def revoke(self, name_or_id: str) -> Token:
        where = (tokens.c.id == int(name_or_id)) if name_or_id.isdigit() else \
            (tokens.c.name == name_or_id)
        with self.engine.begin() as conn:
            done = conn.execute(update(tokens).where(where, tokens.c.revoked_at.is_(None))
                                .values(revoked_at=self.clock())).rowcount
            if not done:
                raise NotFound(f"no active token {name_or_id!r}")
            row = conn.execute(select(tokens).where(where)
                               .order_by(tokens.c.id.desc())).first()
        return Token.from_row(row)

    def rebind(self, token_id: int, profile: str) -> None:
        """Point a client token at another profile (its host moved)."""
        with self.engine.begin() as conn:
            conn.execute(update(tokens).where(tokens.c.id == token_id).values(profile=profile))

    def list(self) -> list[Token]:
        with self.engine.connect() as conn:
            return [Token.from_row(r) for r in conn.execute(select(tokens).order_by(tokens.c.id))]


def _cidr(text: str) -> str:
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError as exc:
        raise InvalidInput(f"not a network: {text!r}") from exc


def _inside(address: str | None, networks: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(n) for n in networks)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
