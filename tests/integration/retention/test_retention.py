"""`binfarm gc`'s rules on SQLite and PostgreSQL: what channels list now and recently, what
hosts installed, pins and young instances stay; of the rest the newest of each package
version and USE; stray files go once old; a collected instance is listed no more."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
from sqlalchemy import Engine

from binfarm.errors import InvalidInput
from binfarm.hosts.registry import HostRegistry
from binfarm.retention.policy import Policy, Rule
from binfarm.retention.service import Retention
from binfarm.rollout.channels import Channel
from binfarm.rollout.views import ChannelViews
from binfarm.store.blobs import BlobStore
from binfarm.store.catalog import Catalog
from tests.integration.conftest import Clock
from tests.integration.store.test_catalog import INPUTS, add_instance

DAY = 86400


def _build(catalog: Catalog, blobs: BlobStore, n: int, cpv: str = INPUTS.cpv):
    """One more instance of `cpv` (USE nls), as a rebuild with other LDFLAGS makes."""
    inputs = replace(INPUTS, cpv=cpv, ldflags=f"-Wl,-O{n}")
    return add_instance(catalog, blobs, f"{cpv} build {n}".encode(), inputs,
                        MD5=f"{n:032x}")


def test_each_rule_keeps_what_it_says_and_the_rest_goes(
    catalog: Catalog, engine: Engine, clock: Clock, blobs: BlobStore, views: ChannelViews,
    retention: Retention,
) -> None:
    pinned, installed, older, old = (_build(catalog, blobs, n) for n in range(1, 5))
    retention.pin(pinned.sha256[:12], "admin", "the release we shipped")
    hosts = HostRegistry(engine, clock)
    hosts.upsert("web1", profile="laptop", arch="amd64", cpu_features=frozenset(), token=None)
    hosts.report("web1", "succeeded", [INPUTS.cpv], {INPUTS.cpv: installed.entry["MD5"]})
    assert views.listed("laptop", Channel.STABLE) == [old]
    retention.plan(Policy())  # reads the channels: generation 1 lists `old`
    clock.now += 4 * DAY
    current = _build(catalog, blobs, 5)
    young = _build(catalog, blobs, 6, cpv="app-misc/other-1.0")
    clock.now += 6 * DAY - 3600  # `old`'s generation is 10 days old, `young` 6 days
    hosts.report("web1", "succeeded", [INPUTS.cpv], {INPUTS.cpv: installed.entry["MD5"]})

    plan = retention.plan(Policy(grace_s=7 * DAY))
    rules = {d.instance.id: (d.rule, d.why) for d in plan.decisions}
    assert rules == {
        pinned.id: (Rule.PINNED, "by admin: the release we shipped"),
        installed.id: (Rule.INSTALLED, "web1"),
        older.id: (Rule.NONE, "superseded"),
        old.id: (Rule.NEWEST, "1 of 1"),
        current.id: (Rule.LISTED, "laptop/stable"),
        young.id: (Rule.LISTED, "laptop/stable"),
    }
    assert [i.id for i in plan.doomed] == [older.id]
    # A longer memory of generations keeps `old` for what its index listed, not its age.
    recalled = retention.plan(Policy(generations_s=11 * DAY, keep=0))
    assert {d.instance.id: d.rule for d in recalled.decisions}[old.id] == Rule.GENERATION
    # A host that has not reported for longer than the window protects nothing.
    clock.now += 2 * 3600
    forgetful = retention.plan(Policy(hosts_s=3600, keep=0))
    assert sorted(i.id for i in forgetful.doomed) == [installed.id, older.id, old.id]

    done = retention.collect(plan)
    assert (done.instances, done.freed_bytes) == (1, older.size)
    assert not blobs.path(older.sha256).exists()
    assert older.id not in {i.id for i in catalog.alive()}
    assert catalog.lookup(older.sha256).collected_at == clock.now
    with pytest.raises(InvalidInput, match="collected by `binfarm gc`"):
        retention.pin(older.sha256, "admin", "too late")
    assert retention.plan(Policy(grace_s=7 * DAY)).doomed == []


def test_stray_files_go_once_old_and_an_interrupted_collection_is_finished(
    catalog: Catalog, clock: Clock, blobs: BlobStore, retention: Retention,
) -> None:
    kept = _build(catalog, blobs, 1)
    stray_old = blobs.root / "sha256" / "ab" / ("ab" * 32)
    stray_new = blobs.root / "tmp" / "upload-under-way"
    for stray in (stray_old, stray_new):
        stray.parent.mkdir(parents=True, exist_ok=True)
        stray.write_bytes(b"x" * 100)
    os.utime(stray_old, (clock.now - 2 * 3600, clock.now - 2 * 3600))
    os.utime(stray_new, (clock.now - 60, clock.now - 60))
    superseded = _build(catalog, blobs, 2)
    newest = _build(catalog, blobs, 3)

    # As a collection killed after marking leaves it: marked, its file still there.
    catalog.collect([superseded.id])
    assert views_listed(retention) == [newest.id]
    plan = retention.plan(Policy(grace_s=0, keep=0))
    assert [path for path, _ in plan.strays] == [stray_old]
    assert [i.id for i in plan.doomed] == [kept.id]
    done = retention.collect(plan)
    assert (done.finished, done.instances, done.strays) == (1, 1, 1)
    assert not blobs.path(superseded.sha256).exists() and not stray_old.exists()
    assert stray_new.exists() and blobs.path(newest.sha256).exists()


def views_listed(retention: Retention) -> list[int]:
    return [i.id for i in retention.channels.listed("laptop", Channel.STABLE)]


def test_a_collected_file_built_again_to_the_same_bytes_is_served_again(
    catalog: Catalog, blobs: BlobStore, retention: Retention,
) -> None:
    first = _build(catalog, blobs, 1)
    _build(catalog, blobs, 2)
    retention.collect(retention.plan(Policy(grace_s=0, keep=0)))
    assert catalog.lookup(first.sha256).collected_at is not None
    again = _build(catalog, blobs, 1)
    assert again.id == first.id and again.collected_at is None
    assert blobs.path(first.sha256).exists()
