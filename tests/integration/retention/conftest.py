"""The retention service over a catalog of one profile ("laptop", seen as x86-64-v2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from binfarm.hosts.registry import HostRegistry
from binfarm.retention.service import Retention
from binfarm.rollout.service import Rollout
from binfarm.rollout.views import ChannelViews
from binfarm.store.blobs import BlobStore
from binfarm.store.catalog import Catalog
from tests.integration.conftest import Clock
from tests.integration.store.test_catalog import V2


@pytest.fixture
def blobs(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "store")


@pytest.fixture
def views(catalog: Catalog, engine: Engine, clock: Clock) -> ChannelViews:
    return ChannelViews(catalog, Rollout(engine, clock), lambda _name: V2)


@pytest.fixture
def retention(catalog: Catalog, engine: Engine, clock: Clock, blobs: BlobStore,
              views: ChannelViews) -> Retention:
    return Retention(engine, catalog, views, HostRegistry(engine, clock), blobs,
                     lambda: ["laptop"], clock)
