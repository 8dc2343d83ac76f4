"""A build log read by byte offset, in complete lines: what a page shows first and what
its live stream sends next. An offset is always just after a line (or a cut piece of a
line longer than a batch), so a resumed stream repeats and misses nothing."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["BATCH_BYTES", "next_lines", "phases", "tail"]

BATCH_BYTES = 32 << 10
_ESCAPE = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")
_MAX_PHASES = 200


def next_lines(path: Path, offset: int, limit: int = BATCH_BYTES) -> tuple[str, int]:
    """The complete lines from `offset` (at most `limit` bytes), and the offset after them;
    a line longer than `limit` comes in pieces cut on a UTF-8 boundary."""
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, 2)
            offset = min(max(0, offset), size)
            handle.seek(offset)
            data = handle.read(limit)
    except FileNotFoundError:
        return "", 0
    cut = data.rfind(b"\n") + 1
    if cut == 0:
        if len(data) < limit:
            return "", offset  # the line is still being written
        cut = len(data)
        while cut > 0 and (data[cut - 1] & 0xC0) == 0x80:
            cut -= 1  # inside a multi-byte character
        if cut > 0 and data[cut - 1] >= 0xC0:
            cut -= 1  # the character's first byte: it goes with the rest
    return data[:cut].decode(errors="replace"), offset + cut


def tail(path: Path, limit: int) -> tuple[str, int, int]:
    """The last complete lines within `limit` bytes: (text, offset after, log size)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return "", 0, 0
    start = max(0, size - limit)
    if start:
        with open(path, "rb") as handle:
            handle.seek(start)
            skipped = handle.read(limit).find(b"\n") + 1  # from the first whole line
        start += skipped
    text, end = next_lines(path, start, size - start + 1)
    return text, end, size


def phases(path: Path) -> list[tuple[str, int]]:
    """Portage's `>>>` lines (Emerging, Unpacking, Compiling, Install...) and the byte
    offset each starts at, so a reader jumps to a phase; the files a merge lists
    (`>>> /usr/...`) are left out."""
    found: list[tuple[str, int]] = []
    offset = 0
    try:
        with open(path, "rb") as handle:
            for raw in handle:
                line = _ESCAPE.sub(b"", raw).strip()
                if line.startswith(b">>> ") and not line.startswith(b">>> /"):
                    found.append((line[4:].decode(errors="replace"), offset))
                    if len(found) == _MAX_PHASES:
                        break
                offset += len(raw)
    except FileNotFoundError:
        return []
    return found
