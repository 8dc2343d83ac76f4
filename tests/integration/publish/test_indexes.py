"""The index cache on SQLite and PostgreSQL: a repeat read builds nothing; a change to the
catalog or to rollout rebuilds; a soak time that ends rebuilds at that moment, with no
request or timer in between."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sqlalchemy import Engine

from binfarm.publish.indexes import Indexes
from binfarm.rollout.channels import Channel
from binfarm.rollout.service import Rollout, Rule
from binfarm.rollout.views import ChannelViews
from binfarm.store.blobs import BlobStore
from binfarm.store.catalog import Catalog
from tests.integration.conftest import Clock
from tests.integration.store.test_catalog import INPUTS, V2, add_instance


def test_an_index_is_built_once_per_change(catalog: Catalog, engine: Engine, clock: Clock,
                                           tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "store")
    rollout = Rollout(engine, clock, changes=catalog.changes)
    views = ChannelViews(catalog, rollout, lambda _name: V2)
    indexes = Indexes(views, catalog, lambda _name: {"ARCH": "amd64"}, catalog.changes, clock)
    first = add_instance(catalog, blobs, b"first", INPUTS)
    built = indexes.get("laptop", Channel.STABLE)
    assert indexes.get("laptop", Channel.STABLE) is built  # a repeat costs no rendering
    assert "CPV: app-misc/hello-1.0" in built.text and built.state.generation == 1

    second = add_instance(catalog, blobs, b"second", replace(INPUTS, cpv="app-misc/b-1"))
    rebuilt = indexes.get("laptop", Channel.STABLE)
    assert rebuilt is not built and [i.id for i in rebuilt.listed] == [first.id, second.id]

    rollout.set_rule("laptop", Rule(soak_s=3600))
    third = add_instance(catalog, blobs, b"third", replace(INPUTS, cpv="app-misc/c-1"))
    soaking = indexes.get("laptop", Channel.STABLE)
    assert third.id not in [i.id for i in soaking.listed]
    assert soaking.valid_until == third.created_at + 3600
    clock.now += 3599
    assert indexes.get("laptop", Channel.STABLE) is soaking
    clock.now += 1  # the soak time ends: the next read promotes, with nothing else moved
    promoted = indexes.get("laptop", Channel.STABLE)
    assert third.id in [i.id for i in promoted.listed]
    assert promoted.timestamp >= soaking.timestamp + 6
