"""Content-addressed files: every binary package is kept once, under its SHA-256.

Files appear whole or not at all: an upload streams into a temporary file in the same
filesystem, hashed as it arrives, fsynced, then renamed to sha256/<ab>/<digest>.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

from binfarm.errors import InvalidInput, NotFound

__all__ = ["Blob", "BlobStore", "BlobWriter", "FileDigests", "file_digests"]

_DIGEST: Final = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Blob:
    sha256: str
    size: int
    path: Path


@dataclass(frozen=True)
class FileDigests:
    """The digests a Packages entry carries for its file, and the store's own."""

    sha256: str
    md5: str
    sha1: str
    size: int

    def entry_fields(self) -> dict[str, str]:
        return {"MD5": self.md5, "SHA1": self.sha1, "SIZE": str(self.size)}


def file_digests(path: Path) -> FileDigests:
    sha256, md5, sha1 = hashlib.sha256(), hashlib.md5(), hashlib.sha1()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            size += len(chunk)
            for digest in (sha256, md5, sha1):
                digest.update(chunk)
    return FileDigests(sha256.hexdigest(), md5.hexdigest(), sha1.hexdigest(), size)


class BlobWriter:
    """Receives one file's bytes; refuses more than `max_bytes`."""

    def __init__(self, handle: BinaryIO, max_bytes: int) -> None:
        self._handle = handle
        self._hash = hashlib.sha256()
        self._max_bytes = max_bytes
        self.size = 0

    def close(self) -> None:
        """Flush the file to disk; after this, its path can be read and moved."""
        if not self._handle.closed:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self._max_bytes:
            raise InvalidInput(f"upload larger than {self._max_bytes} bytes")
        self._hash.update(chunk)
        self._handle.write(chunk)

    @property
    def path(self) -> Path:
        return Path(self._handle.name)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "tmp").mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        if not _DIGEST.match(sha256):
            raise InvalidInput(f"not a SHA-256 digest: {sha256!r}")
        return self.root / "sha256" / sha256[:2] / sha256

    def open_existing(self, sha256: str) -> Path:
        path = self.path(sha256)
        if not path.is_file():
            raise NotFound(f"no stored file {sha256}")
        return path

    @contextlib.contextmanager
    def receive(self, max_bytes: int) -> Iterator[BlobWriter]:
        """Stream a file in; the temporary file is removed unless `commit` kept it."""
        # Not a `with`: the writer closes it once the bytes are in (see BlobWriter.close).
        handle = tempfile.NamedTemporaryFile(dir=self.root / "tmp", delete=False)  # noqa: SIM115
        writer = BlobWriter(handle, max_bytes)
        try:
            yield writer
        finally:
            handle.close()
            writer.path.unlink(missing_ok=True)

    @contextlib.contextmanager
    def scratch(self) -> Iterator[Path]:
        """A path in the store's filesystem for a file made here; gone unless adopted."""
        handle, name = tempfile.mkstemp(dir=self.root / "tmp")
        os.close(handle)
        try:
            yield Path(name)
        finally:
            Path(name).unlink(missing_ok=True)

    def commit(self, writer: BlobWriter) -> Blob:
        """Move a received file into place under its digest (a duplicate is dropped)."""
        writer.close()
        return self.adopt(writer.path, writer.sha256, writer.size)

    def adopt(self, path: Path, sha256: str, size: int) -> Blob:
        """Move a complete file of this filesystem into place under its digest."""
        final = self.path(sha256)
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():
            path.unlink(missing_ok=True)
        else:
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
            os.chmod(path, 0o644)
            os.replace(path, final)
        return Blob(sha256, size, final)
