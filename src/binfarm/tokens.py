"""API tokens: random secrets, stored only as SHA-256 digests, each with a role."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Engine, insert, select

from binfarm.db.tables import tokens
from binfarm.errors import Denied

__all__ = ["Role", "Token", "TokenStore"]


class Role(StrEnum):
    ADMIN = "admin"


@dataclass(frozen=True)
class Token:
    id: int
    name: str
    role: Role


class TokenStore:
    def __init__(self, engine: Engine, clock: Callable[[], float]) -> None:
        self.engine = engine
        self.clock = clock

    def create(self, name: str, role: Role) -> str:
        """A new token's secret; only its digest is kept, so it is shown once."""
        secret = f"bf_{secrets.token_urlsafe(32)}"
        with self.engine.begin() as conn:
            conn.execute(insert(tokens).values(name=name, role=role.value,
                                               secret_sha256=_digest(secret),
                                               created_at=self.clock()))
        return secret

    def verify(self, secret: str | None) -> Token:
        """The token `secret` belongs to; Denied when it is missing, unknown or revoked."""
        if not secret:
            raise Denied("this call needs a token (Authorization: Bearer TOKEN)")
        with self.engine.connect() as conn:
            row = conn.execute(select(tokens).where(tokens.c.secret_sha256 == _digest(secret),
                                                    tokens.c.revoked_at.is_(None))).first()
        if row is None:
            raise Denied("unknown or revoked token")
        return Token(row.id, row.name, Role(row.role))


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
