"""The Portage helper against real Portage, on the example repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from binfarm.errors import InvalidInput, NotFound
from binfarm.gentoo.configroot import NodeLayer, node_env, write_node
from binfarm.gentoo.pool import PortageHelper
from binfarm.keys.inputs import compute_key
from binfarm.profiles.model import MakeProfileRef
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
            "wordcount": "app-misc/wordcount-1.0", "slotted": "app-misc/slotted-1.0"}
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
    # :SLOT=, in DEPEND, RDEPEND and BDEPEND, in a USE-conditional and an || group whose
    # other branch (app-misc/tool:=) is not installed.
    assert predicted["slotted"].slot_deps == ("dev-libs/libgreet:0/1",)


def test_the_planner_keys_what_key_inputs_keys(laptop_node: Path) -> None:
    """The planner takes USE from the resolver; package.env packages go through setcpv."""
    planned = helper.plan(laptop_node, ["app-misc/hello", "app-misc/tool", "app-misc/wordcount",
                                        "@system"])
    cpvs = [p.cpv for p in planned]
    assert sorted(cpvs) == ["app-misc/hello-1.0", "app-misc/tool-1.0",
                            "app-misc/wordcount-1.0", "dev-libs/libgreet-1.0"]
    assert cpvs.index("dev-libs/libgreet-1.0") < cpvs.index("app-misc/hello-1.0")
    assert {p.cpv: p.deps for p in planned}["app-misc/hello-1.0"] == ("dev-libs/libgreet-1.0",)
    assert [p.inputs for p in planned] == helper.key_inputs(laptop_node, cpvs)
    assert all(p.key == compute_key(p.inputs) for p in planned)


def _cyclic_toolchain_node(base: Path) -> Path:
    """A repository whose @system has gcc and glibc needing each other to build."""
    repo = base / "repo"
    (repo / "profiles" / "base").mkdir(parents=True)
    (repo / "metadata").mkdir()
    (repo / "profiles" / "repo_name").write_text("cyclic\n")
    (repo / "profiles" / "categories").write_text("app-misc\nsys-devel\nsys-libs\n")
    (repo / "profiles" / "base" / "make.defaults").write_text(
        'ARCH="amd64"\nCHOST="x86_64-pc-linux-gnu"\nACCEPT_KEYWORDS="amd64"\n')
    (repo / "profiles" / "base" / "packages").write_text("*sys-libs/glibc\n*sys-devel/gcc\n")
    (repo / "metadata" / "layout.conf").write_text("masters =\nthin-manifests = true\n")
    for cp, pv, dep in (("sys-libs/glibc", "2.39", "sys-devel/gcc"),
                        ("sys-devel/gcc", "14.1", "sys-libs/glibc"),
                        ("app-misc/app", "1.0", "sys-libs/glibc")):
        (repo / cp).mkdir(parents=True)
        (repo / cp / f"{cp.split('/')[1]}-{pv}.ebuild").write_text(
            f'EAPI=8\nSLOT="0"\nKEYWORDS="amd64"\nLICENSE="MIT"\nDEPEND="{dep}"\n')
    tree = base / "tree"
    (tree / "repos.conf").mkdir(parents=True)
    (tree / "repos.conf" / "cyclic.conf").write_text(
        f"[DEFAULT]\nmain-repo = cyclic\n\n[cyclic]\nlocation = {repo}\n")
    (tree / "make.conf").mkdir()
    (tree / "make.conf" / "01").write_text('ACCEPT_LICENSE="*"\n')
    node = base / "node"
    write_node(node, tree, MakeProfileRef("cyclic", "base"),
               NodeLayer(distdir=base / "distfiles", repositories={"cyclic": repo}))
    return node


def test_the_planner_breaks_toolchain_cycles_as_a_stage3_does(tmp_path: Path) -> None:
    node = _cyclic_toolchain_node(tmp_path)
    fresh = subprocess.run(["emerge", "-pe", "--color=n", "app-misc/app", "@system"],
                           env=node_env(node), capture_output=True, text=True, check=False)
    assert fresh.returncode == 1 and "circular dependencies" in fresh.stdout + fresh.stderr
    planned = [p.cpv for p in helper.plan(node, ["app-misc/app", "@system"])]
    assert sorted(planned) == ["app-misc/app-1.0", "sys-devel/gcc-14.1", "sys-libs/glibc-2.39"]
    assert planned.index("sys-libs/glibc-2.39") < planned.index("app-misc/app-1.0")
