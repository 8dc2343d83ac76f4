"""Fleet machines with stock Portage, driven by `binfarm client`, against a real farm."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.builders import ClientPrefix, FarmProcess, enrollment_token, register

PLACEHOLDER = "http://127.0.0.1:9/not-registered-yet"


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FarmProcess]:
    # The binhost needs credentials: each install proves Portage's fetcher sent the host's.
    farm = FarmProcess(tmp_path_factory.mktemp("clientfarm") / "a-deep-data-directory" / "var",
                       "--example", env={"BINFARM_SERVER__BINHOST_AUTH": "required"})
    yield farm
    farm.stop()


def machine(tmp_path_factory: pytest.TempPathFactory, *world: str) -> ClientPrefix:
    client = ClientPrefix(tmp_path_factory.mktemp("m"), "laptop", PLACEHOLDER)
    client.set_world(*world)
    return client


def test_a_machine_whose_cpu_is_too_small_is_refused(farm: FarmProcess,
                                                     tmp_path_factory: pytest.TempPathFactory,
                                                     ) -> None:
    client = machine(tmp_path_factory)
    before = (client.root / "etc/portage/binrepos.conf").read_text()
    enroll = enrollment_token(farm, "oldbox")
    refused = client.binfarm("client", "register", "--server", farm.url, "--token", enroll,
                             "--name", "oldbox", "--cpu", "x86-64", "--profile", "laptop")
    assert refused.returncode == 1
    assert "which its CPU" in refused.stderr and "sse4.2" in refused.stderr
    assert (client.root / "etc/portage/binrepos.conf").read_text() == before
    assert not (client.root / "var/lib/binfarm/client.json").exists()


def test_a_first_install_compiles_nothing_and_follows_local_use(
    farm: FarmProcess, tmp_path_factory: pytest.TempPathFactory,
) -> None:
    client = machine(tmp_path_factory, "app-misc/hello", "app-misc/tool")
    register(farm, client, "alpha")
    assert "alpha:" in (client.root / "etc/portage/binrepos.conf").read_text()  # credentials

    first = client.binfarm("client", "update")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "asking the farm to build" in first.stdout
    assert ">>> Compiling" not in first.stdout
    for cpv in ("app-misc/hello-1.0", "app-misc/tool-1.0", "dev-libs/libgreet-1.0"):
        assert client.installed_build_id(cpv), f"{cpv} was not installed from a binary"
    assert client.run("hello").startswith("hello: nls off")

    (client.root / "etc/portage/package.use/local").write_text("app-misc/hello debug\n")
    second = client.binfarm("client", "update")
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert ">>> Compiling" not in second.stdout
    assert "asking the farm to build 1 package(s): app-misc/hello-1.0" in second.stdout
    assert "debug build, 2+3=5" in client.run("hello")
    builds = [json.loads(line) for line in farm.cli("builds", "--json").stdout.splitlines()]
    debug_build = next(b for b in builds if b["package"] == "app-misc/hello-1.0"
                       and b["profile"] == "host-alpha" and b["state"] == "succeeded")
    assert debug_build  # the machine's own variant, built for its own profile

    hosts = httpx.get(f"{farm.url}/api/v1/hosts", headers=farm.auth).json()
    alpha = next(h for h in hosts if h["name"] == "alpha")
    assert alpha["profile"] == "host-alpha" and alpha["last_result"] == "succeeded"
    assert "app-misc/hello-1.0" in alpha["installed"] and alpha["out_of_date"] == []
    listed = farm.cli("hosts")
    assert "alpha" in listed.stdout and "host-alpha" in listed.stdout

    index = f"{farm.url}/binhost/host-alpha/Packages"
    assert httpx.get(index).status_code == 401
    token = json.loads((client.root / "var/lib/binfarm/client.json").read_text())["token"]
    assert httpx.get(index, auth=("alpha", token)).status_code == 200
    assert httpx.get(f"{farm.url}/binhost/desktop/Packages",
                     auth=("alpha", token)).status_code == 403


def test_sync_brings_the_shared_files_but_never_over_the_machines_own(
    farm: FarmProcess, tmp_path_factory: pytest.TempPathFactory, example: dict[str, Path],
) -> None:
    client = machine(tmp_path_factory)
    own = client.root / "etc/portage/make.conf/01master"
    own.write_text(own.read_text() + "# this machine's own tweak\n")
    register(farm, client, "beta")
    kept = client.binfarm("client", "sync", "--dry-run")
    assert kept.returncode == 0, kept.stderr
    assert "kept this machine's own make.conf/01master" in kept.stdout
    assert client.binfarm("client", "sync").returncode == 0
    assert "own tweak" in own.read_text()

    own.unlink()
    planned = client.binfarm("client", "sync", "--dry-run")
    assert "create make.conf/01master" in planned.stdout and not own.exists()
    assert client.binfarm("client", "sync").returncode == 0
    assert own.read_bytes() == (example["profiles"] / "laptop/make.conf/01master").read_bytes()
    assert "up to date" in client.binfarm("client", "sync").stdout


def test_without_the_farm_portage_compiles_unless_binary_only(
    farm: FarmProcess, tmp_path_factory: pytest.TempPathFactory, example: dict[str, Path],
) -> None:
    client = machine(tmp_path_factory)
    register(farm, client, "gamma")
    # With the farm down, Portage fetches sources itself: this offline machine has them.
    for distfile in example["distfiles"].iterdir():
        shutil.copy(distfile, client.root / "distfiles")
    down = "http://127.0.0.1:9"
    refused = client.binfarm("client", "update", "--binary-only", "--server", down,
                             "--oneshot", "app-misc/wordcount")
    assert refused.returncode == 1
    assert "--binary-only forbids compiling here: nothing was changed" in refused.stderr
    assert not (client.root / "var/db/pkg/app-misc/wordcount-1.0").exists()

    fallback = client.binfarm("client", "update", "--server", down, "--oneshot",
                              "app-misc/wordcount")
    assert fallback.returncode == 0, fallback.stdout[-3000:] + fallback.stderr[-3000:]
    assert "the farm cannot be reached" in fallback.stdout
    assert ">>> Compiling source" in fallback.stdout
    assert client.installed_build_id("app-misc/wordcount-1.0") is None  # built here
    assert client.run("wordcount", "a b\n").strip() == "2"
