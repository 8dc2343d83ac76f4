"""The first farm end to end: real Portage builds, real HTTP, stock emerge as the client."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.builders import ClientPrefix, FarmProcess, copy_example_profile

PACKAGES = ["app-misc/hello", "app-misc/tool", "app-misc/fastcalc", "app-misc/wordcount"]


def _has_avx2() -> bool:
    return "avx2" in Path("/proc/cpuinfo").read_text().split()


def test_example_profiles_are_registered(example_farm: FarmProcess) -> None:
    listed = example_farm.cli("profile", "list")
    assert listed.returncode == 0, listed.stderr
    assert "desktop" in listed.stdout and "laptop" in listed.stdout
    shown = example_farm.cli("profile", "show", "laptop")
    assert shown.returncode == 0, shown.stderr
    assert "-O2 -pipe -march=x86-64-v2" in shown.stdout  # 02slave overrides 01master
    assert "cpu_flags_x86_avx2" not in shown.stdout
    assert "x86_64-pc-linux-gnu" in shown.stdout


def test_admin_token_is_private(example_farm: FarmProcess) -> None:
    token_file = example_farm.data_dir / "admin.token"
    assert token_file.stat().st_mode & 0o777 == 0o600
    assert example_farm.token


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ("desktop", {"hello": "hello: nls on", "tool": "tool: ssl on",
                     "fastcalc": "fastcalc: avx2, 42"}),
        ("laptop", {"hello": "hello: nls off", "tool": "tool: ssl off",
                    "fastcalc": "fastcalc: generic, 42"}),
    ],
)
def test_client_installs_the_profiles_binaries(
    example_farm: FarmProcess, tmp_path_factory: pytest.TempPathFactory, profile: str,
    expected: dict[str, str],
) -> None:
    built = example_farm.cli("request", *PACKAGES, "--profile", profile, "--wait")
    assert built.returncode == 0, built.stdout + built.stderr
    for package in PACKAGES:
        assert f"{package}-1.0 succeeded " in built.stdout

    # Distinct index paths per profile: Portage caches an index by host and path.
    client = ClientPrefix(tmp_path_factory.mktemp("c"), profile,
                          f"{example_farm.url}/binhost/{profile}")
    client.trust(example_farm.url)
    installed = client.emerge("--getbinpkg", "--usepkgonly", "--binpkg-respect-use=y",
                              *PACKAGES)
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    assert ">>> Compiling" not in installed.stdout
    for cpv in ("app-misc/hello-1.0", "dev-libs/libgreet-1.0", "app-misc/wordcount-1.0"):
        assert client.installed_build_id(cpv), f"{cpv} was not installed from a binary"

    assert client.run("hello").startswith(expected["hello"])
    assert client.run("tool").startswith(expected["tool"])
    if profile == "laptop" or _has_avx2():
        assert client.run("fastcalc").startswith(expected["fastcalc"])
    assert client.run("wordcount", "three small words\n").strip() == "3"
    if profile == "desktop":
        assert "debug build, 2+3=5" in client.run("hello")  # package.use: hello debug


def test_every_built_package_is_stored_once(example_farm: FarmProcess) -> None:
    built = example_farm.cli("request", "app-misc/hello", "--profile", "laptop", "--wait")
    assert built.returncode == 0, built.stdout + built.stderr
    blobs = [p for p in (example_farm.data_dir / "store" / "sha256").rglob("*") if p.is_file()]
    index = httpx.get(f"{example_farm.url}/binhost/laptop/Packages").text
    paths = [line.split(": ", 1)[1] for line in index.splitlines() if line.startswith("PATH: ")]
    assert len(paths) == len(set(paths))
    assert len({b.name for b in blobs}) == len(blobs)
    assert any("dev-libs/libgreet/" in p for p in paths), "the dependency was not stored"


def test_a_failing_build_reports_its_log_and_the_farm_keeps_serving(
    example_farm: FarmProcess,
) -> None:
    failed = example_farm.cli("request", "app-misc/broken", "--profile", "laptop", "--wait")
    assert failed.returncode == 1
    assert "failed" in failed.stdout
    assert "this_symbol_does_not_exist" in failed.stdout  # the compiler's complaint, tailed
    build_id = failed.stdout.split()[1].rstrip(":")
    log = example_farm.cli("log", build_id)
    assert log.returncode == 0
    assert "ERROR: app-misc/broken-1.0::binfarm-example failed (compile phase)" in log.stdout
    assert httpx.get(f"{example_farm.url}/api/v1/health").status_code == 200


@pytest.mark.parametrize(
    ("atom", "message"),
    [
        ("app-misc/no-such-package", "no ebuild matches 'app-misc/no-such-package'"),
        ("=app-misc/hello", "is not a valid atom"),
        ("no-such-package", "no ebuild matches"),
    ],
)
def test_a_bad_atom_is_refused_clearly(example_farm: FarmProcess, atom: str,
                                       message: str) -> None:
    refused = example_farm.cli("request", atom, "--profile", "laptop")
    assert refused.returncode == 1
    assert message in refused.stderr
    assert "Traceback" not in refused.stderr
    assert httpx.get(f"{example_farm.url}/api/v1/health").status_code == 200


def _broken_tree(base: Path, how: str) -> Path:
    tree = copy_example_profile("laptop", base / how)
    if how == "no-make-profile":
        (tree / "make.profile").unlink()
    elif how == "bad-make-conf":
        (tree / "make.conf" / "02slave").write_text('USE="${USE} -nls\n')
    elif how == "unknown-repository":
        (tree / "repos.conf" / "gentoo.conf").write_text(
            "[gentoo]\nlocation = /var/db/repos/gentoo\n")
    elif how == "profile-in-unknown-repository":
        (tree / "make.profile").unlink()
        (tree / "make.profile").symlink_to("/var/db/repos/gentoo/profiles/default/linux/amd64")
    return tree


@pytest.mark.parametrize(
    ("how", "complaint"),
    [
        ("no-make-profile", "make.profile is missing"),
        ("bad-make-conf", '"make.conf/02slave", line 2: No closing quotation'),
        ("unknown-repository", "repos.conf names 'gentoo', which this farm does not have"),
        ("profile-in-unknown-repository", "repository 'gentoo', which this farm does not have"),
    ],
)
def test_a_broken_profile_is_refused_and_nothing_is_stored(
    example_farm: FarmProcess, tmp_path: Path, how: str, complaint: str,
) -> None:
    name = f"broken-{how}"
    refused = example_farm.cli("profile", "add", name, str(_broken_tree(tmp_path, how)))
    assert refused.returncode == 1, refused.stdout
    assert complaint in refused.stderr
    assert name not in example_farm.cli("profile", "list").stdout
    leftovers = [p.name for p in (example_farm.data_dir / "profiles").iterdir()
                 if name in p.name]
    assert leftovers == []


def test_a_profile_added_from_a_directory_is_evaluated_by_portage(
    example_farm: FarmProcess, tmp_path: Path,
) -> None:
    tree = copy_example_profile("laptop", tmp_path / "server")
    (tree / "make.conf" / "03server").write_text('CFLAGS="-O3 -pipe"\nUSE="${USE} -ssl"\n')
    added = example_farm.cli("profile", "add", "server", str(tree))
    assert added.returncode == 0, added.stderr
    shown = example_farm.cli("profile", "show", "server")
    assert "-O3 -pipe" in shown.stdout
    again = example_farm.cli("profile", "add", "server", str(tree))
    assert again.returncode == 1 and "already exists" in again.stderr


def test_builds_and_log_commands(example_farm: FarmProcess) -> None:
    queued = example_farm.cli("request", "app-misc/wordcount", "--profile", "desktop", "--wait")
    assert queued.returncode == 0, queued.stdout + queued.stderr
    listed = example_farm.cli("builds")
    assert "app-misc/wordcount-1.0" in listed.stdout and "succeeded" in listed.stdout
    build_id = queued.stdout.split()[1].rstrip(":")
    log = example_farm.cli("log", build_id)
    assert "wordcount: all tests passed" in log.stdout  # package.env turned on FEATURES=test


def test_serve_refuses_a_bad_listen_address(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "binfarm", "serve", "--data-dir",
                           str(tmp_path), "--listen", "nonsense"], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode != 0
    assert "HOST:PORT" in done.stderr
