"""`binfarm image build` on a fresh example farm: a root from the farm's binaries only,
with what was missing built first, no compiler, programs that run inside it with
bubblewrap, byte-identical tars and OCI digests from the same binaries, an OCI layout that
umoci unpacks and skopeo reads, and clear errors that leave nothing behind."""

from __future__ import annotations

import hashlib
import json
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.builders import FarmProcess, copy_example_profile

WORLD = ("app-misc/hello", "app-misc/tool", "app-misc/fastcalc")
# Names a compiler, an assembler or a linker goes by.
TOOLCHAIN_NAMES = ("gcc", "cc", "c++", "g++", "ld", "as", "cpp", "collect2")


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FarmProcess]:
    served = FarmProcess(tmp_path_factory.mktemp("images") / "var", "--example")
    yield served
    served.stop()


def _image(farm: FarmProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return farm.cli("image", "build", *args, timeout_s=900)


def _bwrap(root: Path, *command: str) -> str:
    done = subprocess.run(["bwrap", "--bind", str(root), "/", "--proc", "/proc", "--dev",
                           "/dev", "--unshare-all", "--", *command],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if ".binfarm-image-" in p.name]


def test_an_image_of_the_world_is_built_first_then_holds_no_compiler_and_runs(
        farm: FarmProcess, tmp_path: Path) -> None:
    image = tmp_path / "laptop"
    done = _image(farm, "laptop", "--world", "sys-libs/hostlibc", "--out", str(image))
    assert done.returncode == 0, done.stdout + done.stderr + farm.dump()
    # A fresh farm has no binary: the image asked for them through the queue first.
    assert "asking the farm to build them" in done.stdout
    manifest = json.loads((tmp_path / "laptop.manifest.json").read_text())
    built = {b["cpv"] for b in manifest["built_for_it"]}
    assert {"app-misc/hello-1.0", "dev-libs/libgreet-1.0", "sys-libs/hostlibc-1.0"} <= built
    assert set(manifest["atoms"]) == {*WORLD, "sys-libs/hostlibc"}

    for program in ("usr/bin/hello", "usr/bin/tool", "usr/bin/fastcalc", "usr/lib64/libgreet.so.1"):
        assert (image / program).is_file(), program
    assert (image / "var/lib/portage/world").read_text().split() == sorted(
        [*WORLD, "sys-libs/hostlibc"])
    names = {p.name for p in image.rglob("*")}
    assert not names & set(TOOLCHAIN_NAMES)
    assert not [n for n in names if n.endswith(("-gcc", "-ld", "-as"))]
    assert not (image / "var/cache/edb/binhost").exists(), "the builder's index cache"

    # Each package is the farm's instance, and the listing printed says which.
    packages = {p["cpv"]: p for p in manifest["packages"]}
    assert set(packages) == {"app-misc/hello-1.0", "app-misc/tool-1.0", "app-misc/fastcalc-1.0",
                             "dev-libs/libgreet-1.0", "sys-libs/hostlibc-1.0"}
    [build] = [b["build"] for b in manifest["built_for_it"] if b["cpv"] == "app-misc/hello-1.0"]
    built = httpx.get(f"{farm.url}/api/v1/builds/{build}", timeout=30, headers=farm.auth).json()
    assert [i["build_id"] for i in built["packages"]] == \
        [packages["app-misc/hello-1.0"]["build_id"]]
    assert "app-misc/hello-1.0" in done.stdout and "bytes of files" in done.stdout
    assert manifest["bytes"] > 0 and not _leftovers(tmp_path)

    assert _bwrap(image, "/usr/bin/hello").startswith("hello: ")
    assert _bwrap(image, "/usr/bin/tool").strip()


def test_the_same_binaries_make_the_same_tar_without_headers_or_docs(
        farm: FarmProcess, tmp_path: Path) -> None:
    digests = []
    for name in ("one.tar", "two.tar"):
        done = _image(farm, "laptop", "app-misc/hello", "sys-libs/hostlibc",
                      "--strip", "docs,headers", "--tar", str(tmp_path / name))
        assert done.returncode == 0, done.stdout + done.stderr
        assert "asking the farm" not in done.stdout, "everything has a binary now"
        data = (tmp_path / name).read_bytes()
        manifest = json.loads((tmp_path / f"{name}.manifest.json").read_text())
        assert manifest["tar_sha256"] == hashlib.sha256(data).hexdigest()
        digests.append(manifest["tar_sha256"])
    assert digests[0] == digests[1]
    assert (tmp_path / "one.tar").read_bytes() == (tmp_path / "two.tar").read_bytes()

    with tarfile.open(tmp_path / "one.tar") as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names) and "./usr/bin/hello" in names
    assert not [n for n in names if n.startswith("./usr/include")], "headers stripped"
    assert len({m.mtime for m in members}) == 1 and members[0].mtime == manifest["epoch"]
    assert {(m.uname, m.gname) for m in members} == {("", "")}


def test_an_oci_layout_umoci_unpacks_and_skopeo_reads(farm: FarmProcess,
                                                      tmp_path: Path) -> None:
    digests = []
    for name in ("oci", "again"):
        done = _image(farm, "laptop", "app-misc/hello", "sys-libs/hostlibc", "--no-pkgdb",
                      "--oci", str(tmp_path / name), "--tag", "hello",
                      "--cmd", "/usr/bin/hello")
        assert done.returncode == 0, done.stdout + done.stderr
        digests.append(json.loads((tmp_path / f"{name}.manifest.json").read_text())
                       ["oci_manifest"])
    assert digests[0] == digests[1], "same binaries, same OCI digest"

    inspected = subprocess.run(["skopeo", "inspect", f"oci:{tmp_path / 'oci'}:hello"],
                               capture_output=True, text=True, timeout=60, check=True)
    info = json.loads(inspected.stdout)
    assert (info["Architecture"], info["Os"], len(info["Layers"])) == ("amd64", "linux", 1)
    assert info["Digest"] == digests[0]

    bundle = tmp_path / "bundle"
    subprocess.run(["umoci", "unpack", "--image", f"{tmp_path / 'oci'}:hello", str(bundle)],
                   capture_output=True, text=True, timeout=120, check=True)
    config = json.loads((bundle / "config.json").read_text())
    assert config["process"]["args"] == ["/usr/bin/hello"]
    rootfs = bundle / "rootfs"
    assert not (rootfs / "var/db/pkg").exists(), "--no-pkgdb"
    assert _bwrap(rootfs, *config["process"]["args"]).startswith("hello: ")


def test_bad_input_gives_a_clear_error_and_leaves_nothing(farm: FarmProcess,
                                                          tmp_path: Path) -> None:
    target = tmp_path / "image"
    done = _image(farm, "laptop", "app-misc/no-such-package", "--out", str(target))
    assert done.returncode == 1 and "Portage cannot install" in done.stderr, done.stderr
    done = _image(farm, "laptop", "@system", "--out", str(target))
    assert done.returncode == 1 and "not package atoms" in done.stderr, done.stderr
    done = _image(farm, "laptop", "app-misc/hello", "--strip", "everything", "--out",
                  str(target))
    assert done.returncode == 1 and "--strip knows" in done.stderr, done.stderr
    done = _image(farm, "laptop", "app-misc/hello", "--out", str(target), "--tar",
                  str(tmp_path / "x.tar"))
    assert done.returncode == 1 and "give one of" in done.stderr, done.stderr
    assert not target.exists() and not _leftovers(tmp_path)

    # What is there stays there.
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "mine").write_text("keep")
    done = _image(farm, "laptop", "app-misc/hello", "--out", str(tmp_path / "taken"))
    assert done.returncode == 1 and "already exists" in done.stderr, done.stderr
    assert (tmp_path / "taken" / "mine").read_text() == "keep"

    # A profile nothing was built for yet: without --no-request the farm would build;
    # with it, the error names what has no binary, and no image is left.
    tree = copy_example_profile("laptop", tmp_path / "bare-tree")
    # Its own CFLAGS: no binary of the other profiles fits it.
    (tree / "make.conf" / "03bare").write_text('CFLAGS="-O1 -pipe"\nCXXFLAGS="${CFLAGS}"\n')
    added = farm.cli("profile", "add", "bare", str(tree))
    assert added.returncode == 0, added.stdout + added.stderr
    done = _image(farm, "bare", "--world", "--out", str(target))
    assert done.returncode == 1 and "has no world yet" in done.stderr, done.stderr
    done = _image(farm, "bare", "app-misc/tool", "--no-request", "--out", str(target))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "has no binary yet of: app-misc/tool-1.0" in done.stderr, done.stderr
    assert not target.exists() and not _leftovers(tmp_path)
