"""The catalog and the index TIMESTAMP on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine

from binfarm.db.tables import instances, signing_keys
from binfarm.errors import InvalidInput, NotFound
from binfarm.keys.inputs import KeyInputs, compute_key
from binfarm.store.blobs import BlobStore
from binfarm.store.catalog import Catalog, Instance, Viewer
from tests.integration.conftest import SIGNER, Clock

INPUTS = KeyInputs.build(
    cpv="app-misc/hello-1.0", repo="r", chost="x86_64-pc-linux-gnu", use=["nls"],
    iuse=["+nls"], flags={"CFLAGS": "-O2 -pipe"}, features=[], ebuild_sha256="e" * 64,
    eclasses={}, slot_deps=[],
)
V2_FEATURES = frozenset({"sse", "sse2", "sse3", "ssse3", "sse4.1", "sse4.2", "popcnt"})
V2 = Viewer(chost="x86_64-pc-linux-gnu", cpu_label="x86-64-v2", cpu_features=V2_FEATURES,
            cflags="-O2 -pipe", exact_flags=False)


def add_instance(catalog: Catalog, blobs: BlobStore, data: bytes, inputs: KeyInputs,
                 needs: frozenset[str] = frozenset({"sse2"}), **entry: str) -> Instance:
    with blobs.receive(1 << 20) as writer:
        writer.write(data)
        blob = blobs.commit(writer)
        return catalog.add(blob, {"CPV": inputs.cpv, "BUILD_ID": "1", **entry},
                           key=compute_key(inputs), key_inputs=inputs, required_isa=needs,
                           profile="laptop", build=None, suffix=".gpkg.tar", signer=SIGNER,
                           upload_sha256=f"upload-of-{blob.sha256}"[:64])


def test_only_what_a_trusted_key_signed_is_listed(catalog: Catalog, engine: Engine,
                                                  tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "store")
    instance = add_instance(catalog, blobs, b"signed package", INPUTS)
    assert [i.id for i in catalog.visible_to(V2)] == [instance.id]
    for signer, state in ((SIGNER, "retired"), (None, "signing")):
        with engine.begin() as conn:
            conn.execute(signing_keys.update().values(state=state))
            conn.execute(instances.update().values(signer=signer))
        assert catalog.visible_to(V2) == []
        assert catalog.by_key(instance.key) is None
        with pytest.raises(NotFound):
            catalog.find(V2, instance.path)


def test_index_timestamp_moves_only_and_always_forward(catalog: Catalog, clock: Clock,
                                                       tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "store")
    one = [add_instance(catalog, blobs, b"b", replace(INPUTS, cpv="a/b-1"))]
    two = [*one, add_instance(catalog, blobs, b"c", replace(INPUTS, cpv="a/c-1"))]
    first = catalog.index_state("laptop", "stable", one)
    assert (first.timestamp, first.generation) == (1_800_000_000, 1)
    clock.now += 10
    assert catalog.index_state("laptop", "stable", one) == first  # same content, same TIMESTAMP
    second = catalog.index_state("laptop", "stable", two)
    assert second.timestamp == 1_800_000_010 and second.digest != first.digest
    third = catalog.index_state("laptop", "stable", one)  # changed again within the same second
    assert (third.timestamp, third.generation) == (1_800_000_016, 3)  # 6 s on: never a 304
    # Each channel's index is its own: testing's first generation, stable's left as it was.
    assert catalog.index_state("laptop", "testing", two).generation == 1
    assert catalog.index_state("laptop", "stable", one) == third
    # Each generation is recorded with what it listed (retention keeps recent ones' files).
    listed = [(g.channel, g.generation, sorted(g.instances))
              for g in catalog.generations(since=1_800_000_011)]
    ids = [i.id for i in two]
    assert listed == [("stable", 3, ids[:1]), ("testing", 1, ids)]
    assert len(catalog.generations(since=0)) == 4


def test_a_file_is_stored_and_catalogued_once(catalog: Catalog, tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "store")
    added = [add_instance(catalog, blobs, b"the same package bytes", INPUTS) for _ in range(2)]
    assert added[0] == added[1]
    assert [i.sha256 for i in catalog.visible_to(V2)] == [added[0].sha256]
    assert catalog.find(V2, added[0].path) == added[0]
    assert catalog.lookup(added[0].sha256[:10]) == added[0]
    assert catalog.lookup(added[0].path) == added[0]
    with pytest.raises(NotFound):
        catalog.find(V2, "app-misc/hello/../../../admin.token")
    with pytest.raises(InvalidInput):
        catalog.lookup("abc")
    assert list((tmp_path / "store" / "tmp").iterdir()) == []


def test_an_oversized_upload_leaves_nothing(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "store")
    with pytest.raises(InvalidInput, match="larger than 10 bytes"), blobs.receive(10) as writer:
        writer.write(b"x" * 11)
    assert list((tmp_path / "store" / "tmp").iterdir()) == []
    assert not (tmp_path / "store" / "sha256").exists()


def test_a_profile_sees_what_its_cpu_runs_one_per_use_variant(catalog: Catalog,
                                                               tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "store")
    avx2 = add_instance(catalog, blobs, b"v3 build", INPUTS.__class__(**{
        **INPUTS.__dict__, "cflags": "-O2 -march=x86-64-v3"}), frozenset({"avx2", "sse2"}))
    own = add_instance(catalog, blobs, b"v2 build, own flags", INPUTS)
    other_flags = add_instance(catalog, blobs, b"v2 build, -O3", INPUTS.__class__(**{
        **INPUTS.__dict__, "cflags": "-O3"}))
    other_use = add_instance(catalog, blobs, b"-nls build", INPUTS.__class__(**{
        **INPUTS.__dict__, "use": ()}))
    visible = catalog.visible_to(V2)
    assert avx2 not in visible  # needs avx2, which x86-64-v2 lacks
    assert own in visible and other_use in visible
    assert other_flags not in visible  # same USE as `own`, which has the profile's flags
    reasons = V2.fit(avx2).reasons
    assert reasons == ("needs avx2, which the profile's CPU (x86-64-v2) does not have",)
    with pytest.raises(NotFound):
        catalog.find(V2, avx2.path)
    exact = Viewer(**{**V2.__dict__, "exact_flags": True, "cflags": "-O3 -pipe"})
    assert catalog.visible_to(exact) == [other_flags]
