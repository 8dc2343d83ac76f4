"""Run a real `emerge --buildpkg` in a node and report the binary packages it wrote."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from binfarm.gentoo.configroot import node_env, pkgdir

__all__ = ["BuildResult", "build_packages"]

_PACKAGE_SUFFIXES = (".gpkg.tar", ".xpak", ".tbz2")
_POLL_S = 0.5


@dataclass(frozen=True)
class BuildResult:
    returncode: int
    timed_out: bool
    packages: tuple[Path, ...]

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


def build_packages(
    node: Path, atoms: Sequence[str], log: BinaryIO, *, timeout_s: float,
    cancel: Callable[[], bool] | None = None, env: Mapping[str, str] | None = None,
    binary_deps_except: Sequence[str] = (),
) -> BuildResult:
    """Build `atoms` (and what they need) in `node`, writing emerge's output to `log`.

    Blocks until emerge ends, `timeout_s` passes or `cancel()` is true (then emerge and its
    children are killed). Returns the binary package files that appeared in the node's
    PKGDIR during the build. `env` overrides the profile (USE=..., CFLAGS=...). With
    `binary_deps_except` (the packages to build), everything else is installed from the
    node's binhosts when a binary fits, instead of being compiled.
    """
    before = _packages(node)
    argv = ["emerge", "--buildpkg", "--oneshot", "--ask=n", "--color=n", "--verbose",
            "--quiet-build=n", "--nospinner", *atoms]
    if binary_deps_except:
        argv[1:1] = ["--getbinpkg", "--usepkg", "--binpkg-respect-use=y",
                     f"--usepkg-exclude={' '.join(binary_deps_except)}"]
    overrides = " ".join(f"{k}={v!r}" for k, v in (env or {}).items())
    log.write(f">>> binfarm: {overrides + ' ' if overrides else ''}{' '.join(argv)}\n".encode())
    log.flush()
    timed_out = False
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env={**node_env(node), **(env or {})}, start_new_session=True)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            returncode = proc.wait(timeout=_POLL_S)
            break
        except subprocess.TimeoutExpired:
            cancelled = cancel is not None and cancel()
            if not cancelled and time.monotonic() < deadline:
                continue
            timed_out = not cancelled
            os.killpg(proc.pid, signal.SIGKILL)  # emerge's children (the ebuild) too
            returncode = proc.wait()
            why = "cancelled" if cancelled else f"killed after {timeout_s:.0f} s"
            log.write(f"\n>>> binfarm: emerge {why}\n".encode())
            break
    new = sorted(_packages(node) - before)
    return BuildResult(returncode=returncode, timed_out=timed_out, packages=tuple(new))


def _packages(node: Path) -> set[Path]:
    root = pkgdir(node)
    return {p for p in root.rglob("*") if p.is_file() and p.name.endswith(_PACKAGE_SUFFIXES)}
