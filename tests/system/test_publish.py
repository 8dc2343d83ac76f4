"""The published tree served the ways seed admins serve binaries, each with stock Portage:
a read-only bind mount as PKGDIR (the NFS case, with and without pkgdir-index-trusted),
real nginx with the configuration `binfarm publish --nginx-config` prints (the farm
requires credentials: nginx asks it), an rsync daemon module, an FTP server, file://."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.builders import ClientPrefix, FarmProcess, free_port, wait_until
from tests.servers import FtpServer, Nginx, RsyncDaemon

CPVS = ("app-misc/hello-1.0", "dev-libs/libgreet-1.0")


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FarmProcess]:
    # Deep, as the example farm: a client prefix must not be longer than the build prefix.
    var = tmp_path_factory.mktemp("publish") / "a-deep-data-directory" / "var"
    served = FarmProcess(var, "--example", env={"BINFARM_SERVER__BINHOST_AUTH": "required"})
    done = served.cli("request", "app-misc/hello", "--profile", "laptop", "--wait")
    assert done.returncode == 0, done.stdout + done.stderr
    index = var / "published" / "laptop" / "current" / "Packages"
    wait_until(lambda: index.exists() and all(f"CPV: {c}\n" in index.read_text() for c in CPVS),
               60, "hello and libgreet published")
    yield served
    served.stop()


def _published(farm: FarmProcess) -> Path:
    return farm.data_dir / "published"


def _client(tmp_path: Path, farm: FarmProcess, name: str, uri: str) -> ClientPrefix:
    client = ClientPrefix(tmp_path / name, "laptop", uri)
    client.trust(farm.url)
    return client


def _installs(client: ClientPrefix, *args: str, **env: str) -> None:
    done = client.emerge(*args, "--oneshot", "app-misc/hello", **env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (client.root / "var/db/pkg/app-misc/hello-1.0").is_dir()
    assert client.run("hello").strip(), "hello runs"


def _snapshot(root: Path) -> list[tuple[str, int, float]]:
    return sorted((str(p.relative_to(root)), p.lstat().st_size, p.lstat().st_mtime)
                  for p in root.rglob("*"))


def test_publish_says_the_channels_are_current_and_the_layout_is_portages(
    farm: FarmProcess,
) -> None:
    done = farm.cli("publish")
    assert done.returncode == 0 and "current already" in done.stdout, done.stdout
    current = _published(farm) / "laptop" / "current"
    assert os.readlink(current).startswith("gen-")
    assert (_published(farm) / "laptop" / "testing" / "current" / "Packages").exists()
    files = sorted(p.relative_to(current).parts[:2] for p in current.rglob("*.gpkg.tar"))
    assert files == [("app-misc", "hello"), ("dev-libs", "libgreet")]


def test_a_read_only_bind_mount_is_a_pkgdir(farm: FarmProcess, tmp_path: Path) -> None:
    mount = tmp_path / "nfs"
    mount.mkdir()
    subprocess.run(["mount", "--bind", "-o", "ro", str(_published(farm)), str(mount)],
                   check=True)
    try:
        before = _snapshot(mount)
        with pytest.raises(OSError):
            (mount / "laptop" / "written").write_text("no")
        pkgdir = str(mount / "laptop" / "current")
        _installs(_client(tmp_path, farm, "trusting", "http://127.0.0.1:9/unused"),
                  "--usepkgonly", PKGDIR=pkgdir)
        # A client that walks PKGDIR instead of trusting its index finds every package.
        _installs(_client(tmp_path, farm, "walking", "http://127.0.0.1:9/unused"),
                  "--usepkgonly", PKGDIR=pkgdir, FEATURES="-pkgdir-index-trusted")
        assert _snapshot(mount) == before  # nothing written into the export
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_nginx_serves_the_tree_with_the_farms_credentials(farm: FarmProcess,
                                                           tmp_path: Path) -> None:
    port = free_port()
    printed = farm.cli("publish", "--nginx-config", "--listen", f"127.0.0.1:{port}")
    assert printed.returncode == 0 and "auth_request" in printed.stdout, printed.stdout
    nginx = Nginx(tmp_path / "nginx", printed.stdout, port)
    try:
        index = f"{nginx.url}/binhost/laptop/Packages"
        assert httpx.get(index).status_code == 401
        assert httpx.get(index, auth=("laptop", "not-a-token")).status_code == 401
        served = httpx.get(index, auth=("laptop", farm.token))
        assert served.status_code == 200
        assert served.content == (_published(farm) / "laptop/current/Packages").read_bytes()
        uri = f"http://laptop:{farm.token}@127.0.0.1:{port}/binhost/laptop"
        _installs(_client(tmp_path, farm, "via-nginx", uri), "--getbinpkgonly")
        testing = httpx.get(f"{nginx.url}/binhost/laptop/testing/Packages.gz",
                            auth=("laptop", farm.token))
        assert testing.status_code == 200
    finally:
        nginx.close()


def test_rsync_ftp_and_file_uris_install(farm: FarmProcess, tmp_path: Path) -> None:
    rsync = RsyncDaemon(tmp_path / "rsync", "binfarm", _published(farm))
    ftp = FtpServer(_published(farm), "bin", "secret")
    try:
        for name, uri in (
            ("via-rsync", f"{rsync.url}/laptop/current"),
            ("via-ftp", f"ftp://bin:secret@127.0.0.1:{ftp.port}/laptop/current"),
            ("via-file", f"file://{_published(farm)}/laptop/current"),
        ):
            _installs(_client(tmp_path, farm, name, uri), "--getbinpkgonly")
    finally:
        rsync.close()
        ftp.close()
