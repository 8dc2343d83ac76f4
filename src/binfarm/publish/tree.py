"""The published tree: `<data_dir>/published/<profile>/` (stable) and
`<data_dir>/published/<profile>/testing/`, each a `current` symlink to an immutable
generation directory (`gen-000007`) holding `Packages`, `Packages.gz` and the package files
as hard links into the store.

The files are laid out as Portage's own multi-instance PKGDIR is
(`<cat>/<pn>/<pf>-<BUILD_ID>.gpkg.tar`), so that a client walking the directory
(FEATURES=-pkgdir-index-trusted, `emaint binhost --fix`) finds every package; BUILD_ID
there is the instance's catalog id, unique and stable, so one file name always names the
same bytes in every generation. A generation is written under a temporary name, renamed
into place, then `current` is swapped with rename(2): a reader sees the old generation or
the new one, never half of one. Its TIMESTAMP is the channel's (at least 6 s after the
previous one, store/catalog.py), and `Packages` and `Packages.gz` carry it as their mtime,
which is what nginx and FTP servers send as Last-Modified. Generations no longer current
are removed after a grace period: a client part way through an emerge may still read one.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from binfarm.errors import InvalidInput
from binfarm.keys.cpv import pn_of
from binfarm.store.blobs import BlobStore
from binfarm.store.catalog import GPKG_SUFFIX, IndexState, Instance
from binfarm.store.index import render_index

__all__ = ["PublishedTree", "Written", "published_entry"]

_GENERATION: Final = re.compile(r"^gen-(\d{6,})$")
CURRENT: Final = "current"


def published_entry(instance: Instance) -> dict[str, str]:
    """The instance's index entry as the published tree lists it: its standard PATH."""
    category, pf = instance.cpv.split("/", 1)
    path = f"{category}/{pn_of(pf)}/{pf}-{instance.id}{GPKG_SUFFIX}"
    return {**instance.entry, "BUILD_ID": str(instance.id), "PATH": path}


@dataclass(frozen=True)
class Written:
    directory: Path
    generation: int
    timestamp: int
    packages: int
    created: bool  # False: that generation was current already


class PublishedTree:
    def __init__(self, root: Path, blobs: BlobStore, *, copy: bool, grace_s: float) -> None:
        self.root = root
        self.blobs = blobs
        self.copy = copy
        self.grace_s = grace_s

    def channel_dir(self, profile: str, channel: str) -> Path:
        return self.root / profile if channel == "stable" else self.root / profile / channel

    def check_filesystem(self) -> None:
        """Refuse a tree on another filesystem than the store, unless told to copy."""
        self.root.mkdir(parents=True, exist_ok=True)
        if self.copy or os.stat(self.root).st_dev == os.stat(self.blobs.root).st_dev:
            return
        raise InvalidInput(
            f"the published tree {self.root} is on another filesystem than the store "
            f"{self.blobs.root}: its package files are hard links, which cannot cross "
            "filesystems. Put both on one filesystem, or set BINFARM_PUBLISH__COPY_FILES=true "
            "to copy the files instead (that costs their space twice)")

    def current(self, profile: str, channel: str) -> int | None:
        """The generation `current` points at, if any."""
        try:
            target = os.readlink(self.channel_dir(profile, channel) / CURRENT)
        except FileNotFoundError:
            return None
        match = _GENERATION.match(target)
        return int(match.group(1)) if match else None

    def write(self, profile: str, channel: str, state: IndexState, header: Mapping[str, str],
              listed: Sequence[Instance]) -> Written:
        """Make `state`'s generation the channel's current one (written unless it exists)."""
        directory = self.channel_dir(profile, channel)
        name = f"gen-{state.generation:06d}"
        final = directory / name
        if self.current(profile, channel) == state.generation:
            return Written(final, state.generation, state.timestamp, len(listed), False)
        self.check_filesystem()
        directory.mkdir(parents=True, exist_ok=True)
        if not final.is_dir():
            self._write_generation(directory, name, state, header, listed)
        previous = self.current(profile, channel)
        link = directory / f".{CURRENT}.new"
        link.unlink(missing_ok=True)
        os.symlink(name, link)
        os.replace(link, directory / CURRENT)
        if previous is not None and (old := directory / f"gen-{previous:06d}").is_dir():
            os.utime(old)  # its grace period starts now, as it stops being current
        self.prune(profile, channel)
        return Written(final, state.generation, state.timestamp, len(listed), True)

    def _write_generation(self, directory: Path, name: str, state: IndexState,
                          header: Mapping[str, str], listed: Sequence[Instance]) -> None:
        scratch = directory / f".{name}.partial"
        shutil.rmtree(scratch, ignore_errors=True)  # left by a publisher that was killed
        scratch.mkdir()
        entries = [published_entry(i) for i in listed]
        for instance, entry in zip(listed, entries, strict=True):
            target = scratch / entry["PATH"]
            target.parent.mkdir(parents=True, exist_ok=True)
            self._place(self.blobs.open_existing(instance.sha256), target)
        text = render_index(header, entries, timestamp=state.timestamp).encode()
        for file_name, data in (("Packages", text),
                                ("Packages.gz", gzip.compress(text, mtime=state.timestamp))):
            with open(scratch / file_name, "wb") as handle:
                handle.write(data)
                os.fsync(handle.fileno())
            os.utime(scratch / file_name, (state.timestamp, state.timestamp))
        os.replace(scratch, directory / name)

    def _place(self, source: Path, target: Path) -> None:
        if self.copy:
            try:
                os.link(source, target)
            except OSError:
                shutil.copy2(source, target)
            return
        os.link(source, target)

    def prune(self, profile: str, channel: str) -> list[Path]:
        """Remove generations that are not current and older than the grace period."""
        directory = self.channel_dir(profile, channel)
        keep = self.current(profile, channel)
        removed = []
        for path in directory.iterdir():
            match = _GENERATION.match(path.name)
            if match is None or int(match.group(1)) == keep:
                continue
            if time.time() - path.lstat().st_mtime > self.grace_s:
                shutil.rmtree(path)
                removed.append(path)
        return removed
