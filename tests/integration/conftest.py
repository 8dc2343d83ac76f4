"""A real Farm in-process, building from a copy of the example repository a test may edit."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert

from binfarm.db.tables import profiles, signing_keys
from binfarm.examples import EXAMPLE_REPO_NAME, example_paths
from binfarm.farm import Farm
from binfarm.profiles.archive import find_make_profile, pack_tree
from binfarm.roots.registry import BuildRoot
from binfarm.roots.upload import root_archive_chunks
from binfarm.settings import Settings
from binfarm.store.catalog import Catalog
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


SIGNER = "F" * 40


class Clock:
    """A clock a test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(1_800_000_000.0)


@pytest.fixture
def catalog(engine: Engine, clock: Clock) -> Catalog:
    with engine.begin() as conn:
        conn.execute(insert(profiles).values(name="laptop", info={}, created_at=0, updated_at=0))
        conn.execute(insert(signing_keys).values(fingerprint=SIGNER, algorithm="ed25519",
                                                 uid="test", created=0, state="signing",
                                                 added_at=0))
    return Catalog(engine, clock)
