"""Profile names and the reference a profile's make.profile makes into a repository.

A user's make.profile is a symlink into a repository on the user's machine
(/var/db/repos/gentoo/profiles/default/linux/amd64/23.0). The farm keeps it as
`repo:path` and points it at its own copy of that repository when it writes a node.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from binfarm.errors import InvalidInput

__all__ = ["MakeProfileRef", "check_name", "check_profile_name", "check_repo_name"]

_PROFILE_NAME: Final = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
# PMS 3.1.5: repository names
_REPO_NAME: Final = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")


def check_name(pattern: re.Pattern[str], name: str, what: str, rule: str = "") -> str:
    """`name` if `pattern` matches it; InvalidInput saying what it names and the rule."""
    if not pattern.fullmatch(name):  # match() would let "laptop\n" through ($ before \n)
        raise InvalidInput(f"invalid {what} {name!r}" + (f": {rule}" if rule else ""))
    return name


def check_profile_name(name: str) -> str:
    """Return `name` if it can name a profile (it becomes a URL and a directory)."""
    return check_name(_PROFILE_NAME, name, "profile name", "use 1-64 lower-case letters, "
                      "digits, '.', '_' or '-', starting with a letter or digit")


def check_repo_name(name: str) -> str:
    return check_name(_REPO_NAME, name, "repository name")


@dataclass(frozen=True)
class MakeProfileRef:
    """make.profile as `repo:path`, path relative to the repository's profiles/ directory."""

    repo: str
    path: str

    def __post_init__(self) -> None:
        check_repo_name(self.repo)
        parts = self.path.split("/")
        if not self.path or self.path.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise InvalidInput(f"invalid make.profile path {self.path!r} in {self.repo!r}")

    @classmethod
    def parse(cls, text: str) -> MakeProfileRef:
        repo, sep, path = text.partition(":")
        if not sep:
            raise InvalidInput(f"make.profile reference {text!r} is not REPO:PATH")
        return cls(repo, path)

    def __str__(self) -> str:
        return f"{self.repo}:{self.path}"
