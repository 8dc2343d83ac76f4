"""The catalog of stored instances and of each profile's published index.

An instance is one binary package file in the blob store with the Packages entry Portage
wrote for it. A profile's index TIMESTAMP only moves when its entries change, and always
forward, so that Portage's If-Modified-Since check (its cached TIMESTAMP + 5 s) can be
answered exactly (see server/routes/binhost.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from binfarm.db.tables import index_states, instances
from binfarm.errors import NotFound
from binfarm.store.blobs import Blob
from binfarm.store.index import entries_digest, instance_path

__all__ = ["Catalog", "IndexState", "Instance"]


@dataclass(frozen=True)
class Instance:
    id: int
    sha256: str
    size: int
    cpv: str
    portage_build_id: int | None
    path: str
    profile: str
    build: int | None
    entry: dict[str, str]

    @classmethod
    def from_row(cls, row: Any) -> Instance:
        return cls(row.id, row.sha256, row.size, row.cpv, row.portage_build_id, row.path,
                   row.profile, row.build, dict(row.entry))

    def index_entry(self) -> dict[str, str]:
        return {**self.entry, "PATH": self.path}


@dataclass(frozen=True)
class IndexState:
    digest: str
    timestamp: int


class Catalog:
    def __init__(self, engine: Engine, clock: Callable[[], float]) -> None:
        self.engine = engine
        self.clock = clock

    def add(self, blob: Blob, entry: dict[str, str], *, profile: str, build: int | None,
            suffix: str) -> Instance:
        """Record `blob` as an instance; a file already stored is returned as it was."""
        existing = self.by_sha256(blob.sha256)
        if existing is not None:
            return existing
        build_id = int(entry["BUILD_ID"]) if entry.get("BUILD_ID") else None
        row = {
            "sha256": blob.sha256, "size": blob.size, "cpv": entry["CPV"],
            "portage_build_id": build_id,
            "path": instance_path(entry["CPV"], build_id, blob.sha256, suffix),
            "profile": profile, "build": build, "entry": entry, "created_at": self.clock(),
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(instances).values(**row))
        except IntegrityError:
            # Another upload of the same file won the race: the stored one stands.
            found = self.by_sha256(blob.sha256)
            if found is None:
                raise
            return found
        found = self.by_sha256(blob.sha256)
        assert found is not None
        return found

    def by_sha256(self, sha256: str) -> Instance | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(instances).where(instances.c.sha256 == sha256)).first()
        return Instance.from_row(row) if row else None

    def for_profile(self, profile: str) -> list[Instance]:
        """The instances a profile's index lists: those built for it."""
        query = select(instances).where(instances.c.profile == profile).order_by(instances.c.id)
        with self.engine.connect() as conn:
            return [Instance.from_row(row) for row in conn.execute(query)]

    def for_build(self, build: int) -> list[Instance]:
        query = select(instances).where(instances.c.build == build).order_by(instances.c.id)
        with self.engine.connect() as conn:
            return [Instance.from_row(row) for row in conn.execute(query)]

    def find(self, profile: str, path: str) -> Instance:
        """The instance served at `path` in `profile`'s binhost; NotFound otherwise."""
        query = select(instances).where(instances.c.profile == profile,
                                        instances.c.path == path)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is not None:
            return Instance.from_row(row)
        raise NotFound(f"no package {path!r} in the binhost of {profile!r}")

    def index_state(self, profile: str, entries: list[dict[str, str]]) -> IndexState:
        """The index's TIMESTAMP, moved forward (by at least 1 s) when the entries changed."""
        digest = entries_digest(entries)
        try:
            return self._advance(profile, digest)
        except IntegrityError:
            # A concurrent reader created the first row: ours is now an update.
            return self._advance(profile, digest)

    def _advance(self, profile: str, digest: str) -> IndexState:
        with self.engine.begin() as conn:
            row = conn.execute(
                select(index_states).where(index_states.c.profile == profile)
            ).first()
            if row is not None and row.digest == digest:
                return IndexState(digest, row.timestamp)
            now = int(self.clock())
            if row is None:
                conn.execute(insert(index_states).values(profile=profile, digest=digest,
                                                         timestamp=now))
                return IndexState(digest, now)
            timestamp = max(now, row.timestamp + 1)
            conn.execute(update(index_states).where(index_states.c.profile == profile)
                         .values(digest=digest, timestamp=timestamp))
            return IndexState(digest, timestamp)
