"""An assembled root as a reproducible tar, or as an OCI image layout.

The same files give the same bytes: entries in sorted order, every mtime the image's
epoch (assemble: the newest BUILD_TIME among its packages), owners numeric with no names, no
device numbers or access times. The OCI layout (image-spec 1.0: oci-layout, index.json,
blobs/sha256) has one gzip layer of that tar (gzip without a name or time), a config with
the profile's architecture, and `ref.name` the tag; no docker engine or umoci is needed.
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
import io
import json
import os
import stat
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

from binfarm.errors import InvalidInput

__all__ = ["OciImage", "oci_architecture", "tree_bytes", "write_oci",
           "write_tar"]

# Gentoo's ARCH, as OCI (GOARCH) names it.
_OCI_ARCH: Final = {"amd64": "amd64", "arm64": "arm64", "arm": "arm", "x86": "386",
                    "riscv": "riscv64", "s390": "s390x", "loong": "loong64",
                    "ppc64": "ppc64le", "mips": "mips64le"}
_PATH: Final = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_MANIFEST: Final = "application/vnd.oci.image.manifest.v1+json"


@dataclass(frozen=True)
class OciImage:
    manifest_digest: str
    layer_digest: str
    layer_bytes: int


def oci_architecture(arch: str) -> str:
    try:
        return _OCI_ARCH[arch]
    except KeyError:
        raise InvalidInput(f"no OCI architecture is known for ARCH={arch!r}") from None


def tree_bytes(root: Path) -> int:
    """The apparent size of the files under `root`."""
    return sum(os.lstat(Path(top) / name).st_size
               for top, _, files in os.walk(root) for name in files)


def write_tar(root: Path, out: BinaryIO, *, epoch: int) -> None:
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, arcname in _walk(root):
            info = tar.gettarinfo(str(path), arcname)
            mode = os.lstat(path).st_mode
            if stat.S_ISSOCK(mode) or info.type in (tarfile.CHRTYPE, tarfile.BLKTYPE):
                continue  # bubblewrap's /dev stays outside; sockets are never packed
            info.mtime = epoch
            info.uname = info.gname = ""
            info.pax_headers = {}
            if info.isreg():
                with open(path, "rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)


def _walk(root: Path) -> list[tuple[Path, str]]:
    """Every entry under `root` (itself as `.`), sorted by name: a directory comes before
    what it holds."""
    entries = [(root, ".")]
    for top, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(top) / name
            entries.append((path, f"./{path.relative_to(root)}"))
    return sorted(entries, key=lambda e: e[1])


def write_oci(root: Path, layout: Path, *, tag: str, arch: str, epoch: int,
              cmd: Sequence[str] = (), entrypoint: Sequence[str] = ()) -> OciImage:
    """Write the OCI image layout of `root` into the new directory `layout`."""
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    raw = io.BytesIO()
    write_tar(root, raw, epoch=epoch)
    layer_tar = raw.getvalue()
    layer = gzip.compress(layer_tar, compresslevel=6, mtime=0)
    layer_digest = _blob(blobs, layer)
    created = _rfc3339(epoch)
    config: dict[str, object] = {"Env": [_PATH]}
    if cmd:
        config["Cmd"] = list(cmd)
    if entrypoint:
        config["Entrypoint"] = list(entrypoint)
    image_config = {
        "architecture": oci_architecture(arch), "os": "linux", "created": created,
        "config": config,
        "rootfs": {"type": "layers",
                   "diff_ids": ["sha256:" + hashlib.sha256(layer_tar).hexdigest()]},
        "history": [{"created": created, "created_by": "binfarm image build"}],
    }
    config_bytes = _json(image_config)
    manifest = {
        "schemaVersion": 2, "mediaType": _MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": _blob(blobs, config_bytes), "size": len(config_bytes)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": layer_digest, "size": len(layer)}],
    }
    manifest_bytes = _json(manifest)
    manifest_digest = _blob(blobs, manifest_bytes)
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{"mediaType": _MANIFEST, "digest": manifest_digest,
                            "size": len(manifest_bytes),
                            "annotations": {"org.opencontainers.image.ref.name": tag}}]}
    (layout / "index.json").write_bytes(_json(index))
    (layout / "oci-layout").write_bytes(_json({"imageLayoutVersion": "1.0.0"}))
    return OciImage(manifest_digest, layer_digest, len(layer))


def _blob(blobs: Path, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    (blobs / digest).write_bytes(data)
    return f"sha256:{digest}"


def _json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _rfc3339(epoch: int) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
