"""The one root of binfarm's exceptions and its five families.

Families are named for what a caller can do about them: fix the input (InvalidInput), look
elsewhere (NotFound), re-read and retry the decision (Conflict), authenticate (Denied), or
retry later (Unavailable). A failed build is a recorded outcome, never an exception.
"""

from __future__ import annotations

__all__ = [
    "BinfarmError",
    "Conflict",
    "Denied",
    "Forbidden",
    "InvalidInput",
    "NotFound",
    "Unavailable",
]


class BinfarmError(Exception):
    """Root of every error binfarm raises on purpose; str() is fit for users."""

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


class NotFound(BinfarmError):
    """The named thing (profile, build, package file) does not exist."""


class Conflict(BinfarmError):
    """The request clashes with the current state (already exists, lease lost)."""


class Denied(BinfarmError):
    """Missing, wrong or insufficient credentials."""


class Forbidden(Denied):
    """Valid credentials that may not do this (role, profile, network)."""


class Unavailable(BinfarmError):
    """A dependency (Portage helper, database, server) failed or timed out: retryable."""
