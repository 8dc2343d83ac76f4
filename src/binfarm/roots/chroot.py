"""A worker's unpacked copy of a profile's chroot root: a base, and the layers above it.

    <dir>/base/          the archive, unpacked once per digest
    <dir>/layers/0001/   what each @system update added (overlayfs upper directories)
    <dir>/state.json     digest, generation, layer names, the @system state they match
    <dir>/lock           flock: builds hold it shared, changes to the copy exclusive

Nothing is written into base/ or a kept layer after it is in place: builds write to their
own throwaway layer, updates to a new layer that is kept only when the update succeeded.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from binfarm.errors import InvalidInput
from binfarm.files import private_dir
from binfarm.roots.sandbox import Overlay

__all__ = ["ChrootCopy", "CopyState"]

_UNPACK_TIMEOUT_S = 3600


@dataclass(frozen=True)
class CopyState:
    digest: str
    generation: int
    layers: tuple[str, ...] = ()
    system_state: str | None = None


@dataclass(frozen=True)
class ChrootCopy:
    directory: Path

    @property
    def base(self) -> Path:
        return self.directory / "base"

    def state(self) -> CopyState | None:
        try:
            data = json.loads((self.directory / "state.json").read_text())
        except FileNotFoundError:
            return None
        return CopyState(data["digest"], data["generation"], tuple(data["layers"]),
                         data.get("system_state"))

    @contextlib.contextmanager
    def locked(self, *, exclusive: bool) -> Iterator[None]:
        """Hold the copy's lock: shared while a build reads it, exclusive to change it."""
        private_dir(self.directory)  # base/ has the root's setuid files: root only
        fd = os.open(self.directory / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)

    def install_base(self, archive: Path, digest: str, generation: int) -> None:
        """Unpack `archive` as the new base; the old base and its layers go. Hold the lock
        exclusively."""
        staging = self.directory / "base.new"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        done = subprocess.run(
            ["tar", "-xpf", str(archive), "-C", str(staging), "--numeric-owner",
             "--xattrs", "--xattrs-include=*.*"],
            capture_output=True, text=True, timeout=_UNPACK_TIMEOUT_S, check=False)
        if done.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise InvalidInput(f"cannot unpack the root archive: {done.stderr.strip()[:300]}")
        (self.directory / "state.json").unlink(missing_ok=True)
        for old in (self.base, self.directory / "layers"):
            shutil.rmtree(old, ignore_errors=True)
        staging.rename(self.base)
        self._write_state(CopyState(digest, generation))

    def overlay(self, scratch: Path) -> Overlay:
        """A throwaway layer in `scratch` over the copy as it is now."""
        state = self.state()
        layers = state.layers if state else ()
        lower = tuple(self.directory / "layers" / name for name in reversed(layers))
        return Overlay(lower=(*lower, self.base), upper=scratch / "upper",
                       work=scratch / "work", merged=scratch / "merged")

    def new_layer_scratch(self) -> Path:
        """Where an update's layer is made, on the copy's filesystem so it can be kept by a
        rename. Hold the lock exclusively."""
        scratch = self.directory / "layers.new"
        shutil.rmtree(scratch, ignore_errors=True)  # an update that was killed
        return scratch

    def keep_layer(self, overlay: Overlay, generation: int, system_state: str) -> CopyState:
        """Keep an update's upper directory as the copy's newest layer."""
        state = self._existing_state()
        name = f"{len(state.layers) + 1:04d}"
        (self.directory / "layers").mkdir(exist_ok=True)
        overlay.upper.rename(self.directory / "layers" / name)
        shutil.rmtree(overlay.upper.parent, ignore_errors=True)
        kept = CopyState(state.digest, generation, (*state.layers, name), system_state)
        self._write_state(kept)
        return kept

    def mark(self, generation: int, system_state: str) -> CopyState:
        """Record that the copy matches `system_state` without a new layer."""
        state = self._existing_state()
        kept = CopyState(state.digest, generation, state.layers, system_state)
        self._write_state(kept)
        return kept

    def disk_bytes(self) -> int:
        done = subprocess.run(["du", "-sb", "--one-file-system", str(self.directory)],
                              capture_output=True, text=True, timeout=600, check=False)
        return int(done.stdout.split()[0]) if done.returncode == 0 and done.stdout else 0

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def _existing_state(self) -> CopyState:
        state = self.state()
        if state is None:
            raise InvalidInput(f"no root unpacked in {self.directory}")
        return state

    def _write_state(self, state: CopyState) -> None:
        path = self.directory / "state.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({**asdict(state), "layers": list(state.layers)}))
        os.replace(tmp, path)
