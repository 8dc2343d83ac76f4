"""Habits of real Gentoo trees that the example does not have, on a repository of their own:
a ~amd64 package accepted in package.accept_keywords, a dependency the profile tree lists
in profile/package.provided, a distfile only the profile's own GENTOO_MIRRORS has (the
farm's mirror lacks it, upstream is down), and one the farm's mirror serves from the
directory given to `binfarm repo add --distfiles`."""

from __future__ import annotations

import hashlib
import http.server
import io
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.builders import FarmProcess, small_repo

_DOWN = "http://127.0.0.1:9/upstream"  # nothing listens on port 9: upstream is down

_INSTALL = 'src_install() { insinto /usr/share/${PN}; doins file.txt; }\n'
_EBUILDS = {
    "app-misc/testing-1.0": 'KEYWORDS="~amd64"\nS="${WORKDIR}"\n'
                            'src_install() { insinto /usr/share/${PN}; newins - x <<<x; }\n',
    "app-misc/unstable-1.0": 'KEYWORDS="~amd64"\n',
    "app-misc/needs-provided-1.0": 'KEYWORDS="amd64"\nDEPEND="dev-lang/big"\nS="${WORKDIR}"\n'
                                   'src_install() { insinto /usr/share/${PN}; newins - x <<<x; }\n',
    "app-misc/fetched-1.0": f'KEYWORDS="amd64"\nSRC_URI="{_DOWN}/fetched-1.0.tar.gz"\n{_INSTALL}',
    "app-misc/bundled-1.0": f'KEYWORDS="amd64"\nSRC_URI="{_DOWN}/bundled-1.0.tar.gz"\n{_INSTALL}',
}


def _tarball(pv: str) -> bytes:
    """A source tarball holding `<pv>/file.txt`."""
    data = f"{pv}\n".encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        member = tarfile.TarInfo(f"{pv}/file.txt")
        member.size = len(data)
        tar.addfile(member, io.BytesIO(data))
    return out.getvalue()


def _repo(base: Path, distfiles: dict[str, bytes]) -> Path:
    repo = small_repo(base, "habits", _EBUILDS, categories=("app-misc", "dev-lang"))
    for cpv in _EBUILDS:
        cp, pv = cpv.rsplit("-", 1)
        name = f"{cp.split('/')[1]}-{pv}.tar.gz"
        if name in distfiles:
            data = distfiles[name]
            (repo / cp / "Manifest").write_text(
                f"DIST {name} {len(data)} BLAKE2B {hashlib.blake2b(data).hexdigest()} "
                f"SHA512 {hashlib.sha512(data).hexdigest()}\n")
    return repo


def _profile_tree(base: Path, repo: Path, mirror: str) -> Path:
    tree = base / "habits-tree"
    (tree / "make.conf").mkdir(parents=True)
    (tree / "make.conf" / "01").write_text(
        f'CFLAGS="-O2 -pipe"\nACCEPT_LICENSE="*"\nGENTOO_MIRRORS="{mirror}"\n')
    (tree / "repos.conf").mkdir()
    (tree / "repos.conf" / "habits.conf").write_text(
        f"[DEFAULT]\nmain-repo = habits\n\n[habits]\nlocation = {repo}\n")
    (tree / "package.accept_keywords").write_text("app-misc/testing ~amd64\n")
    (tree / "profile").mkdir()
    (tree / "profile" / "package.provided").write_text("dev-lang/big-2.0\n")
    (tree / "make.profile").symlink_to(repo / "profiles" / "base")
    return tree


class _Mirror:
    """The profile's own GENTOO_MIRRORS: a flat distfiles/ directory over HTTP."""

    def __init__(self, root: Path) -> None:
        self.asked: list[str] = []
        asked = self.asked

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args: object, **kwargs: object) -> None:
                super().__init__(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

            def do_GET(self) -> None:
                asked.append(self.path)
                super().do_GET()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[_Mirror]:
    served = _Mirror(tmp_path / "mirror")
    yield served
    served.close()


def test_real_tree_habits_build_and_reach_the_index(
    example_farm: FarmProcess, tmp_path: Path, mirror: _Mirror,
) -> None:
    tarballs = {f"{pn}-1.0.tar.gz": _tarball(f"{pn}-1.0") for pn in ("fetched", "bundled")}
    (tmp_path / "mirror" / "distfiles").mkdir(parents=True)
    (tmp_path / "mirror" / "distfiles" / "fetched-1.0.tar.gz").write_bytes(
        tarballs["fetched-1.0.tar.gz"])
    bundled = tmp_path / "bundled-distfiles"
    bundled.mkdir()
    (bundled / "bundled-1.0.tar.gz").write_bytes(tarballs["bundled-1.0.tar.gz"])
    repo = _repo(tmp_path, tarballs)

    added = example_farm.cli("repo", "add", "habits", str(repo), "--distfiles", str(bundled))
    assert added.returncode == 0, added.stderr
    listed = example_farm.cli("repo", "list")
    assert "habits" in listed.stdout and str(bundled) in "".join(listed.stdout.split())
    tree = _profile_tree(tmp_path, repo, mirror.url)
    profile = example_farm.cli("profile", "add", "habits", str(tree))
    assert profile.returncode == 0, profile.stderr

    refused = example_farm.cli("request", "app-misc/unstable", "--profile", "habits")
    assert refused.returncode == 1
    assert "app-misc/unstable-1.0 masked by: ~amd64 keyword" in " ".join(refused.stderr.split())

    atoms = ("app-misc/testing", "app-misc/needs-provided", "app-misc/fetched",
             "app-misc/bundled")
    done = example_farm.cli("request", *atoms, "--profile", "habits", "--wait")
    assert done.returncode == 0, done.stdout + done.stderr
    # fetched-1.0 came from the profile's mirror, after the farm's had none to give;
    # bundled-1.0 from the farm's mirror alone.
    assert mirror.asked.count("/distfiles/fetched-1.0.tar.gz") == 1, mirror.asked
    assert "/distfiles/bundled-1.0.tar.gz" not in mirror.asked
    index = httpx.get(f"{example_farm.url}/binhost/habits/Packages").text
    for cp in atoms:
        assert f"CPV: {cp}-1.0\n" in index, index
    assert "CPV: dev-lang/big" not in index  # provided, never built
