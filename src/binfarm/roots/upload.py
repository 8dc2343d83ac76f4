"""What `binfarm root create --from PATH` sends: a stage3 tarball as it is, or a root
directory packed on the fly by tar (owners, modes and xattrs kept)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

from binfarm.errors import InvalidInput

__all__ = ["root_archive_chunks"]

_CHUNK = 1 << 20


def root_archive_chunks(path: Path) -> Iterator[bytes]:
    """The bytes of a tar archive of the root at `path` (a tarball or a directory)."""
    if path.is_file():
        with open(path, "rb") as handle:
            yield from iter(lambda: handle.read(_CHUNK), b"")
        return
    if not path.is_dir():
        raise InvalidInput(f"{path} is neither a stage3 tarball nor a root directory")
    proc = subprocess.Popen(["tar", "-C", str(path), "--numeric-owner", "--xattrs",
                             "--one-file-system", "-cf", "-", "."],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    try:
        yield from iter(lambda: proc.stdout.read(_CHUNK), b"")  # type: ignore[union-attr]
    finally:
        proc.stdout.close()
        error = proc.stderr.read().decode(errors="replace").strip()
        if proc.wait() != 0:
            raise InvalidInput(f"cannot pack {path}: {error[:300]}")
