"""A real Farm in-process, building from a copy of the example repository a test may edit."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from binfarm.examples import EXAMPLE_REPO_NAME, example_paths
from binfarm.farm import Farm
from binfarm.profiles.archive import find_make_profile, pack_tree
from binfarm.roots.registry import BuildRoot
from binfarm.roots.upload import root_archive_chunks
from binfarm.settings import Settings
from tests.builders import copy_example_profile


@pytest.fixture
def farm(tmp_path: Path) -> Iterator[Farm]:
    repo = tmp_path / "repo"
    shutil.copytree(example_paths()["repo"], repo)
    farm = Farm(Settings(data_dir=tmp_path / "var"), clock=time.time)
    farm.repositories.add(EXAMPLE_REPO_NAME, repo, example_paths()["distfiles"])
    for name, cpu in (("laptop", "x86-64-v2"), ("desktop", "x86-64-v3")):
        add_profile(farm, name, copy_example_profile(name, tmp_path / name), cpu)
    yield farm
    farm.close()


def add_profile(farm: Farm, name: str, tree: Path, cpu: str | None = None) -> None:
    farm.add_profile(name, pack_tree(tree), find_make_profile(tree), cpu=cpu)


def make_root(path: Path, *, with_emerge: bool = True) -> Path:
    """A root directory shaped like a (very small) stage3."""
    (path / "bin").mkdir(parents=True)
    (path / "bin" / "sh").write_text("#!/bin/true\n")
    (path / "usr" / "bin").mkdir(parents=True)
    if with_emerge:
        (path / "usr" / "bin" / "emerge").write_text("#!/bin/true\n")
    return path


def upload_root(farm: Farm, profile: str, source: Path) -> BuildRoot:
    with farm.root_archives.receive(farm.settings.server.max_root_bytes) as writer:
        for chunk in root_archive_chunks(source):
            writer.write(chunk)
        return farm.set_build_root(profile, writer, source.name)
