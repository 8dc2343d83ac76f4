"""The farm's record of chroot roots: archives are checked, kept once, replaced, reported on."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from binfarm.errors import InvalidInput, NotFound
from binfarm.farm import Farm
from binfarm.roots.registry import RootCopy
from tests.integration.conftest import make_root, upload_root


def test_a_root_directory_is_packed_and_kept_once_under_its_digest(farm: Farm,
                                                                   tmp_path: Path) -> None:
    root = upload_root(farm, "desktop", make_root(tmp_path / "stage3"))
    assert (root.profile, root.generation, root.source) == ("desktop", 0, "stage3")
    archive = farm.roots.archive("desktop")
    with tarfile.open(archive) as tar:
        assert {"./bin/sh", "./usr/bin/emerge"} <= set(tar.getnames())
    again = upload_root(farm, "laptop", make_root(tmp_path / "again"))
    assert farm.roots.find("laptop") == again
    assert [r.profile for r in farm.roots.list()] == ["desktop", "laptop"]


def test_a_stage3_tarball_is_taken_as_it_is(farm: Farm, tmp_path: Path) -> None:
    tree = make_root(tmp_path / "tree")
    tarball = tmp_path / "stage3-amd64.tar.xz"
    with tarfile.open(tarball, "w:xz") as tar:
        tar.add(tree, arcname=".")
    root = upload_root(farm, "desktop", tarball)
    assert root.size == tarball.stat().st_size
    assert farm.roots.archive("desktop").read_bytes() == tarball.read_bytes()


@pytest.mark.parametrize("what", ["no emerge", "not a tar"])
def test_what_is_not_a_root_is_refused_and_nothing_is_kept(farm: Farm, tmp_path: Path,
                                                          what: str) -> None:
    if what == "no emerge":
        source = make_root(tmp_path / "bare", with_emerge=False)
        expected = "no Portage's emerge"
    else:
        source = tmp_path / "notes.txt"
        source.write_text("not an archive\n")
        expected = "not a tar archive"
    with pytest.raises(InvalidInput, match=expected):
        upload_root(farm, "desktop", source)
    assert farm.roots.find("desktop") is None
    assert not list((farm.root_archives.root / "sha256").rglob("*"))
    assert not list((farm.root_archives.root / "tmp").iterdir())


def test_replacing_updating_and_deleting_a_root(farm: Farm, tmp_path: Path) -> None:
    first = upload_root(farm, "desktop", make_root(tmp_path / "one"))
    farm.roots.report_copy("desktop", RootCopy("w1", first.digest, 0, 1, 12345, "s", 0.0))
    assert farm.roots.get("desktop").copies[0].disk_bytes == 12345
    assert farm.roots.request_update("desktop").generation == 1

    other = make_root(tmp_path / "two")
    (other / "etc").mkdir()
    second = upload_root(farm, "desktop", other)
    assert second.digest != first.digest and second.generation == 2
    assert not farm.root_archives.path(first.digest).exists()

    farm.roots.delete("desktop")
    assert not farm.root_archives.path(second.digest).exists()
    with pytest.raises(NotFound, match="builds in a prefix"):
        farm.roots.get("desktop")
    with pytest.raises(NotFound):
        farm.roots.request_update("desktop")


def test_a_root_for_a_missing_profile_is_refused(farm: Farm, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        upload_root(farm, "nosuch", make_root(tmp_path / "stage3"))
    assert farm.roots.list() == []
