"""A compile farm on real distcc: distccd "hosts" in network namespaces this test creates,
a farm that probes them, leases their slots and builds the example's app-misc/units (13
compile units) with FEATURES=distcc in its workers' build roots."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.builders import FarmProcess, copy_example_profile, wait_until
from tests.distcc_hosts import DistccHosts

UNITS = 13  # app-misc/units: twelve units and main.c, then one link


@pytest.fixture(scope="module")
def hosts() -> Iterator[DistccHosts]:
    hosts = DistccHosts(4)
    hosts[0].start()
    hosts[1].start()
    hosts[2].start(insecure=True)
    hosts[3].start(no_ident=True)
    yield hosts
    hosts.close()


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory, hosts: DistccHosts) -> Iterator[FarmProcess]:
    trusted = json.dumps([f"{h.address}/32" for h in hosts.hosts[:3]])
    farm = FarmProcess(tmp_path_factory.mktemp("distcc") / "var", "--example",
                       env={"BINFARM_DISTCC__TRUSTED_NETWORKS": trusted,
                            "BINFARM_DISTCC__PROBE_INTERVAL_S": "3600"})
    yield farm
    farm.stop()


def api(farm: FarmProcess, method: str, path: str, **kwargs: object) -> httpx.Response:
    return httpx.request(method, f"{farm.url}/api/v1{path}", headers=farm.auth, timeout=120,
                         **kwargs)  # type: ignore[arg-type]


def host_rows(farm: FarmProcess) -> dict[str, dict[str, object]]:
    return {h["address"]: h for h in api(farm, "GET", "/distcc/hosts").json()}


def ensure(farm: FarmProcess, address: str, slots: int = 2) -> None:
    if address not in host_rows(farm):
        added = farm.cli("distcc", "add", address, "--slots", str(slots))
        assert added.returncode == 0, added.stdout + added.stderr


def build(farm: FarmProcess, cflags: str, profile: str = "desktop") -> int:
    asked = api(farm, "POST", "/builds", json={
        "profile": profile, "atoms": ["app-misc/units"], "env": {"CFLAGS": cflags}})
    assert asked.status_code in (200, 201), asked.text
    return int(asked.json()[0]["id"])


def finished(farm: FarmProcess, build_id: int, timeout_s: float = 300) -> dict[str, object]:
    def done() -> dict[str, object] | None:
        b = api(farm, "GET", f"/builds/{build_id}").json()
        return b if b["state"] in ("succeeded", "failed", "cancelled") else None
    return wait_until(done, timeout_s, f"build {build_id}")


def log_of(farm: FarmProcess, build_id: int) -> str:
    return farm.cli("log", str(build_id)).stdout


def test_hosts_are_probed_refused_or_marked(farm: FarmProcess, hosts: DistccHosts) -> None:
    good, _other, insecure, mismatched = hosts.hosts
    added = farm.cli("distcc", "add", good.address, "--slots", "2")
    assert added.returncode == 0, added.stderr
    assert "up" in added.stdout and "warning" not in added.stdout
    row = host_rows(farm)[good.address]
    assert row["compilers"] == ["x86_64-linux-gnu-gcc", "x86_64-linux-gnu-g++"]
    assert row["stats"] and "dcc_compile_ok" in row["stats"]  # type: ignore[operator]

    refused = farm.cli("distcc", "add", insecure.address, "--slots", "2")
    assert refused.returncode == 1
    assert "runs any compiler it is sent" in refused.stderr
    assert insecure.address not in host_rows(farm)  # nothing kept

    marked = farm.cli("distcc", "add", mismatched.address, "--slots", "2")
    assert marked.returncode == 0, marked.stderr
    assert "mismatched" in marked.stdout
    assert "not in a network the farm was told is trusted" in " ".join(marked.stdout.split())
    assert "no .comment" in str(host_rows(farm)[mismatched.address]["reason"])

    absent = farm.cli("distcc", "add", "10.252.99.2", "--slots", "1")
    assert absent.returncode == 0 and "down" in absent.stdout
    assert farm.cli("distcc", "remove", "10.252.99.2").returncode == 0
    assert farm.cli("distcc", "add", good.address, "--slots", "2").returncode == 1  # twice
    bad = farm.cli("distcc", "add", "not a host", "--slots", "2")
    assert bad.returncode == 1 and "HOST[:PORT]" in bad.stderr


def test_a_build_compiles_on_the_hosts(farm: FarmProcess, hosts: DistccHosts) -> None:
    ensure(farm, hosts[0].address)
    ensure(farm, hosts[1].address)
    before = [h.compiled() for h in hosts.hosts]
    seen: list[dict[str, object]] = []
    stop = threading.Event()

    def watch() -> None:  # what `binfarm distcc top` shows, while the build runs
        while not stop.wait(0.3):
            for activity in api(farm, "GET", "/distcc/activity").json():
                seen.extend(activity["tasks"])

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        build_id = build(farm, "-O2 -pipe -march=x86-64-v3")
        result = finished(farm, build_id)
    finally:
        stop.set()
        watcher.join()
    assert result["state"] == "succeeded", log_of(farm, build_id)
    remote = [h.compiled() - b for h, b in zip(hosts.hosts, before, strict=True)]
    assert remote[0] + remote[1] >= UNITS - 1, remote  # most units, counted by distccd
    assert remote[0] > 0 and remote[1] > 0
    assert remote[3] == 0  # the mismatched host is never leased
    log = log_of(farm, build_id)
    assert "distcc: compiling on" in log and "DISTCC_HOSTS=" in log
    assert f"compile units ran remotely ({hosts[0].address}" in log
    assert {t["host"] for t in seen} & {hosts[0].address, hosts[1].address}, seen
    status = farm.cli("distcc", "status")
    assert "0 of 4 slots leased" in " ".join(status.stdout.split()), status.stdout


def test_two_builds_never_exceed_a_hosts_slots(farm: FarmProcess, hosts: DistccHosts) -> None:
    ensure(farm, hosts[0].address)
    ensure(farm, hosts[1].address)
    peaks: dict[str, int] = {}
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.1):
            for address, row in host_rows(farm).items():
                peaks[address] = max(peaks.get(address, 0), int(row["used"]))  # type: ignore[arg-type]

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        ids = [build(farm, "-O1 -pipe -march=x86-64-v3"), build(farm, "-Os -pipe -march=x86-64-v3")]
        results = [finished(farm, i) for i in ids]
    finally:
        stop.set()
        watcher.join()
    assert [r["state"] for r in results] == ["succeeded", "succeeded"]
    assert peaks.get(hosts[0].address, 0) <= 2 and peaks.get(hosts[1].address, 0) <= 2
    logs = [log_of(farm, i) for i in ids]
    # The embedded worker runs both at once: one leased all four slots, the other was told.
    assert any("every slot of the up distcc hosts is leased" in log for log in logs) or \
        sum(log.count("(2 slots)") for log in logs) <= 2, logs


def test_a_host_killed_mid_build(farm: FarmProcess, hosts: DistccHosts) -> None:
    ensure(farm, hosts[0].address)
    ensure(farm, hosts[1].address)
    victim = hosts[1]
    before = victim.compiled()
    build_id = build(farm, "-O3 -pipe -march=x86-64-v3")
    wait_until(lambda: victim.compiled() > before, 120, "a first compile on the host", 0.02)
    victim.kill()
    result = finished(farm, build_id)
    assert result["state"] == "succeeded", log_of(farm, build_id)  # distcc fell back
    probed = farm.cli("distcc", "probe", victim.address)
    assert probed.returncode == 0, probed.stderr
    row = host_rows(farm)[victim.address]
    assert row["state"] == "down" and row["reason"], row
    victim.start()
    farm.cli("distcc", "probe")
    assert host_rows(farm)[victim.address]["state"] == "up"


def test_no_host_up_builds_locally_and_says_so(farm: FarmProcess, hosts: DistccHosts) -> None:
    ensure(farm, hosts[0].address)
    for address in (hosts[0].address, hosts[1].address):
        if address in host_rows(farm):
            assert farm.cli("distcc", "drain", address).returncode == 0
    before = hosts[0].compiled() + hosts[1].compiled()
    build_id = build(farm, "-O2 -fomit-frame-pointer -march=x86-64-v3")
    result = finished(farm, build_id)
    assert result["state"] == "succeeded"
    assert "distcc: compiling locally: no distcc host is up" in log_of(farm, build_id)
    assert hosts[0].compiled() + hosts[1].compiled() == before
    for address in (hosts[0].address, hosts[1].address):
        if address in host_rows(farm):
            farm.cli("distcc", "drain", address, "--undo")


def test_march_native_is_written_out_and_distributes(farm: FarmProcess, hosts: DistccHosts,
                                                     tmp_path: Path) -> None:
    ensure(farm, hosts[0].address)
    ensure(farm, hosts[1].address)
    trees = {}
    for name, flags in (("native", "-O2 -march=native -mtune=native -fstack-protector-strong"),
                        ("explicit", "-O2 -march=x86-64-v3 -mtune=generic "
                                     "-fstack-protector-strong")):
        tree = copy_example_profile("desktop", tmp_path / name)
        conf = tree / "make.conf" / "01master"
        conf.write_text(conf.read_text().replace("-O2 -pipe -march=x86-64-v3", flags))
        trees[name] = tree
    refused = farm.cli("profile", "add", "native", str(trees["native"]))
    assert refused.returncode == 1 and "give its CPU with --cpu" in refused.stderr
    for name, tree in trees.items():
        added = farm.cli("profile", "add", name, str(tree), "--cpu", "x86-64-v3")
        assert added.returncode == 0, added.stderr
    profile = api(farm, "GET", "/profiles/native").json()
    assert profile["cflags"] == "-O2 -march=x86-64-v3 -mtune=generic -fstack-protector-strong"
    assert profile["cflags"] == profile["cxxflags"]

    before = hosts[0].compiled() + hosts[1].compiled()
    asked = api(farm, "POST", "/builds", json={"profile": "native", "atoms": ["app-misc/units"]})
    build_id = int(asked.json()[0]["id"])
    result = finished(farm, build_id)
    assert result["state"] == "succeeded", log_of(farm, build_id)
    assert hosts[0].compiled() + hosts[1].compiled() - before >= UNITS - 1
    # The same key: the explicit profile's request is answered with the native one's build.
    same = api(farm, "POST", "/builds", json={"profile": "explicit",
                                              "atoms": ["app-misc/units"]}).json()[0]
    assert same["id"] == build_id, same
