"""The published tree on SQLite and PostgreSQL: generations written whole and swapped in,
Portage's standard layout of hard links into the store, TIMESTAMPs 6 s apart carried as the
index files' mtimes, old generations kept for the grace period, and a tree on another
filesystem than the store refused."""

from __future__ import annotations

import gzip
import os
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from binfarm.errors import InvalidInput
from binfarm.publish.tree import PublishedTree
from binfarm.store.blobs import BlobStore
from binfarm.store.catalog import Catalog, IndexState
from tests.integration.conftest import Clock
from tests.integration.store.test_catalog import INPUTS, add_instance

HEADER = {"ARCH": "amd64", "CHOST": "x86_64-pc-linux-gnu"}


def _index(path: Path) -> list[dict[str, str]]:
    return [dict(line.split(": ", 1) for line in block.splitlines())
            for block in path.read_text().split("\n\n") if block.strip()]


def test_generations_are_swapped_in_whole_in_portages_layout(
    catalog: Catalog, clock: Clock, tmp_path: Path,
) -> None:
    blobs = BlobStore(tmp_path / "store")
    tree = PublishedTree(tmp_path / "published", blobs, copy=False, grace_s=3600)
    one = add_instance(catalog, blobs, b"hello build 1", INPUTS)
    two = add_instance(catalog, blobs, b"other build", replace(INPUTS, cpv="app-misc/other-2"))
    first = catalog.index_state("laptop", "stable", [one])
    written = tree.write("laptop", "stable", first, HEADER, [one])
    current = tmp_path / "published" / "laptop" / "current"
    assert written.created and os.readlink(current) == "gen-000001"
    [header, entry] = _index(current / "Packages")
    assert header["TIMESTAMP"] == str(first.timestamp) and header["PACKAGES"] == "1"
    assert entry["PATH"] == f"app-misc/hello/hello-1.0-{one.id}.gpkg.tar"
    assert entry["BUILD_ID"] == str(one.id)
    package = current / entry["PATH"]
    assert package.stat().st_ino == blobs.path(one.sha256).stat().st_ino  # a hard link
    for name in ("Packages", "Packages.gz"):
        assert int((current / name).stat().st_mtime) == first.timestamp
    assert gzip.decompress((current / "Packages.gz").read_bytes()) == \
        (current / "Packages").read_bytes()
    again = tree.write("laptop", "stable", first, HEADER, [one])
    assert not again.created

    clock.now += 1  # a change within seconds: the next TIMESTAMP is still 6 s on
    second = catalog.index_state("laptop", "stable", [one, two])
    assert second.timestamp == first.timestamp + 6
    tree.write("laptop", "stable", second, HEADER, [one, two])
    assert os.readlink(current) == "gen-000002"
    assert (current / "app-misc/hello" / f"hello-1.0-{one.id}.gpkg.tar").exists()
    old = tmp_path / "published" / "laptop" / "gen-000001"
    assert old.is_dir()  # within the grace period: a client may still read it
    tree.grace_s = 0
    assert tree.prune("laptop", "stable") == [old] and not old.exists()
    testing = tree.write("laptop", "testing", IndexState("d", 1, 1), HEADER, [two])
    assert testing.directory == tmp_path / "published" / "laptop" / "testing" / "gen-000001"
    assert not list(tmp_path.glob("published/laptop/.*"))  # no partial generation left


@pytest.fixture
def other_filesystem(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "none", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_tree_on_another_filesystem_is_refused_unless_told_to_copy(
    catalog: Catalog, tmp_path: Path, other_filesystem: Path,
) -> None:
    blobs = BlobStore(tmp_path / "store")
    instance = add_instance(catalog, blobs, b"hello", INPUTS)
    state = catalog.index_state("laptop", "stable", [instance])
    refused = PublishedTree(other_filesystem / "published", blobs, copy=False, grace_s=0)
    with pytest.raises(InvalidInput, match="another filesystem than the store"):
        refused.write("laptop", "stable", state, HEADER, [instance])
    copying = PublishedTree(other_filesystem / "published", blobs, copy=True, grace_s=0)
    written = copying.write("laptop", "stable", state, HEADER, [instance])
    [_, entry] = _index(written.directory / "Packages")
    assert (written.directory / entry["PATH"]).read_bytes() == b"hello"
