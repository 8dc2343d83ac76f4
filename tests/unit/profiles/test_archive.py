import io
import tarfile
from pathlib import Path

import pytest

from binfarm.errors import InvalidInput
from binfarm.profiles.archive import find_make_profile, pack_tree, unpack_tree
from binfarm.profiles.model import MakeProfileRef


def _tar(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info, data in members:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_pack_and_unpack_keep_the_tree_but_not_make_profile(tmp_path: Path) -> None:
    tree = tmp_path / "etc-portage"
    (tree / "make.conf").mkdir(parents=True)
    (tree / "make.conf" / "01master").write_text('USE="ssl"\n')
    (tree / "shared").write_text("shared\n")
    (tree / "package.use").symlink_to(tree / "shared")  # stored as what it points at
    (tree / "make.profile").symlink_to("/var/db/repos/gentoo/profiles/default/linux/amd64")
    out = tmp_path / "out"
    unpack_tree(pack_tree(tree), out, max_bytes=1 << 20)
    assert (out / "make.conf" / "01master").read_text() == 'USE="ssl"\n'
    assert (out / "package.use").read_text() == "shared\n"
    assert not (out / "package.use").is_symlink()
    assert not (out / "make.profile").exists()


def test_find_make_profile_reads_the_repository_name(tmp_path: Path) -> None:
    repo = tmp_path / "repos" / "whatever"
    (repo / "profiles" / "base" / "amd64").mkdir(parents=True)
    (repo / "profiles" / "repo_name").write_text("myrepo\n")
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "make.profile").symlink_to("../repos/whatever/profiles/base/amd64")
    assert find_make_profile(tree) == MakeProfileRef("myrepo", "base/amd64")


def test_find_make_profile_of_a_tree_from_another_machine(tmp_path: Path) -> None:
    (tmp_path / "make.profile").symlink_to(
        "/var/db/repos/gentoo/profiles/default/linux/amd64/23.0")
    assert find_make_profile(tmp_path) == MakeProfileRef("gentoo", "default/linux/amd64/23.0")


def test_find_make_profile_refuses_a_link_outside_profiles(tmp_path: Path) -> None:
    (tmp_path / "make.profile").symlink_to("/usr/share/somewhere")
    with pytest.raises(InvalidInput, match="not inside a repository's profiles"):
        find_make_profile(tmp_path)


def test_unpack_refuses_paths_outside_the_tree(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        unpack_tree(_tar((tarfile.TarInfo("../escape"), b"x")), tmp_path / "out",
                    max_bytes=1 << 20)
    assert not (tmp_path / "escape").exists()


def test_unpack_keeps_absolute_names_inside_the_tree(tmp_path: Path) -> None:
    name = f"{tmp_path}/outside"
    unpack_tree(_tar((tarfile.TarInfo(name), b"x")), tmp_path / "out", max_bytes=1 << 20)
    assert not Path(name).exists()
    assert (tmp_path / "out" / name.lstrip("/")).read_bytes() == b"x"


def test_unpack_refuses_links_out_and_devices(tmp_path: Path) -> None:
    link = tarfile.TarInfo("make.conf")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/shadow"
    with pytest.raises(InvalidInput):
        unpack_tree(_tar((link, b"")), tmp_path / "a", max_bytes=1 << 20)
    device = tarfile.TarInfo("dev")
    device.type = tarfile.CHRTYPE
    with pytest.raises(InvalidInput, match="only files, directories and symlinks"):
        unpack_tree(_tar((device, b"")), tmp_path / "b", max_bytes=1 << 20)


def test_unpack_refuses_too_large_and_not_a_tar(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="larger than"):
        unpack_tree(_tar((tarfile.TarInfo("big"), b"x" * 2000)), tmp_path / "a", max_bytes=1000)
    with pytest.raises(InvalidInput, match="not a tar archive"):
        unpack_tree(b"this is not a tarball", tmp_path / "b", max_bytes=1000)
