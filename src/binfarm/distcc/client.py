"""A worker's side of distcc: the masquerade directory a build root's Portage finds, the
environment of a build on leased slots, what its distcc clients compile now, and where its
compile units ran.

Portage puts `${EPREFIX}/usr/lib/distcc/bin` first on PATH when FEATURES has distcc (and
drops the feature, with a warning, when no such directory exists in the root). Ours holds
wrappers rather than links to distcc: a build calls its compiler by the profile's CHOST
(x86_64-pc-linux-gnu-gcc), a name only Gentoo's distccd knows, so each wrapper runs distcc
with this machine's own triple, the name every host of the same system has.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from binfarm.api.models import DistccTask
from binfarm.distcc.model import Task, decode_state
from binfarm.distcc.probe import compiler_names

__all__ = ["MASQUERADE", "StateWatch", "write_masquerade"]

MASQUERADE = "usr/lib/distcc/bin"  # under EPREFIX (a prefix) or / (a chroot root)
_STALE_S = 60.0  # distccmon's limit: an older state file belongs to a dead client


def write_masquerade(directory: Path, chost: str, distcc: str = "distcc") -> bool:
    """Write the wrappers; False when this machine has no gcc triple to send."""
    names = compiler_names()
    c = next((n for n in names if n.endswith("-gcc")), None)
    cxx = next((n for n in names if n.endswith("-g++")), None)
    if c is None:
        return False
    directory.mkdir(parents=True, exist_ok=True)
    wanted = {tool: c for tool in ("gcc", "cc")}
    if cxx is not None:
        wanted.update({tool: cxx for tool in ("g++", "c++")})
    for tool, real in list(wanted.items()):
        wanted[f"{chost}-{tool}"] = real
    for name, real in wanted.items():
        path = directory / name
        text = f'#!/bin/sh\n# Written by binfarm: compile on the leased distcc hosts.\n' \
               f'exec {distcc} {real} "$@"\n'
        if not path.exists() or path.read_text() != text:
            tmp = path.with_name(f".{name}.tmp")
            tmp.write_text(text)
            tmp.chmod(0o755)
            os.replace(tmp, path)
    return True


class StateWatch:
    """Reads a build's `$DISTCC_DIR/state/binstate_*` every `interval_s`, as distccmon-text
    does; PIDs are not checked (under Portage's pid-sandbox they are not this machine's),
    a file's age is."""

    def __init__(self, distcc_dir: Path, interval_s: float = 0.25) -> None:
        self.state_dir = distcc_dir / "state"
        self.interval_s = interval_s
        self._tasks: list[Task] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="distcc-state", daemon=True)

    def start(self) -> StateWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def tasks(self) -> list[DistccTask]:
        return [DistccTask(pid=t.pid, file=t.file[:256], host=t.host[:256], slot=t.slot,
                           phase=t.phase) for t in self._tasks]

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._tasks = self.read()

    def read(self) -> list[Task]:
        try:
            names = os.listdir(self.state_dir)
        except OSError:
            return []
        now = time.time()
        tasks = []
        for name in names:
            if not name.startswith("binstate_"):
                continue
            try:
                path = self.state_dir / name
                if now - path.stat().st_mtime > _STALE_S:
                    continue
                task = decode_state(path.read_bytes())
            except OSError:
                continue  # the client finished between listdir and read
            if task is not None:
                tasks.append(task)
        return sorted(tasks, key=lambda t: (t.host, t.slot))
