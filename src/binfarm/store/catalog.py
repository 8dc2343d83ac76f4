"""The catalog of stored instances and of each profile's published index.

An instance is one binary package file in the blob store with the Packages entry Portage
wrote for it, its build key, the key's inputs and the instruction set it needs. A profile
sees every instance with its CHOST that its CPU can run; among instances of one package
with the same USE it sees one, preferring the one built with its own compiler flags.
A profile's index TIMESTAMP only moves when its entries change, and always forward, so
that Portage's If-Modified-Since check (its cached TIMESTAMP + 5 s) can be answered
exactly (see server/routes/binhost.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from binfarm.db.tables import builds, channel_indexes, index_generations, instances, signing_keys
from binfarm.errors import InvalidInput, NotFound
from binfarm.keys.cpu import Fit, check_fit
from binfarm.keys.inputs import KeyInputs, normalize_flags, target_name
from binfarm.store.blobs import Blob, FileDigests
from binfarm.store.changes import Changes
from binfarm.store.index import entries_digest, instance_path

__all__ = ["GPKG_SUFFIX", "Catalog", "Generation", "IndexState", "Instance", "Viewer"]

GPKG_SUFFIX = ".gpkg.tar"  # what the farm serves: signed GPKG only
# Between two generations' TIMESTAMPs: more than Portage's If-Modified-Since tolerance
# (5 s), so that a server that compares dates (nginx: exact, python's http.server: <=) never
# answers 304 to a client whose cached index is one generation old (publish/tree.py).
TIMESTAMP_GAP_S = 6


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
    key: str
    key_inputs: KeyInputs
    required_isa: frozenset[str]
    created_at: float
    signer: str | None = None
    upload_sha256: str | None = None
    collected_at: float | None = None

    @classmethod
    def from_row(cls, row: Any) -> Instance:
        return cls(row.id, row.sha256, row.size, row.cpv, row.portage_build_id, row.path,
                   row.profile, row.build, dict(row.entry), row.key,
                   KeyInputs.from_json(row.key_inputs), frozenset(row.required_isa),
                   row.created_at, row.signer, row.upload_sha256, row.collected_at)

    def index_entry(self) -> dict[str, str]:
        return {**self.entry, "PATH": self.path}


@dataclass(frozen=True)
class Viewer:
    """What decides which instances a profile may see."""

    chost: str
    cpu_label: str
    cpu_features: frozenset[str]
    cflags: str
    exact_flags: bool
    # The profile builds in a chroot root: its machines take binaries built for / only.
    for_root: bool = False

    def fit(self, instance: Instance) -> Fit:
        fit = check_fit(binary_chost=instance.key_inputs.chost,
                        binary_needs=instance.required_isa, host_chost=self.chost,
                        host_has=self.cpu_features, host_label=self.cpu_label)
        if instance.key_inputs.for_root != self.for_root:
            fit = Fit(False, (*fit.reasons, f"built for {instance.key_inputs.target}, the "
                                            f"profile builds for {target_name(self.for_root)}"))
        if self.exact_flags and instance.key_inputs.cflags != normalize_flags(self.cflags):
            reason = (f"built with CFLAGS {instance.key_inputs.cflags!r}; the profile wants "
                      f"exactly {normalize_flags(self.cflags)!r}")
            return Fit(False, (*fit.reasons, reason))
        return fit


@dataclass(frozen=True)
class IndexState:
    digest: str
    timestamp: int
    generation: int


@dataclass(frozen=True)
class Generation:
    """What one generation of a channel's index listed, and when it was made."""

    profile: str
    channel: str
    generation: int
    at: float
    instances: frozenset[int]


# An instance is published when the build that uploaded it succeeded (or it came from no
# build), and a key clients trust signed it: a failed or cancelled build's uploads, and
# files not (yet) signed by a trusted key, are kept but never listed or reused. One that
# `binfarm gc` collected is listed no more, before its file goes.
_PUBLISHED = and_(
    instances.c.collected_at.is_(None),
    or_(instances.c.build.is_(None),
        instances.c.build.in_(select(builds.c.id).where(builds.c.state == "succeeded"))),
    instances.c.signer.in_(select(signing_keys.c.fingerprint)
                           .where(signing_keys.c.state != "retired")))


class Catalog:
    def __init__(self, engine: Engine, clock: Callable[[], float],
                 changes: Changes | None = None) -> None:
        self.engine = engine
        self.clock = clock
        self.changes = changes or Changes()
        self._decoded: dict[int, Instance] = {}
        self._fits: dict[Viewer, dict[int, tuple[str, bool]]] = {}

    def add(self, blob: Blob, entry: dict[str, str], *, key: str, key_inputs: KeyInputs,
            required_isa: frozenset[str], profile: str, build: int | None,
            suffix: str, signer: str, upload_sha256: str) -> Instance:
        """Record `blob`, the signed copy of an upload, as an instance; an upload stored
        before is returned as it was."""
        existing = self.by_upload(upload_sha256) or self.by_sha256(blob.sha256)
        if existing is not None and existing.collected_at is not None:
            # Collected, then built again to the same bytes: the file is back in place.
            with self.engine.begin() as conn:
                conn.execute(update(instances).where(instances.c.id == existing.id)
                             .values(collected_at=None))
            self._decoded.pop(existing.id, None)
            self.changes.bump()
            return self.by_sha256(existing.sha256) or existing
        if existing is not None:
            return existing
        build_id = int(entry["BUILD_ID"]) if entry.get("BUILD_ID") else None
        row = {
            "sha256": blob.sha256, "size": blob.size, "cpv": entry["CPV"],
            "portage_build_id": build_id,
            "path": instance_path(entry["CPV"], build_id, blob.sha256, suffix),
            "profile": profile, "build": build, "entry": entry, "key": key,
            "key_inputs": key_inputs.to_json(), "required_isa": sorted(required_isa),
            "created_at": self.clock(), "signer": signer, "upload_sha256": upload_sha256,
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
        self.changes.bump()
        found = self.by_sha256(blob.sha256)
        assert found is not None
        return found

    def by_upload(self, upload_sha256: str) -> Instance | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(instances).where(
                instances.c.upload_sha256 == upload_sha256)).first()
        return Instance.from_row(row) if row else None

    def to_sign(self, signer: str | None) -> list[Instance]:
        """The instances signed by key `signer` (None: by no key, stored before signing)."""
        condition = (instances.c.signer.is_(None) if signer is None
                     else instances.c.signer == signer)
        with self.engine.connect() as conn:
            return [Instance.from_row(row) for row in conn.execute(
                select(instances).where(condition).order_by(instances.c.id))]

    def resigned(self, instance: Instance, blob: Blob, digests: FileDigests,
                 signer: str) -> Instance:
        """Serve `instance` from its newly signed file: a new PATH (a PATH once served is
        never given other bytes), and the entry's SIZE, MD5, SHA1 and MTIME of that file."""
        entry = {**instance.entry, **digests.entry_fields(),
                 "MTIME": str(int(blob.path.stat().st_mtime))}
        with self.engine.begin() as conn:
            conn.execute(update(instances).where(instances.c.id == instance.id).values(
                sha256=blob.sha256, size=blob.size, entry=entry, signer=signer,
                upload_sha256=instance.upload_sha256 or instance.sha256,
                path=instance_path(instance.cpv, instance.portage_build_id, blob.sha256,
                                   GPKG_SUFFIX)))
            row = conn.execute(select(instances).where(instances.c.id == instance.id)).one()
        self.changes.bump()
        return Instance.from_row(row)

    def by_sha256(self, sha256: str) -> Instance | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(instances).where(instances.c.sha256 == sha256)).first()
        return Instance.from_row(row) if row else None

    def stored_keys(self, keys: set[str]) -> set[str]:
        """Which of `keys` have a stored instance."""
        found: set[str] = set()
        ordered = sorted(keys)
        with self.engine.connect() as conn:
            for start in range(0, len(ordered), 500):
                chunk = ordered[start:start + 500]
                found.update(conn.execute(select(instances.c.key)
                                          .where(instances.c.key.in_(chunk), _PUBLISHED))
                             .scalars())
        return found

    def by_key(self, key: str) -> Instance | None:
        """The first published instance with build key `key` (a later one never displaces
        it)."""
        query = select(instances).where(instances.c.key == key, _PUBLISHED) \
            .order_by(instances.c.id)
        with self.engine.connect() as conn:
            row = conn.execute(query.limit(1)).first()
        return Instance.from_row(row) if row else None

    def lookup(self, ref: str) -> Instance:
        """An instance by SHA-256, a unique SHA-256 prefix (8+ hex digits) or its PATH."""
        ref = ref.strip().lower() if len(ref) <= 64 and "/" not in ref else ref
        if "/" in ref:
            query = select(instances).where(instances.c.path == ref)
        elif len(ref) >= 8 and all(c in "0123456789abcdef" for c in ref):
            query = select(instances).where(instances.c.sha256.startswith(ref, autoescape=True))
        else:
            raise InvalidInput(f"{ref!r} is neither a SHA-256 (8+ hex digits) nor a PATH")
        with self.engine.connect() as conn:
            rows = conn.execute(query.limit(2)).all()
        if not rows:
            raise NotFound(f"no stored instance {ref!r}")
        if len(rows) > 1:
            raise InvalidInput(f"{ref!r} names more than one instance: give more digits")
        return Instance.from_row(rows[0])

    def by_ids(self, ids: set[int]) -> list[Instance]:
        query = select(instances).where(instances.c.id.in_(sorted(ids)))
        with self.engine.connect() as conn:
            return [Instance.from_row(row) for row in conn.execute(query)]

    def for_cpv(self, cpv: str) -> list[Instance]:
        query = select(instances).where(instances.c.cpv == cpv).order_by(instances.c.id)
        with self.engine.connect() as conn:
            return [Instance.from_row(row) for row in conn.execute(query)]

    def fitting(self, viewer: Viewer) -> list[Instance]:
        """The published instances a profile's machines can run, oldest first.

        Which are published is asked each time; each instance is decoded once (its row
        changes only with its file, when re-signed: known by its SHA-256), and whether it
        fits a viewer is worked out once per viewer and file."""
        query = select(instances.c.id, instances.c.sha256).where(_PUBLISHED) \
            .order_by(instances.c.id)
        with self.engine.connect() as conn:
            published = conn.execute(query).all()
            stale = [i for i, sha in published
                     if (held := self._decoded.get(i)) is None or held.sha256 != sha]
            for start in range(0, len(stale), 500):
                rows = conn.execute(select(instances).where(
                    instances.c.id.in_(stale[start:start + 500])))
                self._decoded.update((row.id, Instance.from_row(row)) for row in rows)
        if len(self._decoded) > 2 * len(published) + 1000:  # collected ones, forgotten
            self._decoded = {i: self._decoded[i] for i, _ in published}
        fits = self._fits.setdefault(viewer, {})
        chosen = []
        for instance_id, _ in published:
            instance = self._decoded[instance_id]
            known = fits.get(instance_id)
            if known is None or known[0] != instance.sha256:
                known = fits[instance_id] = (instance.sha256, viewer.fit(instance).ok)
            if known[1]:
                chosen.append(instance)
        return chosen

    def visible_to(self, viewer: Viewer,
                   among: Callable[[list[Instance]], list[Instance]] | None = None,
                   ) -> list[Instance]:
        """The instances a profile's index lists (see the module docstring); `among` keeps
        those of a channel."""
        fitting = self.fitting(viewer)
        if among is not None:
            fitting = among(fitting)
        own_flags = normalize_flags(viewer.cflags)
        chosen: dict[tuple[str, tuple[str, ...]], Instance] = {}
        for instance in fitting:  # oldest first: a newer one replaces an older one
            variant = (instance.cpv, instance.key_inputs.use)
            held = chosen.get(variant)
            if held is None or (instance.key_inputs.cflags == own_flags
                                or held.key_inputs.cflags != own_flags):
                chosen[variant] = instance
        return sorted(chosen.values(), key=lambda i: i.id)

    def for_build(self, build: int) -> list[Instance]:
        query = select(instances).where(instances.c.build == build).order_by(instances.c.id)
        with self.engine.connect() as conn:
            return [Instance.from_row(row) for row in conn.execute(query)]

    def find(self, viewer: Viewer, path: str) -> Instance:
        """The instance served at `path` to `viewer`; NotFound unless its index lists it."""
        with self.engine.connect() as conn:
            row = conn.execute(select(instances).where(instances.c.path == path, _PUBLISHED)
                               ).first()
        if row is not None and viewer.fit(instance := Instance.from_row(row)).ok:
            return instance
        raise NotFound(f"no package {path!r} in this binhost")

    def index_state(self, profile: str, channel: str, listed: Sequence[Instance],
                    digest: str | None = None) -> IndexState:
        """The channel index's TIMESTAMP, moved forward (by `TIMESTAMP_GAP_S` at least) when
        what it lists changed, and its generation, counted up then and recorded with what
        it lists. `digest`: that of `listed`'s entries, when the caller has it."""
        digest = digest or entries_digest(i.index_entry() for i in listed)
        ids = sorted(i.id for i in listed)
        try:
            return self._advance(profile, channel, digest, ids)
        except IntegrityError:
            # A concurrent reader recorded this change first: ours finds it done.
            return self._advance(profile, channel, digest, ids)

    def _advance(self, profile: str, channel: str, digest: str, ids: list[int]) -> IndexState:
        where = and_(channel_indexes.c.profile == profile, channel_indexes.c.channel == channel)
        with self.engine.begin() as conn:
            row = conn.execute(select(channel_indexes).where(where)).first()
            if row is not None and row.digest == digest:
                return IndexState(digest, row.timestamp, row.generation)
            now = self.clock()
            if row is None:
                state = IndexState(digest, int(now), 1)
                conn.execute(insert(channel_indexes).values(
                    profile=profile, channel=channel, digest=digest, timestamp=state.timestamp,
                    generation=1))
            else:
                state = IndexState(digest, max(int(now), row.timestamp + TIMESTAMP_GAP_S),
                                   row.generation + 1)
                conn.execute(update(channel_indexes).where(where).values(
                    digest=digest, timestamp=state.timestamp, generation=state.generation))
            conn.execute(insert(index_generations).values(
                profile=profile, channel=channel, generation=state.generation,
                timestamp=state.timestamp, instances=ids, at=now))
            return state

    def generations(self, since: float) -> list[Generation]:
        """Every channel's generations made at or after `since`, and each one's latest
        whenever it was made."""
        current = and_(channel_indexes.c.profile == index_generations.c.profile,
                       channel_indexes.c.channel == index_generations.c.channel)
        query = select(index_generations).join(channel_indexes, current).where(or_(
            index_generations.c.at >= since,
            index_generations.c.generation == channel_indexes.c.generation,
        )).order_by(index_generations.c.id)
        with self.engine.connect() as conn:
            return [Generation(r.profile, r.channel, r.generation, r.at,
                               frozenset(r.instances)) for r in conn.execute(query)]

    # -- retention -----------------------------------------------------------------------

    def alive(self) -> list[Instance]:
        """Every instance not collected, published or not, oldest first."""
        query = select(instances).where(instances.c.collected_at.is_(None)) \
            .order_by(instances.c.id)
        with self.engine.connect() as conn:
            return [Instance.from_row(row) for row in conn.execute(query)]

    def collect(self, ids: Sequence[int]) -> None:
        """Mark instances collected: no index lists them from now on (their files go
        next; see retention/)."""
        now = self.clock()
        with self.engine.begin() as conn:
            for start in range(0, len(ids), 500):
                conn.execute(update(instances).where(
                    instances.c.id.in_(ids[start:start + 500]),
                    instances.c.collected_at.is_(None)).values(collected_at=now))
        self.changes.bump()

    def collected(self) -> list[Instance]:
        query = select(instances).where(instances.c.collected_at.is_not(None))
        with self.engine.connect() as conn:
            return [Instance.from_row(row) for row in conn.execute(query)]
