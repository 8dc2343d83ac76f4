"""The text of a Portage `Packages` index, as Portage's own PackageIndex writes it.

Blocks of `KEY: value` lines in key order, empty values left out, each block ended by a
blank line: first the header, then one block per instance in CPV, BUILD_ID order. Each
entry's block is the same text whatever index it is in, so callers that keep blocks
(publish/indexes.py) render an index by joining them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

from binfarm.keys.cpv import pn_of

__all__ = ["blocks_digest", "entries_digest", "entry_block", "entry_order", "index_text",
           "instance_path", "render_index"]

_VERSION = "0"


def instance_path(cpv: str, build_id: int | None, sha256: str, suffix: str) -> str:
    """The PATH an instance is served under: unique by content, named as Portage names it."""
    category, pf = cpv.split("/", 1)
    pn = pn_of(pf)
    name = f"{pf}-{build_id}{suffix}" if build_id is not None else f"{pf}{suffix}"
    return f"{category}/{pn}/{sha256[:16]}/{name}"


def entry_block(entry: Mapping[str, str]) -> str:
    return "".join(f"{key}: {value}\n" for key, value in sorted(entry.items()) if value) + "\n"


def entry_order(entry: Mapping[str, str]) -> tuple[str, int, str]:
    return entry.get("CPV", ""), int(entry.get("BUILD_ID") or 0), entry.get("PATH", "")


def entries_digest(entries: Iterable[Mapping[str, str]]) -> str:
    """A digest of the entries alone: it changes exactly when the index content does."""
    return blocks_digest(entry_block(e) for e in sorted(entries, key=entry_order))


def blocks_digest(blocks: Iterable[str]) -> str:
    """`entries_digest` of the entries these blocks (in index order) are of."""
    digest = hashlib.sha256()
    for block in blocks:
        digest.update(block.encode())
    return digest.hexdigest()


def index_text(header: Mapping[str, str], blocks: list[str], *, timestamp: int) -> str:
    """The index of entries whose blocks, in index order, are `blocks`."""
    full_header = {**header, "PACKAGES": str(len(blocks)), "TIMESTAMP": str(timestamp),
                   "VERSION": _VERSION}
    return entry_block(full_header) + "".join(blocks)


def render_index(header: Mapping[str, str], entries: Iterable[Mapping[str, str]], *,
                 timestamp: int) -> str:
    ordered = sorted(entries, key=entry_order)
    return index_text(header, [entry_block(e) for e in ordered], timestamp=timestamp)
