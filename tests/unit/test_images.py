"""Images without Portage: what a plan lets in, and packing that depends only on the files."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from binfarm.client.emerge import Plan, parse_plan
from binfarm.errors import InvalidInput
from binfarm.images.assemble import ImageSpec, _atoms, _refuse_unwanted
from binfarm.images.pack import oci_architecture, write_oci, write_tar

VERBOSE = """\
[binary   R    ] dev-libs/libgreet-1.0:0/1::binfarm-example  USE="-debug" 0 KiB
[ebuild  N     ] app-misc/hello-1.0::binfarm-example  USE="nls" 0 KiB
[ebuild  N     ] dev-libs/libgreet-1.0:0/1::binfarm-example  0 KiB
[ebuild  N     ] dev-libs/libgreet-1.0:0/1::binfarm-example  0 KiB
"""


def test_a_verbose_plan_names_packages_without_slots_and_once() -> None:
    assert parse_plan(VERBOSE) == Plan(("app-misc/hello-1.0", "dev-libs/libgreet-1.0"),
                                       ("dev-libs/libgreet-1.0",))


def test_a_compiler_or_portage_goes_in_only_when_asked() -> None:
    plan = Plan(("app-misc/hello-1.0",), ("sys-devel/gcc-13.2.1_p20240113-r1",))
    with pytest.raises(InvalidInput, match=r"sys-devel/gcc-13\.2\.1_p20240113-r1"):
        _refuse_unwanted(plan, ImageSpec("p", ("app-misc/hello",)))
    _refuse_unwanted(plan, ImageSpec("p", ("app-misc/hello",), with_toolchain=True))
    portage = Plan((), ("sys-apps/portage-3.0.83",))
    with pytest.raises(InvalidInput, match="--with-portage"):
        _refuse_unwanted(portage, ImageSpec("p", ("app-misc/hello",)))
    _refuse_unwanted(portage, ImageSpec("p", ("app-misc/hello",), with_portage=True))


def test_atoms_come_from_the_world_the_command_and_portage() -> None:
    spec = ImageSpec("p", ("app-misc/tool", "app-misc/hello"), world=True, with_portage=True)
    assert _atoms(spec, ["app-misc/hello"]) == ("app-misc/hello", "app-misc/tool",
                                                "sys-apps/portage")
    with pytest.raises(InvalidInput, match="no world yet"):
        _atoms(ImageSpec("p", world=True), [])
    with pytest.raises(InvalidInput, match="name the packages"):
        _atoms(ImageSpec("p"), [])
    with pytest.raises(InvalidInput, match="not package atoms"):
        _atoms(ImageSpec("p", ("@world",)), [])
    with pytest.raises(InvalidInput, match="--strip knows"):
        ImageSpec("p", ("a/b",), strip=frozenset({"locales"}))


def _tree(root: Path) -> Path:
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/hello").write_bytes(b"\x7fELF hello")
    os.chmod(root / "usr/bin/hello", 0o755)
    os.link(root / "usr/bin/hello", root / "usr/bin/hi")
    (root / "usr/lib64").mkdir()
    (root / "usr/lib64/libgreet.so.1").write_bytes(b"lib")
    (root / "usr/lib64/libgreet.so").symlink_to("libgreet.so.1")
    (root / "usr/bin-extra").mkdir()  # sorts between usr/bin and its files
    return root


def _packed(root: Path) -> bytes:
    out = io.BytesIO()
    write_tar(root, out, epoch=1_700_000_000)
    return out.getvalue()


def test_the_tar_depends_only_on_the_files(tmp_path: Path) -> None:
    one, two = _tree(tmp_path / "one"), _tree(tmp_path / "two")
    os.utime(two / "usr/bin/hello", (1, 1))  # other times and inode numbers: same bytes
    assert _packed(one) == _packed(two)
    with tarfile.open(fileobj=io.BytesIO(_packed(one))) as tar:
        members = {m.name: m for m in tar.getmembers()}
    names = list(members)
    assert names == sorted(names) and names[0] == "."
    assert members["./usr/bin/hi"].islnk() and members["./usr/bin/hi"].linkname == \
        "./usr/bin/hello"
    assert members["./usr/lib64/libgreet.so"].issym()
    assert {m.mtime for m in members.values()} == {1_700_000_000}
    assert members["./usr/bin/hello"].mode & 0o777 == 0o755


def test_an_oci_layout_is_content_addressed_and_says_the_architecture(tmp_path: Path) -> None:
    root = _tree(tmp_path / "root")
    image = write_oci(root, tmp_path / "oci", tag="t", arch="amd64", epoch=1_700_000_000,
                      cmd=("/usr/bin/hello",))
    again = write_oci(root, tmp_path / "oci2", tag="t", arch="amd64", epoch=1_700_000_000,
                      cmd=("/usr/bin/hello",))
    assert image == again
    blobs = tmp_path / "oci/blobs/sha256"
    for blob in blobs.iterdir():
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name
    index = json.loads((tmp_path / "oci/index.json").read_text())
    [entry] = index["manifests"]
    assert entry["digest"] == image.manifest_digest
    assert entry["annotations"]["org.opencontainers.image.ref.name"] == "t"
    manifest = json.loads((blobs / image.manifest_digest.split(":")[1]).read_bytes())
    config = json.loads((blobs / manifest["config"]["digest"].split(":")[1]).read_bytes())
    assert (config["architecture"], config["config"]["Cmd"]) == ("amd64", ["/usr/bin/hello"])
    layer = gzip.decompress((blobs / image.layer_digest.split(":")[1]).read_bytes())
    assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(layer).hexdigest()]
    assert layer == _packed(root)
    assert json.loads((tmp_path / "oci/oci-layout").read_text()) == {
        "imageLayoutVersion": "1.0.0"}
    assert oci_architecture("x86") == "386"
    with pytest.raises(InvalidInput, match="no OCI architecture"):
        oci_architecture("m68k")
