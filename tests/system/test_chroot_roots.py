"""Chroot build roots: a profile builds in a stage3 (here a Debian stand-in made with
debootstrap, cached between runs), entered with bubblewrap; a machine with EPREFIX empty
installs the binaries with stock emerge; failed, killed and concurrent builds leave the
root as it was."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from binfarm.api.client import binhost_uri
from tests.builders import (
    ClientRoot,
    FarmProcess,
    WorkerProcess,
    copy_example_profile,
    stand_in_root,
    wait_until,
)
from tests.distcc_hosts import DistccHosts

# Short leases, so a killed worker's build comes back within seconds; no benching, since
# this module's builds fail and die on purpose.
FAST = {"BINFARM_QUEUE__LEASE_TTL_S": "5", "BINFARM_QUEUE__RETRY_BASE_S": "1",
        "BINFARM_WORKER__HEARTBEAT_S": "1", "BINFARM_WORKER__LOG_FLUSH_S": "0.5",
        "BINFARM_QUEUE__BENCH_AFTER": "100"}
PROFILE = "stage"


@dataclass
class ChrootFarm:
    farm: FarmProcess
    worker: WorkerProcess
    work_dir: Path
    stage3: Path

    @property
    def copy(self) -> Path:
        return self.work_dir / "chroots" / PROFILE

    def start_worker(self) -> None:
        self.worker = WorkerProcess(self.farm.url, self.farm.token, "builder", self.work_dir,
                                    FAST, slots=2)

    def request(self, *args: str) -> list[dict]:
        done = self.farm.cli("request", *args, "--wait")
        ids = list(dict.fromkeys(line.split()[1].rstrip(":") for line in
                                 done.stdout.splitlines() if line.startswith("build ")))
        assert ids, done.stdout + done.stderr
        return [self.build(i) for i in ids]

    def build(self, build_id: str | int) -> dict:
        return httpx.get(f"{self.farm.url}/api/v1/builds/{build_id}", timeout=30,
                         headers=self.farm.auth).json()

    def log(self, build_id: str | int) -> str:
        return httpx.get(f"{self.farm.url}/api/v1/builds/{build_id}/log", timeout=30,
                         headers=self.farm.auth).text

    def dump(self) -> str:
        return self.farm.dump() + "\n--- worker\n" + self.worker.log_path.read_text()[-6000:]


@pytest.fixture(scope="module")
def chroot_farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChrootFarm]:
    stage3 = stand_in_root()
    base = tmp_path_factory.mktemp("chroot")
    farm = FarmProcess(base / "var", "--example", "--workers", "0", env=FAST)
    tree = copy_example_profile("desktop", base / "stage-tree")
    # The profile's @system holds libgreet: its root is brought up to date with it.
    (tree / "profile").mkdir()
    (tree / "profile" / "packages").write_text("*dev-libs/libgreet\n")
    for args in (("profile", "add", PROFILE, str(tree), "--cpu", "x86-64-v3"),
                 ("root", "create", PROFILE, "--from", str(stage3))):
        done = farm.cli(*args)
        assert done.returncode == 0, done.stdout + done.stderr
    worker = WorkerProcess(farm.url, farm.token, "builder", base / "builder", FAST, slots=2)
    chroot = ChrootFarm(farm, worker, base / "builder", stage3)
    yield chroot
    chroot.worker.stop()
    farm.stop()


def snapshot(copy: Path) -> str:
    """Every path of a root copy with its type, mode, size and mtime."""
    digest = hashlib.sha256()
    for top, dirs, files in os.walk(copy):
        dirs.sort()
        for name in sorted(dirs + files):
            path = Path(top) / name
            if path.name == "lock":
                continue
            st = path.lstat()
            digest.update(f"{path}\0{st.st_mode}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def test_a_chroot_profile_builds_binaries_a_machine_without_prefix_installs(
        chroot_farm: ChrootFarm, tmp_path: Path) -> None:
    f = chroot_farm
    shown = f.farm.cli("profile", "show", PROFILE)
    assert "chroot, from" in shown.stdout, shown.stdout + shown.stderr

    [lib] = f.request("-p", PROFILE, "dev-libs/libgreet")
    assert lib["state"] == "succeeded", f.dump()
    log = f.log(lib["id"])
    assert ">>> binfarm: build root: chroot" in log and "EPREFIX is empty" in log
    assert "@system could not be updated from the farm's binaries" in log

    # Now the farm has libgreet: the root takes it into a kept @system layer, and hello
    # links against the libgreet installed there instead of building it again.
    [hello] = f.request("-p", PROFILE, "app-misc/hello")
    assert hello["state"] == "succeeded", f.dump()
    log = f.log(hello["id"])
    assert "kept the @system update as layer 0001" in log, log
    assert "[ebuild  N     ] dev-libs/libgreet" not in log
    assert [p["cpv"] for p in hello["packages"]] == ["app-misc/hello-1.0"]
    # The key Portage predicts for the chroot profile is the key the binary carries.
    assert [b["id"] for b in f.request("-p", PROFILE, "app-misc/hello")] == [hello["id"]]
    root = httpx.get(f"{f.farm.url}/api/v1/profiles/{PROFILE}/root", timeout=30,
                     headers=f.farm.auth).json()
    [copy] = root["copies"]
    assert (copy["worker"], copy["layers"]) == ("builder", 1)
    assert copy["disk_bytes"] > 100 << 20
    shown = f.farm.cli("root", "show", PROFILE)
    assert "builder" in shown.stdout and "MiB" in shown.stdout, shown.stdout

    client = ClientRoot(tmp_path / "machine", f.stage3, "desktop",
                        binhost_uri(f.farm.url, PROFILE, "client", None))
    client.trust(f.farm.url)
    done = client.emerge("--getbinpkg", "--usepkgonly", "app-misc/hello")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    ran = client.run("hello")
    assert ran.returncode == 0 and "hello: nls on, libgreet 1.0" in ran.stdout, ran
    installed = [client.installed("/usr/bin/hello"), client.installed("/usr/lib64/libgreet.so.1")]
    runpath = subprocess.run(["scanelf", "-qF", "%r#F", *map(str, installed)],
                             capture_output=True, text=True, check=True).stdout.split()
    assert runpath == ["/usr/lib64", "-"] or runpath == ["/usr/lib64"], runpath
    farm_paths = [str(f.farm.data_dir).encode(), str(f.work_dir).encode(),
                  str(tmp_path.parent.parent).encode()]
    for path in installed:
        data = path.resolve().read_bytes()
        assert not [p for p in farm_paths if p in data], (path, farm_paths)


def test_an_image_of_the_chroot_profile_is_made_of_its_slash_binaries(
        chroot_farm: ChrootFarm, tmp_path: Path) -> None:
    f = chroot_farm
    image = tmp_path / "image"
    done = f.farm.cli("image", "build", PROFILE, "app-misc/hello", "sys-libs/hostlibc",
                      "--out", str(image), timeout_s=900)
    assert done.returncode == 0, done.stdout + done.stderr + f.dump()
    manifest = json.loads((tmp_path / "image.manifest.json").read_text())
    # The C library had no binary yet: the farm built it in the chroot root first.
    [libc] = [b["build"] for b in manifest["built_for_it"] if b["cpv"] == "sys-libs/hostlibc-1.0"]
    assert ">>> binfarm: build root: chroot" in f.log(libc)
    [hello] = f.request("-p", PROFILE, "app-misc/hello")
    installed = {p["cpv"]: p["build_id"] for p in manifest["packages"]}
    assert installed["app-misc/hello-1.0"] == hello["packages"][0]["build_id"]
    # Built for `/`, installed at `/`: nothing was relocated.
    runpath = subprocess.run(["scanelf", "-qF", "%r#F", str(image / "usr/bin/hello")],
                             capture_output=True, text=True, check=True).stdout.split()
    assert runpath == ["/usr/lib64"], runpath
    ran = subprocess.run(["bwrap", "--bind", str(image), "/", "--proc", "/proc", "--dev", "/dev",
                          "--unshare-all", "--", "/usr/bin/hello"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert ran.returncode == 0 and "hello: nls on, libgreet 1.0" in ran.stdout, ran


def test_the_same_worker_builds_a_prefix_profile_in_a_prefix(chroot_farm: ChrootFarm) -> None:
    [tool] = chroot_farm.request("-p", "laptop", "app-misc/tool")
    assert tool["state"] == "succeeded", chroot_farm.dump()
    assert ">>> binfarm: build root: prefix " in chroot_farm.log(tool["id"])


def test_two_concurrent_builds_leave_the_root_intact(chroot_farm: ChrootFarm) -> None:
    f = chroot_farm
    before = snapshot(f.copy)
    slow, fast = f.request("-p", PROFILE, "app-misc/slowpoke", "app-misc/fastcalc")
    assert (slow["state"], fast["state"]) == ("succeeded", "succeeded"), f.dump()
    assert fast["started_at"] < slow["finished_at"] and slow["started_at"] < fast["finished_at"]
    assert snapshot(f.copy) == before


def test_a_chroot_build_compiles_on_distcc_hosts(chroot_farm: ChrootFarm) -> None:
    """The root's own distcc, through the farm's masquerade directory bound into it; the
    build keeps the network to reach the host, and the root stays as it was."""
    f = chroot_farm
    hosts = DistccHosts(1)
    try:
        hosts[0].start(jobs=4)
        added = f.farm.cli("distcc", "add", hosts[0].address, "--slots", "4")
        assert added.returncode == 0, added.stdout + added.stderr
        before = snapshot(f.copy)
        [units] = f.request("-p", PROFILE, "app-misc/units")
        assert units["state"] == "succeeded", f.dump()
        log = f.log(units["id"])
        assert "distcc: the build keeps the network" in log, log
        assert "compile units ran remotely" in log, log
        assert hosts[0].compiled() >= 12
        assert snapshot(f.copy) == before
    finally:
        f.farm.cli("distcc", "remove", hosts[0].address)
        hosts.close()


def test_failed_and_killed_builds_leave_the_root_as_it_was(chroot_farm: ChrootFarm) -> None:
    f = chroot_farm
    before = snapshot(f.copy)
    [broken] = f.request("-p", PROFILE, "app-misc/broken")
    assert broken["state"] == "failed", f.dump()
    assert snapshot(f.copy) == before

    done = f.farm.cli("request", "-p", PROFILE, "app-misc/slowpoke",
                      "--env", "CFLAGS=-O1 -pipe -march=x86-64-v3")
    build_id = done.stdout.split()[1].rstrip(":")
    wait_until(lambda: "compiling for 12" in f.log(build_id), 120, "slowpoke compiling")
    f.worker.kill_machine()
    assert snapshot(f.copy) == before
    f.start_worker()
    rebuilt = wait_until(lambda: (b := f.build(build_id))["state"] in ("succeeded", "failed")
                         and b, 180, "slowpoke built again")
    assert rebuilt["state"] == "succeeded", f.dump()
    assert snapshot(f.copy) == before


def test_root_update_then_delete(chroot_farm: ChrootFarm) -> None:
    f = chroot_farm
    done = f.farm.cli("root", "update", PROFILE)
    assert done.returncode == 0 and "generation 1" in done.stdout, done.stdout + done.stderr
    before = snapshot(f.copy)
    [words] = f.request("-p", PROFILE, "app-misc/wordcount")
    assert words["state"] == "succeeded", f.dump()
    log = f.log(words["id"])
    assert "bringing the chroot root up to date with @system" in log
    assert "@system was already up to date" in log
    assert snapshot(f.copy) != before  # state.json records the generation it matches
    roots = httpx.get(f"{f.farm.url}/api/v1/roots", timeout=30, headers=f.farm.auth).json()
    [copy] = roots[0]["copies"]
    assert (copy["generation"], copy["layers"]) == (1, 1)

    done = f.farm.cli("root", "delete", PROFILE)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "prefix" in f.farm.cli("profile", "show", PROFILE).stdout
    [tool] = f.request("-p", PROFILE, "app-misc/tool")
    assert tool["state"] == "succeeded", f.dump()
    assert ">>> binfarm: build root: prefix " in f.log(tool["id"])
    assert not f.copy.exists()
    shown = f.farm.cli("root", "show", PROFILE)
    assert shown.returncode != 0 and "builds in a prefix" in shown.stderr, shown
