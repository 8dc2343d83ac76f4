"""API tokens: random secrets, stored only as SHA-256 digests, each with a role.

admin may do everything. viewer reads everything but tokens. worker runs the worker
protocol, as the one worker name it took at its first registration. client requests builds
for its one profile and reads only that profile's builds, tree and binhost (a host's token
is a client token). enroll registers one fleet machine, for its profile, and is used up by
it. binhost reads one profile's binhost and the distfiles mirror, and nothing else: it is
what a build root holds. A token may be limited to networks (CIDRs).
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, insert, select, update

from binfarm.db.tables import tokens
from binfarm.errors import Denied, Forbidden, InvalidInput, NotFound

__all__ = ["PROFILE_ROLES", "READ_ALL_ROLES", "Role", "Token", "TokenStore"]


class Role(StrEnum):
    ADMIN = "admin"
    VIEWER = "viewer"
    WORKER = "worker"
    CLIENT = "client"
    ENROLL = "enroll"
    BINHOST = "binhost"


# Roles bound to one profile, and roles that read everything (but tokens).
PROFILE_ROLES = frozenset({Role.CLIENT, Role.ENROLL, Role.BINHOST})
READ_ALL_ROLES = frozenset({Role.ADMIN, Role.VIEWER, Role.WORKER})


@dataclass(frozen=True)
class Token:
    id: int
    name: str
    role: Role
    profile: str | None
    networks: tuple[str, ...]
    created_at: float
    revoked_at: float | None
    worker: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> Token:
        return cls(row.id, row.name, Role(row.role), row.profile, tuple(row.networks or ()),
                   row.created_at, row.revoked_at, row.worker)

    def may_read(self, profile: str) -> None:
        """Forbidden unless this token may read what belongs to `profile`."""
        if self.role in READ_ALL_ROLES or self.profile == profile:
            return
        raise Forbidden(f"token {self.name!r} ({self.role}) may not read profile {profile!r}")

    @property
    def reads_all(self) -> bool:
        return self.role in READ_ALL_ROLES

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
        if not name.isprintable():
            raise InvalidInput("a token's name must be printable (no control characters)")
        if (role in PROFILE_ROLES) != (profile is not None):
            raise InvalidInput(f"a {', '.join(sorted(PROFILE_ROLES))} token needs --profile, "
                               "and only those have one")
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

    def act_as_worker(self, token: Token, name: str) -> None:
        """Check that `token` may speak for worker `name`: a worker token takes the name at
        its first registration and keeps it; a name another token took is refused."""
        if token.role == Role.ADMIN:
            return
        if token.worker == name:
            return
        if token.worker is not None:
            raise Forbidden(f"token {token.name!r} is worker {token.worker!r}'s, not {name!r}'s")
        with self.engine.begin() as conn:
            taken = conn.execute(select(tokens.c.name).where(
                tokens.c.worker == name, tokens.c.revoked_at.is_(None))).first()
            if taken is not None:
                raise Forbidden(f"worker name {name!r} belongs to token {taken.name!r}")
            bound = conn.execute(update(tokens).where(
                tokens.c.id == token.id, tokens.c.worker.is_(None)).values(worker=name)).rowcount
        if not bound:
            raise Forbidden(f"token {token.name!r} is already bound to another worker")

    @contextlib.contextmanager
    def used_once(self, token: Token) -> Iterator[None]:
        """Use a one-use token up for the `with` block; it is given back if the block fails."""
        with self.engine.begin() as conn:
            done = conn.execute(update(tokens).where(
                tokens.c.id == token.id, tokens.c.revoked_at.is_(None))
                .values(revoked_at=self.clock())).rowcount
        if not done:
            raise Denied(f"token {token.name!r} was used already")
        try:
            yield
        except BaseException:
            with self.engine.begin() as conn:
                conn.execute(update(tokens).where(tokens.c.id == token.id)
                             .values(revoked_at=None))
            raise

    def replace(self, name: str, role: Role, profile: str) -> str:
        """A fresh secret for the token `name`, revoking the one before (a worker's
        per-profile binhost credential)."""
        with self.engine.begin() as conn:
            conn.execute(update(tokens).where(tokens.c.name == name,
                                              tokens.c.revoked_at.is_(None))
                         .values(revoked_at=self.clock()))
        return self.create(name, role, profile=profile)[1]

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
