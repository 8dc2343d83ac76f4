"""The one root of binfarm's exceptions and its five families.

Families are named for what a caller can do about them: fix the input (InvalidInput), look
elsewhere (NotFound), re-read and retry the decision (Conflict), authenticate (Denied), or
retry later (Unavailable). A failed build is a recorded outcome, never an exception.
"""

from __future__ import annotations

from typing import ClassVar, TypeVar

__all__ = [
    "FAMILIES",
    "BinfarmError",
    "Conflict",
    "Denied",
    "Forbidden",
    "InvalidInput",
    "NotFound",
    "TooMany",
    "Unavailable",
    "family_of_kind",
    "found",
]

T = TypeVar("T")


class BinfarmError(Exception):
    """Root of every error binfarm raises on purpose; str() is fit for users.

    `kind` names the family on the wire (the API's ErrorBody), so that a client raises the
    same family the server did.
    """

    kind: ClassVar[str] = "internal"

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def __str__(self) -> str:
        if self.detail:
            return f"{self.message}\n{self.detail}"
        return self.message


class InvalidInput(BinfarmError):
    """The input is wrong (an atom, a profile tree, an upload): fix it and try again."""

    kind = "invalid_input"


class NotFound(BinfarmError):
    """The named thing (profile, build, package file) does not exist."""

    kind = "not_found"


class Conflict(BinfarmError):
    """The request clashes with the current state (already exists, lease lost)."""

    kind = "conflict"


class Denied(BinfarmError):
    """Missing, wrong or insufficient credentials."""

    kind = "denied"


class Forbidden(Denied):
    """Valid credentials that may not do this (role, profile, network)."""

    kind = "forbidden"


class Unavailable(BinfarmError):
    """A dependency (Portage helper, database, server) failed or timed out: retryable."""

    kind = "unavailable"


class TooMany(Unavailable):
    """The caller has too many of these under way (long-polls): retry after some finish."""

    kind = "too_many"


# Most specific first: Forbidden is a Denied, TooMany an Unavailable.
FAMILIES: tuple[type[BinfarmError], ...] = (
    InvalidInput, NotFound, Conflict, Forbidden, Denied, TooMany, Unavailable,
)


def family_of_kind(kind: str) -> type[BinfarmError]:
    """The family a wire `kind` names; BinfarmError for one it does not know."""
    return next((f for f in FAMILIES if f.kind == kind), BinfarmError)


def found(value: T | None, message: str) -> T:
    """`value`, or NotFound(message) when a lookup found nothing."""
    if value is None:
        raise NotFound(message)
    return value
