"""The ebuild repositories the farm builds from, by name, as Portage names them."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, insert, select

from binfarm.db.tables import repositories
from binfarm.errors import Conflict, InvalidInput, NotFound
from binfarm.profiles.model import check_repo_name
from binfarm.revisions import revision_of

__all__ = ["Repository", "RepositoryRegistry", "check_distfiles_dir"]


@dataclass(frozen=True)
class Repository:
    name: str
    location: Path
    distfiles: Path | None

    @classmethod
    def from_row(cls, row: Any) -> Repository:
        return cls(row.name, Path(row.location), Path(row.distfiles) if row.distfiles else None)


def check_distfiles_dir(path: Path) -> None:
    """A repository's distfiles are served to anyone who may fetch: refuse anything but a
    real directory holding only regular files (not /etc, not a symlink)."""
    if path.is_symlink() or not path.is_dir():
        raise InvalidInput(f"--distfiles {path}: not a directory")
    for entry in path.iterdir():
        if entry.is_symlink() or not entry.is_file():
            raise InvalidInput(f"--distfiles {path} holds {entry.name!r}, which is not a "
                               "regular file: give a directory of distfiles only")


class RepositoryRegistry:
    def __init__(self, engine: Engine, clock: Callable[[], float]) -> None:
        self.engine = engine
        self.clock = clock

    def add(self, name: str, location: Path, distfiles: Path | None = None) -> Repository:
        """Register the repository at `location`; its profiles/repo_name must say `name`."""
        check_repo_name(name)
        name_file = location / "profiles" / "repo_name"
        try:
            found = name_file.read_text().strip() if name_file.is_file() else None
        except (OSError, UnicodeDecodeError) as exc:  # a name too long, unreadable, binary
            raise InvalidInput(f"cannot read {name_file}: {exc}") from exc
        if found is None:
            raise InvalidInput(f"{location} is not an ebuild repository (no profiles/repo_name)")
        if found != name:
            raise InvalidInput(f"{location} is repository {found!r}, not {name!r}")
        if name in self.locations():
            raise Conflict(f"repository {name!r} is already registered")
        if distfiles is not None:
            check_distfiles_dir(distfiles)
        with self.engine.begin() as conn:
            conn.execute(insert(repositories).values(
                name=name, location=str(location.absolute()),
                distfiles=str(distfiles.absolute()) if distfiles else None,
                created_at=self.clock()))
        return Repository(name, location.absolute(), distfiles)

    def snapshot(self, name: str, root: Path) -> Path:
        """The repository as it is now, at `root`/<name>/<revision>: hard links, cheap to
        make, and untouched by a later sync (git and rsync replace files, not rewrite
        them)."""
        location = self.locations()[name]
        revision = revision_of(location)
        target = root / name / hashlib.sha256(revision.encode()).hexdigest()[:16]
        if not target.exists():
            staging = target.with_name(f".{target.name}.new")
            shutil.rmtree(staging, ignore_errors=True)
            shutil.copytree(location, staging, symlinks=True, copy_function=os.link,
                            ignore=shutil.ignore_patterns(".git"))
            staging.rename(target)
        return target

    def remove(self, name: str) -> Repository:
        with self.engine.begin() as conn:
            row = conn.execute(select(repositories).where(repositories.c.name == name)).first()
            if row is None:
                raise NotFound(f"no repository {name!r}")
            conn.execute(delete(repositories).where(repositories.c.name == name))
        return Repository.from_row(row)

    def usable(self) -> dict[str, Path]:
        """Locations of the repositories still there: one whose directory went away (or
        lost its repo_name) must not make every profile unreadable to Portage."""
        return {name: location for name, location in self.locations().items()
                if (location / "profiles" / "repo_name").is_file()}

    def list(self) -> list[Repository]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(repositories).order_by(repositories.c.name))
            return [Repository.from_row(row) for row in rows]

    def locations(self) -> dict[str, Path]:
        return {repo.name: repo.location for repo in self.list()}
