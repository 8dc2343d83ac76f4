"""The Portage helper against real Portage, on the example repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from binfarm.errors import InvalidInput, NotFound
from binfarm.gentoo.pool import PortageHelper
from binfarm.keys.inputs import compute_key
from tests.conftest import make_node

helper = PortageHelper(timeout_s=120)


@pytest.fixture(scope="module")
def laptop_node(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("helper")
    return make_node(base / "node", "laptop", base / "distfiles")


def test_inspect_profile_evaluates_layered_make_conf(laptop_node: Path) -> None:
    info = helper.inspect_profile(laptop_node)
    assert info.chost == "x86_64-pc-linux-gnu"
    assert info.cflags == "-O2 -pipe -march=x86-64-v2"
    assert info.cpu_flags_x86 == ["sse2", "sse4_2"]
    assert "ssl" in info.use and "cpu_flags_x86_avx2" not in info.use
    assert {"buildpkg", "binpkg-multi-instance"} <= set(info.features)
    assert info.main_repo == "binfarm-example"


@pytest.mark.parametrize(("atom", "cpv"), [("hello", "app-misc/hello-1.0"),
                                           (">=dev-libs/libgreet-1", "dev-libs/libgreet-1.0"),
                                           ("app-misc/tool:0", "app-misc/tool-1.0")])
def test_resolve_picks_the_best_visible_ebuild(laptop_node: Path, atom: str, cpv: str) -> None:
    assert helper.resolve(laptop_node, atom).cpv == cpv


def test_resolve_refuses_unknown_and_malformed_atoms(laptop_node: Path) -> None:
    with pytest.raises(NotFound, match="no ebuild matches"):
        helper.resolve(laptop_node, "app-misc/nothing")
    with pytest.raises(InvalidInput, match="not a valid atom"):
        helper.resolve(laptop_node, ">=app-misc/hello")
    with pytest.raises(NotFound):
        helper.resolve(laptop_node, ">=app-misc/hello-99")


def test_describe_binpkg_gives_portages_own_entry(
    laptop_node: Path, laptop_packages: dict[str, Path],
) -> None:
    entry, _inputs = helper.describe_binpkg(laptop_node, laptop_packages["hello"])
    assert entry["CPV"] == "app-misc/hello-1.0"
    assert entry["BUILD_ID"] == "1"
    assert entry["IUSE"] == "debug +nls"
    assert "nls" not in entry["USE"].split()  # the laptop's 02slave turned it off
    assert entry["RDEPEND"] == "dev-libs/libgreet:0/1="  # the := subslot it was built against
    assert entry["SIZE"] == str(laptop_packages["hello"].stat().st_size)
    assert entry["CHOST"] == "x86_64-pc-linux-gnu"
    assert "PATH" not in entry


def test_describe_binpkg_refuses_what_is_not_a_package(laptop_node: Path,
                                                        tmp_path: Path) -> None:
    junk = tmp_path / "junk.gpkg.tar"
    junk.write_bytes(b"\0" * 4096)
    with pytest.raises(InvalidInput, match="not a binary package"):
        helper.describe_binpkg(laptop_node, junk)


def test_the_key_portage_predicts_is_the_key_the_binary_carries(
    laptop_node: Path, laptop_packages: dict[str, Path],
) -> None:
    cpvs = {"hello": "app-misc/hello-1.0", "libgreet": "dev-libs/libgreet-1.0",
            "wordcount": "app-misc/wordcount-1.0"}
    predicted = dict(zip(cpvs, helper.key_inputs(laptop_node, list(cpvs.values())),
                         strict=True))
    for name, path in laptop_packages.items():
        _entry, carried = helper.describe_binpkg(laptop_node, path)
        assert carried == predicted[name]
        assert compute_key(carried) == compute_key(predicted[name])
    hello = predicted["hello"]
    assert hello.use == ()  # -nls from 02slave, debug off
    assert hello.cflags == "-O2 -march=x86-64-v2"  # -pipe changes no code
    assert hello.slot_deps == ("dev-libs/libgreet:0/1",)
    assert [name for name, _ in hello.eclasses] == ["example-cc"]
    assert predicted["wordcount"].use == ("test",)  # package.env turned FEATURES=test on


def test_the_planner_keys_what_key_inputs_keys(laptop_node: Path) -> None:
    """The planner takes USE from the resolver; package.env packages go through setcpv."""
    planned = helper.plan(laptop_node, ["app-misc/hello", "app-misc/tool", "app-misc/wordcount",
                                        "@system"])
    cpvs = [cpv for cpv, _deps, _inputs in planned]
    assert sorted(cpvs) == ["app-misc/hello-1.0", "app-misc/tool-1.0",
                            "app-misc/wordcount-1.0", "dev-libs/libgreet-1.0"]
    assert cpvs.index("dev-libs/libgreet-1.0") < cpvs.index("app-misc/hello-1.0")
    assert dict((cpv, deps) for cpv, deps, _ in planned)["app-misc/hello-1.0"] == [
        "dev-libs/libgreet-1.0"]
    assert [inputs for _, _, inputs in planned] == helper.key_inputs(laptop_node, cpvs)
