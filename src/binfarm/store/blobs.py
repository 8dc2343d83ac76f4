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

__all__ = ["Blob", "BlobStore", "BlobWriter"]

_DIGEST: Final = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Blob:
    sha256: str
    size: int
    path: Path


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

    def commit(self, writer: BlobWriter) -> Blob:
        """Move a received file into place under its digest (a duplicate is dropped)."""
        writer.close()
        final = self.path(writer.sha256)
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():
            writer.path.unlink(missing_ok=True)
        else:
            os.chmod(writer.path, 0o644)
            os.replace(writer.path, final)
        return Blob(writer.sha256, writer.size, final)
