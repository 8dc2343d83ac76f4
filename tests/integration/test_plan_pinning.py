"""A plan's builds use the repository revision the plan was made against."""

from __future__ import annotations

from pathlib import Path

from binfarm.examples import EXAMPLE_REPO_NAME
from binfarm.farm import Farm
from binfarm.planner.run import enqueue_plan, plan_fleet
from binfarm.queue.service import Requester
from binfarm.revisions import revision_of
from binfarm.worker.machine import local_cpu_features


def test_a_sync_while_planned_builds_wait_does_not_mix_two_trees(farm: Farm) -> None:
    repo = farm.repositories.locations()[EXAMPLE_REPO_NAME]
    farm.set_world("laptop", ["app-misc/hello"])
    builds = enqueue_plan(farm, plan_fleet(farm, ["laptop"]), Requester("test"))
    assert sorted(b.cpv for b in builds) == ["app-misc/hello-1.0", "dev-libs/libgreet-1.0"]
    [pinned] = {tuple(b.repositories.items()) for b in builds}
    snapshot = Path(dict(pinned)[EXAMPLE_REPO_NAME])
    assert snapshot.parent == farm.data_dir / "snapshots" / EXAMPLE_REPO_NAME
    before = revision_of(repo)
    assert revision_of(snapshot) == before

    ebuild = repo / "app-misc/hello/hello-1.0.ebuild"
    synced = ebuild.with_name("incoming")
    synced.write_text(ebuild.read_text().replace('SLOT="0"', 'SLOT="0"\n# synced'))
    synced.replace(ebuild)  # a sync replaces files (git, rsync): the snapshot keeps its own
    cache = repo / "metadata/md5-cache/app-misc/hello-1.0"
    synced_cache = cache.with_name("incoming")
    synced_cache.write_text(cache.read_text() + "\n")
    synced_cache.replace(cache)

    assert "# synced" not in (snapshot / "app-misc/hello/hello-1.0.ebuild").read_text()
    assert revision_of(snapshot) == before != revision_of(repo)
    leased = farm.queue.get(builds[0].id)
    assert leased.repositories == dict(pinned)
    farm.set_world("desktop", ["app-misc/tool"])
    later = enqueue_plan(farm, plan_fleet(farm, ["desktop"]), Requester("test"))
    assert {b.repositories[EXAMPLE_REPO_NAME] for b in later} != {str(snapshot)}


def test_a_pinned_build_is_keyed_by_the_tree_it_was_built_from(
    farm: Farm, laptop_packages: dict[str, Path],
) -> None:
    repo = farm.repositories.locations()[EXAMPLE_REPO_NAME]
    farm.set_world("laptop", ["app-misc/hello"])
    planned = {b.cpv: b for b in enqueue_plan(farm, plan_fleet(farm, ["laptop"]),
                                              Requester("test"))}
    eclass = repo / "eclass" / "example-cc.eclass"
    changed = eclass.with_name("incoming")
    changed.write_text(eclass.read_text() + "# a fix after the plan\n")
    changed.replace(eclass)  # the live tree moves on; the plan's snapshot does not

    farm.register_worker("w", "x86_64", local_cpu_features(), 1)
    for name in ("libgreet", "hello"):  # the order the plan's `after` allows
        build = farm.lease("w")
        assert build is not None and build.cpv.split("/")[1].startswith(name)
        with farm.blobs.receive(1 << 30) as writer:
            writer.write(laptop_packages[name].read_bytes())
            instance = farm.receive_package(build.id, "w", laptop_packages[name].name, writer)
        farm.finish_build(build.id, "w", ok=True, error=None)
        assert instance.key == planned[build.cpv].key  # keyed by the snapshot's eclass

    [again] = farm.request_builds("laptop", ["app-misc/hello"])
    assert again.id not in {b.id for b in planned.values()}  # the new eclass: a new build
