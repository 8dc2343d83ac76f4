"""The text of a Portage `Packages` index, as Portage's own PackageIndex writes it.

Blocks of `KEY: value` lines in key order, empty values left out, each block ended by a
blank line: first the header, then one block per instance in CPV, BUILD_ID order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

from binfarm.keys.cpv import pn_of

__all__ = ["entries_digest", "instance_path", "render_index"]

_VERSION = "0"


def instance_path(cpv: str, build_id: int | None, sha256: str, suffix: str) -> str:
    """The PATH an instance is served under: unique by content, named as Portage names it."""
    category, pf = cpv.split("/", 1)
    pn = pn_of(pf)
    name = f"{pf}-{build_id}{suffix}" if build_id is not None else f"{pf}{suffix}"
    return f"{category}/{pn}/{sha256[:16]}/{name}"


def entries_digest(entries: Iterable[Mapping[str, str]]) -> str:
    """A digest of the entries alone: it changes exactly when the index content does."""
    return hashlib.sha256(_render_blocks(_sorted(entries)).encode()).hexdigest()


def render_index(header: Mapping[str, str], entries: Iterable[Mapping[str, str]], *,
                 timestamp: int) -> str:
    ordered = _sorted(entries)
    full_header = {**header, "PACKAGES": str(len(ordered)), "TIMESTAMP": str(timestamp),
                   "VERSION": _VERSION}
    return _render_blocks([full_header, *ordered])


def _sorted(entries: Iterable[Mapping[str, str]]) -> list[Mapping[str, str]]:
    return sorted(entries, key=lambda e: (e.get("CPV", ""), int(e.get("BUILD_ID") or 0),
                                          e.get("PATH", "")))


def _render_blocks(blocks: Iterable[Mapping[str, str]]) -> str:
    out = []
    for block in blocks:
        out += [f"{key}: {value}\n" for key, value in sorted(block.items()) if value]
        out.append("\n")
    return "".join(out)
