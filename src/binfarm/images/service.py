"""`binfarm image build`: assemble, pack, and put the image and its manifest in place.

Everything is made in a hidden work directory beside the output (same filesystem) and
renamed into place only when complete, so a failure at any step leaves no half-written
image: the work directory goes, and what was at the output before stays.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from binfarm.api.client import FarmClient
from binfarm.errors import InvalidInput
from binfarm.images.assemble import Assembled, ImageReporter, ImageSpec, assemble
from binfarm.images.pack import tree_bytes, write_oci, write_tar

__all__ = ["ImageOutput", "OutputKind", "WrittenImage", "build_image"]


class OutputKind(StrEnum):
    DIRECTORY = "directory"
    TAR = "tar"
    OCI = "oci"


@dataclass(frozen=True)
class ImageOutput:
    kind: OutputKind
    path: Path
    tag: str = "latest"
    cmd: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] = ()

    @property
    def manifest(self) -> Path:
        return self.path.with_name(self.path.name + ".manifest.json")


@dataclass(frozen=True)
class WrittenImage:
    output: ImageOutput
    manifest: dict[str, object]


def build_image(client: FarmClient, spec: ImageSpec, output: ImageOutput, *,
                token: str | None, reporter: ImageReporter | None = None) -> WrittenImage:
    _check_free(output.path)
    parent = output.path.parent
    parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{output.path.name}.binfarm-image-", dir=parent))
    try:
        image = assemble(client, spec, work, token=token, reporter=reporter)
        epoch = image.epoch
        summary = _manifest(spec, image, tree_bytes(image.root))
        staged = work / "output"
        if output.kind is OutputKind.DIRECTORY:
            image.root.rename(staged)
        elif output.kind is OutputKind.TAR:
            with open(staged, "wb") as handle:
                write_tar(image.root, handle, epoch=epoch)
            summary["tar_bytes"] = staged.stat().st_size
            summary["tar_sha256"] = _sha256(staged)
        else:
            oci = write_oci(image.root, staged, tag=output.tag, arch=image.arch, epoch=epoch,
                            cmd=output.cmd, entrypoint=output.entrypoint)
            summary.update(oci_tag=output.tag, oci_manifest=oci.manifest_digest,
                           oci_layer=oci.layer_digest, oci_layer_bytes=oci.layer_bytes)
        manifest = work / "manifest.json"
        manifest.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
        _check_free(output.path)  # nothing appeared there while the image was made
        if output.path.is_dir():
            output.path.rmdir()  # an empty directory given as --out
        staged.rename(output.path)
        manifest.replace(output.manifest)
        return WrittenImage(output, summary)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _check_free(path: Path) -> None:
    if path.is_dir() and not path.is_symlink() and not any(path.iterdir()):
        return
    if path.exists() or path.is_symlink():
        raise InvalidInput(f"{path} already exists: an image is written only where nothing "
                           "is (or into an empty directory)")


def _manifest(spec: ImageSpec, image: Assembled, size: int) -> dict[str, object]:
    return {
        "profile": spec.profile,
        "atoms": list(image.atoms),
        "packages": [{"cpv": p.cpv, "build_id": p.build_id, "binpkg_md5": p.binpkg_md5}
                     for p in image.packages],
        "bytes": size,
        "epoch": image.epoch,
        "strip": sorted(spec.strip),
        "pkgdb": spec.pkgdb,
        "built_for_it": [{"build": b.id, "cpv": b.cpv} for b in image.requested],
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()

