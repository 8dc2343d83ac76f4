"""Fixtures that build real things: databases, Portage nodes, binary packages, farms."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from binfarm.db.engine import open_engine
from binfarm.db.scratch import scratch_database
from binfarm.examples import EXAMPLE_REPO_NAME, example_paths
from binfarm.gentoo.configroot import NodeLayer, link_toolchain, write_node
from binfarm.gentoo.emerge import PrefixTarget, build_packages
from binfarm.profiles.archive import find_make_profile


@pytest.fixture(autouse=True, scope="session")
def gpg_runtime_dir() -> None:
    """What a login session gives a user, and gpg keeps its agent sockets in: without it
    they go into each GnuPG home, and pytest's long temporary paths overflow a socket's
    107 bytes (the farm refuses such a data directory with that fix)."""
    os.makedirs(f"/run/user/{os.getuid()}", mode=0o700, exist_ok=True)


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing from the developer's shell may steer binfarm or Portage in a test."""
    for key in list(os.environ):
        if key.startswith(("BINFARM_", "PORTAGE_")):
            monkeypatch.delenv(key)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same test on SQLite in a file and on a fresh PostgreSQL database."""
    with scratch_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = open_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def example() -> dict[str, Path]:
    return example_paths()


def example_layer(distdir: Path) -> NodeLayer:
    return NodeLayer(distdir=distdir, repositories={EXAMPLE_REPO_NAME: example_paths()["repo"]})


def make_node(root: Path, profile: str, distdir: Path) -> Path:
    """A farm-style build node for an example profile, built by binfarm's own writer."""
    tree = example_paths()["profiles"] / profile
    write_node(root, tree, find_make_profile(tree), example_layer(distdir))
    link_toolchain(root, "x86_64-pc-linux-gnu")
    return root


@pytest.fixture(scope="session")
def laptop_packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real binary packages (hello, its libgreet, wordcount, slotted) built by emerge for
    the laptop."""
    base = tmp_path_factory.mktemp("binpkgs")
    distdir = base / "distfiles"
    shutil.copytree(example_paths()["distfiles"], distdir)
    node = make_node(base / "node", "laptop", distdir)
    with open(base / "build.log", "wb") as log:
        result = build_packages(PrefixTarget(node), ["app-misc/hello", "app-misc/wordcount",
                                                    "app-misc/slotted"], log,
                                timeout_s=600)
    assert result.ok, (base / "build.log").read_text()[-3000:]
    return {p.name.split("-1.0")[0]: p for p in result.packages}
