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


_TOOLCHAIN = (("sys-libs/glibc", "2.39", {"DEPEND": "sys-devel/gcc"}),
              ("sys-devel/gcc", "14.1", {"DEPEND": "sys-libs/glibc"}))


def _generated_repo(base: Path, name: str, packages: tuple[tuple[str, str, dict[str, str]], ...],
                    system: list[str], make_defaults: str = "") -> Path:
    """A repository of phase-less ebuilds, its base profile's @system `system`."""
    repo = base / "repo"
    (repo / "profiles" / "base").mkdir(parents=True)
    (repo / "metadata").mkdir()
    (repo / "profiles" / "repo_name").write_text(f"{name}\n")
    (repo / "profiles" / "categories").write_text(
        "".join(f"{c}\n" for c in sorted({cp.split("/")[0] for cp, _pv, _vars in packages})))
    (repo / "profiles" / "base" / "make.defaults").write_text(
        f'ARCH="amd64"\nCHOST="x86_64-pc-linux-gnu"\nACCEPT_KEYWORDS="amd64"\n{make_defaults}')
    (repo / "profiles" / "base" / "packages").write_text("".join(f"*{a}\n" for a in system))
    (repo / "metadata" / "layout.conf").write_text("masters =\nthin-manifests = true\n")
    for cp, pv, variables in packages:
        (repo / cp).mkdir(parents=True)
        lines = {"EAPI": "8", "SLOT": "0", "KEYWORDS": "amd64", "LICENSE": "MIT", **variables}
        (repo / cp / f"{cp.split('/')[1]}-{pv}.ebuild").write_text(
            "".join(f'{k}="{v}"\n' for k, v in lines.items()))
    tree = base / "tree"
    (tree / "repos.conf").mkdir(parents=True)
    (tree / "repos.conf" / f"{name}.conf").write_text(
        f"[DEFAULT]\nmain-repo = {name}\n\n[{name}]\nlocation = {repo}\n")
    (tree / "make.conf").mkdir()
    (tree / "make.conf" / "01").write_text('ACCEPT_LICENSE="*"\n')
    return repo


def _node(base: Path, node: Path, name: str) -> Path:
    write_node(node, base / "tree", MakeProfileRef(name, "base"),
               NodeLayer(distdir=base / "distfiles", repositories={name: base / "repo"}))
    return node


def _emerge(node: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["emerge", "--color=n", *args], env=node_env(node),
                          capture_output=True, text=True, check=False)


def test_the_planner_breaks_toolchain_cycles_as_a_stage3_does(tmp_path: Path) -> None:
    _generated_repo(tmp_path, "cyclic", (*_TOOLCHAIN, ("app-misc/app", "1.0",
                                                        {"DEPEND": "sys-libs/glibc"})),
                    ["sys-libs/glibc", "sys-devel/gcc"])
    node = _node(tmp_path, tmp_path / "node", "cyclic")
    fresh = _emerge(node, "-pe", "app-misc/app", "@system")
    assert fresh.returncode == 1 and "circular dependencies" in fresh.stdout + fresh.stderr
    planned = [p.cpv for p in helper.plan(node, ["app-misc/app", "@system"])]
    assert sorted(planned) == ["app-misc/app-1.0", "sys-devel/gcc-14.1", "sys-libs/glibc-2.39"]
    assert planned.index("sys-libs/glibc-2.39") < planned.index("app-misc/app-1.0")


# As on a 2016 Gentoo tree: texinfo (in @system) needs perl, which with USE=berkdb (the
# profile's) needs db, which builds with autoconf, which needs perl. None of the three is
# in @system; a stage3 holds them all.
_BERKDB = (*_TOOLCHAIN,
           ("sys-apps/texinfo", "6.1", {"DEPEND": "dev-lang/perl", "RDEPEND": "dev-lang/perl"}),
           ("dev-lang/perl", "5.22", {"IUSE": "berkdb", "DEPEND": "berkdb? ( sys-libs/db:= )",
                                      "RDEPEND": "berkdb? ( sys-libs/db:= )"}),
           ("sys-libs/db", "6.0", {"SLOT": "6.0", "BDEPEND": "sys-devel/autoconf"}),
           ("sys-devel/autoconf", "2.69", {"BDEPEND": "dev-lang/perl",
                                           "RDEPEND": "dev-lang/perl"}),
           ("app-misc/app", "1.0", {"DEPEND": "sys-libs/glibc dev-lang/perl"}))


def test_the_plan_of_a_build_cycle_outside_system_is_what_emerge_pe_says_on_a_machine(
    tmp_path: Path,
) -> None:
    _generated_repo(tmp_path, "berkdb", _BERKDB, ["sys-libs/glibc", "sys-devel/gcc",
                                                  "sys-apps/texinfo"], 'USE="berkdb"\n')
    # A machine of this profile, installed as a stage3 is bootstrapped: without ordering.
    machine = _node(tmp_path, tmp_path / "machine", "berkdb")
    installed = _emerge(machine, "--oneshot", "--nodeps", *(f"={cp}-{pv}" for cp, pv, _v in
                                                             _BERKDB[:-1]))
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    assert (machine / "var/db/pkg/dev-lang/perl-5.22/USE").read_text().split() == ["berkdb"]
    on_machine = _emerge(machine, "-pe", "--quiet", "app-misc/app", "@system")
    assert on_machine.returncode == 0, on_machine.stdout + on_machine.stderr
    merged = [line.split("]", 1)[1].split()[0].split("::")[0]
              for line in on_machine.stdout.splitlines() if line.startswith("[ebuild")]
    assert len(merged) == len(_BERKDB)

    node = _node(tmp_path, tmp_path / "node", "berkdb")
    fresh = _emerge(node, "-pe", "app-misc/app", "@system")
    assert "circular dependencies" in fresh.stdout + fresh.stderr
    planned = helper.plan(node, ["app-misc/app", "@system"])
    assert [p.cpv for p in planned] == merged
    perl = next(p for p in planned if p.cpv == "dev-lang/perl-5.22")
    assert perl.inputs.use == ("berkdb",) and "sys-libs/db-6.0" in perl.deps
    assert perl.inputs.slot_deps == ("sys-libs/db:6.0/6.0",)
