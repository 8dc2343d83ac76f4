"""The farm's record of chroot build roots: one archive per profile, and the workers' copies.

A profile with a root here builds in a chroot; one without builds in a prefix. The archive
(a stage3 tarball, or a root directory packed by the CLI) is kept once under its SHA-256;
workers download it, unpack it and say back how big their copy is.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update

from binfarm.db.tables import build_roots, root_copies
from binfarm.errors import InvalidInput, NotFound, found
from binfarm.store.blobs import Blob, BlobStore

__all__ = ["BuildRoot", "RootCopy", "RootRegistry", "check_root_archive"]

_LIST_TIMEOUT_S = 600


@dataclass(frozen=True)
class RootCopy:
    worker: str
    digest: str
    generation: int
    layers: int
    disk_bytes: int
    system_state: str | None
    reported_at: float

    @classmethod
    def from_row(cls, row: Any) -> RootCopy:
        return cls(row.worker, row.digest, row.generation, row.layers, row.disk_bytes,
                   row.system_state, row.reported_at)


@dataclass(frozen=True)
class BuildRoot:
    profile: str
    digest: str
    size: int
    source: str
    generation: int
    created_at: float
    updated_at: float
    copies: tuple[RootCopy, ...] = ()


def check_root_archive(path: Path) -> None:
    """Refuse an archive that is not a tar of a root with a shell and Portage in it."""
    done = subprocess.run(["tar", "-tf", str(path)], capture_output=True, text=True,
                          timeout=_LIST_TIMEOUT_S, check=False)
    if done.returncode != 0:
        raise InvalidInput(f"not a tar archive of a root: {done.stderr.strip()[:300]}")
    names = {line.removeprefix("./").rstrip("/") for line in done.stdout.splitlines()}
    for needed, what in (("bin/sh", "a shell"), ("bin/emerge", "Portage's emerge")):
        if not any(name == needed or name.endswith("/" + needed) for name in names):
            raise InvalidInput(f"the root has no {what} (no {needed}): give a stage3 "
                               "tarball or a root directory with Portage installed")


class RootRegistry:
    def __init__(self, engine: Engine, blobs: BlobStore, clock: Callable[[], float]) -> None:
        self.engine = engine
        self.blobs = blobs
        self.clock = clock

    def set(self, profile: str, blob: Blob, source: str) -> BuildRoot:
        """Make `blob` the profile's root; replacing one raises its generation."""
        now = self.clock()
        values = {"digest": blob.sha256, "size": blob.size, "source": source,
                  "updated_at": now}
        with self.engine.begin() as conn:
            old = conn.execute(select(build_roots).where(build_roots.c.profile == profile)).first()
            if old is None:
                conn.execute(insert(build_roots).values(profile=profile, generation=0,
                                                        created_at=now, **values))
            else:
                conn.execute(update(build_roots).where(build_roots.c.profile == profile)
                             .values(generation=old.generation + 1, **values))
        if old is not None and old.digest != blob.sha256:
            self._drop_unused(old.digest)
        return self.get(profile)

    def request_update(self, profile: str) -> BuildRoot:
        """Have every worker bring its copy up to date before its next build."""
        with self.engine.begin() as conn:
            done = conn.execute(update(build_roots).where(build_roots.c.profile == profile)
                                .values(generation=build_roots.c.generation + 1,
                                        updated_at=self.clock()))
        if done.rowcount == 0:
            raise NotFound(_no_root(profile))
        return self.get(profile)

    def delete(self, profile: str) -> BuildRoot:
        root = self.get(profile)
        with self.engine.begin() as conn:
            conn.execute(delete(root_copies).where(root_copies.c.profile == profile))
            conn.execute(delete(build_roots).where(build_roots.c.profile == profile))
        self._drop_unused(root.digest)
        return root

    def report_copy(self, profile: str, copy: RootCopy) -> None:
        self.get(profile)
        values = {"digest": copy.digest, "generation": copy.generation,
                  "layers": copy.layers, "disk_bytes": copy.disk_bytes,
                  "system_state": copy.system_state, "reported_at": self.clock()}
        where = (root_copies.c.profile == profile) & (root_copies.c.worker == copy.worker)
        with self.engine.begin() as conn:
            if conn.execute(update(root_copies).where(where).values(**values)).rowcount == 0:
                conn.execute(insert(root_copies).values(profile=profile, worker=copy.worker,
                                                        **values))

    def find(self, profile: str) -> BuildRoot | None:
        roots = self._select(build_roots.c.profile == profile)
        return roots[0] if roots else None

    def get(self, profile: str) -> BuildRoot:
        return found(self.find(profile), _no_root(profile))

    def list(self) -> list[BuildRoot]:
        return self._select(None)

    def archive(self, profile: str) -> Path:
        return self.blobs.open_existing(self.get(profile).digest)

    def _select(self, where: Any) -> list[BuildRoot]:
        query = select(build_roots).order_by(build_roots.c.profile)
        copies_query = select(root_copies).order_by(root_copies.c.worker)
        if where is not None:
            query = query.where(where)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            copies: dict[str, list[RootCopy]] = {}
            for row in conn.execute(copies_query):
                copies.setdefault(row.profile, []).append(RootCopy.from_row(row))
        return [BuildRoot(r.profile, r.digest, r.size, r.source, r.generation, r.created_at,
                          r.updated_at, tuple(copies.get(r.profile, ()))) for r in rows]

    def _drop_unused(self, digest: str) -> None:
        with self.engine.connect() as conn:
            used = conn.execute(select(build_roots.c.profile)
                                .where(build_roots.c.digest == digest)).first()
        if used is None:
            self.blobs.path(digest).unlink(missing_ok=True)


def _no_root(profile: str) -> str:
    return (f"profile {profile!r} has no chroot root (it builds in a prefix): "
            f"create one with `binfarm root create {profile} --from STAGE3`")
