"""The catalog and the index TIMESTAMP on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, insert

from binfarm.db.tables import profiles
from binfarm.errors import InvalidInput, NotFound
from binfarm.store.blobs import BlobStore
from binfarm.store.catalog import Catalog


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(1_800_000_000.0)


@pytest.fixture
def catalog(engine: Engine, clock: Clock) -> Catalog:
    with engine.begin() as conn:
        conn.execute(insert(profiles).values(name="laptop", info={}, created_at=0, updated_at=0))
    return Catalog(engine, clock)


def test_index_timestamp_moves_only_and_always_forward(catalog: Catalog, clock: Clock) -> None:
    one = [{"CPV": "a/b-1", "BUILD_ID": "1"}]
    two = [*one, {"CPV": "a/c-1", "BUILD_ID": "1"}]
    first = catalog.index_state("laptop", one)
    assert first.timestamp == 1_800_000_000
    clock.now += 3
    assert catalog.index_state("laptop", one) == first  # unchanged content, same TIMESTAMP
    second = catalog.index_state("laptop", two)
    assert second.timestamp == 1_800_000_003 and second.digest != first.digest
    third = catalog.index_state("laptop", one)  # changed again within the same second
    assert third.timestamp == 1_800_000_004


def test_a_file_is_stored_and_catalogued_once(catalog: Catalog, tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "store")
    entry = {"CPV": "app-misc/hello-1.0", "BUILD_ID": "1"}
    added = []
    for _ in range(2):
        with blobs.receive(1 << 20) as writer:
            writer.write(b"the same package bytes")
            added.append(catalog.add(blobs.commit(writer), entry, profile="laptop", build=None,
                                     suffix=".gpkg.tar"))
    assert added[0] == added[1]
    assert [i.sha256 for i in catalog.for_profile("laptop")] == [added[0].sha256]
    assert catalog.find("laptop", added[0].path) == added[0]
    with pytest.raises(NotFound):
        catalog.find("laptop", "app-misc/hello/../../../admin.token")
    assert list((tmp_path / "store" / "tmp").iterdir()) == []


def test_an_oversized_upload_leaves_nothing(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "store")
    with pytest.raises(InvalidInput, match="larger than 10 bytes"), blobs.receive(10) as writer:
        writer.write(b"x" * 11)
    assert list((tmp_path / "store" / "tmp").iterdir()) == []
    assert not (tmp_path / "store" / "sha256").exists()
