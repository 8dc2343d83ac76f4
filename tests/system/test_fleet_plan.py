"""The fleet planner on the example: right numbers, then every world built once, in order."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.builders import ClientPrefix, FarmProcess, copy_example_profile, wait_until
from tests.system.conftest import Fleet


def _world(example: dict[str, Path], profile: str) -> list[str]:
    return (example["worlds"] / profile).read_text().split()


def _portage_count(tmp_path_factory: pytest.TempPathFactory, profile: str,
                   world: list[str]) -> set[str]:
    """What Portage itself would merge on a fresh machine: `emerge -pe` of the world."""
    client = ClientPrefix(tmp_path_factory.mktemp("pe"), profile, "http://127.0.0.1:9/")
    done = client.emerge("-pe", *world, "@system")
    assert done.returncode == 0, done.stdout + done.stderr
    return {line.split("]", 1)[1].split()[0].split("::")[0]
            for line in done.stdout.splitlines() if line.startswith("[ebuild")}


def test_plan_counts_and_enqueue_builds_every_world_once(
    fleet: Fleet, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory,
    example: dict[str, Path],
) -> None:
    farm: FarmProcess = fleet.farm(tmp_path / "a-deep-data-directory" / "var", "--example")
    twin = copy_example_profile("laptop", tmp_path / "twin")
    (twin / "make.conf" / "03twin").write_text('CFLAGS="-O2 -march=x86-64-v2"\n'
                                               'CXXFLAGS="${CFLAGS}"\n')
    world_file = tmp_path / "world"
    world_file.write_text("# the laptop's world\n" + "\n".join(_world(example, "laptop")))
    added = farm.cli("profile", "add", "twin", str(twin), "--cpu", "x86-64-v2",
                     "--world", str(world_file))
    assert added.returncode == 0, added.stderr

    planned = farm.cli("plan", "--json", "--jobs", "2")
    assert planned.returncode == 0, planned.stderr
    plan = json.loads(planned.stdout)
    expected = {name: _portage_count(tmp_path_factory, "laptop" if name == "twin" else name,
                                     _world(example, "laptop" if name == "twin" else name))
                for name in ("desktop", "laptop", "twin")}
    for name, merged in expected.items():
        assert plan["profiles"][name]["packages"] == len(merged), (name, merged)
    # twin differs from laptop only in -pipe: it shares every build with it
    assert plan["matrix"]["laptop"]["twin"] == len(expected["laptop"])
    assert plan["distinct_builds"] == len(expected["desktop"]) + len(expected["laptop"])
    assert plan["to_build"] == plan["distinct_builds"] and plan["stored"] == 0
    total = sum(len(m) for m in expected.values())
    assert plan["sharing_ratio"] == round(total / plan["distinct_builds"], 3)
    assert any(s.startswith("CFLAGS ('-O2 -march=x86-64-v3' vs '-O2 -march=x86-64-v2')")
               for s in plan["splits"])
    assert "USE=nls splits 1 package between desktop and laptop" in plan["splits"]

    enqueued = farm.cli("plan", "--enqueue", "--json")
    assert enqueued.returncode == 0, enqueued.stderr
    ids = json.loads(enqueued.stdout)["enqueued"]
    assert len(ids) == plan["to_build"]
    api, auth = f"{farm.url}/api/v1/builds", farm.auth
    builds = wait_until(lambda: (bs := [httpx.get(f"{api}/{i}", headers=auth).json()
                                        for i in ids]) and all(
        b["state"] in ("succeeded", "failed", "cancelled") for b in bs) and bs, 300,
        "the planned builds")
    assert [b["state"] for b in builds] == ["succeeded"] * len(ids)
    for build in builds:  # each build compiled only its own package: no dependency twice
        assert [p["cpv"] for p in build["packages"]] == [build["cpv"]], build
    again = json.loads(farm.cli("plan", "--json").stdout)
    assert (again["to_build"], again["stored"]) == (0, plan["distinct_builds"])

    for profile in ("desktop", "laptop"):
        client = ClientPrefix(tmp_path_factory.mktemp("c"), profile,
                              f"{farm.url}/binhost/{profile}")
        client.trust(farm.url)
        installed = client.emerge("--getbinpkg", "--usepkgonly", "--binpkg-respect-use=y",
                                  *_world(example, profile))
        assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
        for cpv in expected[profile]:
            assert client.installed_build_id(cpv), f"{profile}: {cpv} not from a binary"
