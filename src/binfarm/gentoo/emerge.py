"""Run a real `emerge --buildpkg` in a build root and report the binary packages it wrote."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO, Protocol

from binfarm.gentoo.configroot import node_env, pkgdir
from binfarm.gentoo.timeline import Mark, breakdown, mark_of

__all__ = ["BuildResult", "EmergeTarget", "PrefixTarget", "build_packages", "failure_of",
           "run_emerge"]

_PACKAGE_SUFFIXES = (".gpkg.tar", ".xpak", ".tbz2")
_POLL_S = 0.5
# How ebuild.sh's die() reports: " * ERROR: cat/pf::repo failed (test phase):", then the
# message on lines of its own (" *   2+2=5").
_DIED = re.compile(r"^ \* ERROR: (\S+) failed \((\w+) phase\):\n((?: \*   .*\n)*)", re.M)


@dataclass(frozen=True)
class BuildResult:
    returncode: int
    timed_out: bool
    packages: tuple[Path, ...]
    # Seconds per phase (gentoo/timeline.py): fetch, resolve, install_deps, ...
    timings: Mapping[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


class EmergeTarget(Protocol):
    """Where emerge runs: a prefix node, or a chroot root entered with bubblewrap."""

    @property
    def pkgdir(self) -> Path:
        """PKGDIR as the host sees it."""
        ...

    def command(self, argv: Sequence[str],
                env: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
        """The host command and environment that run `argv` with `env` in the root."""
        ...

    def offline(self) -> EmergeTarget | None:
        """The same root without network, to build in once fetching is done; None when
        the root has no sandbox to take the network away."""
        ...


@dataclass(frozen=True)
class PrefixTarget:
    node: Path

    @property
    def pkgdir(self) -> Path:
        return pkgdir(self.node)

    def offline(self) -> None:
        return None

    def command(self, argv: Sequence[str],
                env: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
        return list(argv), {**node_env(self.node), **env}


def build_packages(
    target: EmergeTarget, atoms: Sequence[str], log: BinaryIO, *, timeout_s: float,
    cancel: Callable[[], bool] | None = None, env: Mapping[str, str] | None = None,
    binary_deps_except: Sequence[str] = (), packages: bool = True,
) -> BuildResult:
    """Build `atoms` (and what they need) in `target`, writing emerge's output to `log`.

    Blocks until emerge ends, `timeout_s` passes or `cancel()` is true (then emerge and its
    children are killed). Returns the binary package files that appeared in the target's
    PKGDIR during the build. `env` overrides the profile (USE=..., CFLAGS=...). With
    `binary_deps_except` (the packages to build), everything else is installed from the
    target's binhosts when a binary fits, instead of being compiled. Without `packages`,
    nothing is packaged (a test run).
    """
    before = _packages(target.pkgdir)
    targets = [atom.lstrip("=") for atom in atoms]
    options = ["--buildpkg" if packages else "--buildpkg=n", "--oneshot", "--verbose",
               "--quiet-build=n"]
    binaries = ["--usepkg", "--binpkg-respect-use=y",
                f"--usepkg-exclude={' '.join(binary_deps_except)}"] if binary_deps_except else []
    offline = target.offline()
    fetching = 0.0
    if offline is not None:
        # Fetch distfiles and binary dependencies with network, then build without it.
        started = time.monotonic()
        fetched = run_emerge(target, ["--fetchonly", *(["--getbinpkg"] if binaries else []),
                                      *binaries, *options, *atoms], log, timeout_s=timeout_s,
                             cancel=cancel, env=env)
        fetching = time.monotonic() - started
        if not fetched.ok:
            return replace(fetched, timings={"fetch": round(fetching, 3)})
        target, fetch = offline, []
    else:
        fetch = ["--getbinpkg"] if binaries else []
    result = run_emerge(target, [*fetch, *binaries, *options, *atoms], log,
                        timeout_s=timeout_s, cancel=cancel, env=env, targets=targets)
    new = sorted(_packages(target.pkgdir) - before)
    timings = {"fetch": round(fetching, 3), **result.timings} if fetching else result.timings
    return BuildResult(result.returncode, result.timed_out, tuple(new), timings)


def run_emerge(
    target: EmergeTarget, args: Sequence[str], log: BinaryIO, *, timeout_s: float,
    cancel: Callable[[], bool] | None = None, env: Mapping[str, str] | None = None,
    targets: Sequence[str] = (),
) -> BuildResult:
    """Run `emerge args` in `target` until it ends, times out or is cancelled; the result
    lists no packages, and where the time went (`targets`: the packages it builds)."""
    argv = ["emerge", "--ask=n", "--color=n", "--nospinner", *args]
    overrides = " ".join(f"{k}={v!r}" for k, v in (env or {}).items())
    log.write(f">>> binfarm: {overrides + ' ' if overrides else ''}{' '.join(argv)}\n".encode())
    log.flush()
    timed_out = False
    command, command_env = target.command(argv, env or {})
    started = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, env=command_env, start_new_session=True)
    assert proc.stdout is not None
    marks: list[Mark] = []
    copier = threading.Thread(target=_copy_output, args=(proc.stdout, log, marks),
                              name="emerge-output", daemon=True)
    copier.start()
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
            copier.join(timeout=5)
            log.write(f"\n>>> binfarm: emerge {why}\n".encode())
            break
    copier.join(timeout=30)  # the output's end: all of it is in the log before we return
    timings = breakdown(marks, started, time.monotonic(), targets)
    return BuildResult(returncode=returncode, timed_out=timed_out, packages=(),
                       timings=timings)


def _copy_output(output: BinaryIO, log: BinaryIO, marks: list[Mark]) -> None:
    """Copy emerge's output to the log as it comes, noting when each package begins."""
    for line in output:
        log.write(line)
        log.flush()
        if line.startswith(b">>> Emerging") and (mark := mark_of(line, time.monotonic())):
            marks.append(mark)
    output.close()


def _packages(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file() and p.name.endswith(_PACKAGE_SUFFIXES)}


def failure_of(log: Path) -> str | None:
    """What the last package that died in the build log said: which one, in which phase, why."""
    with open(log, "rb") as handle:
        handle.seek(max(0, log.stat().st_size - (1 << 20)))
        text = handle.read().decode(errors="replace")
    died = list(_DIED.finditer(text))
    if not died:
        return None
    last = died[-1]
    message = " ".join(line.removeprefix(" *   ").strip()
                       for line in last.group(3).splitlines() if line.strip(" *"))
    return f"{last.group(1)} failed in its {last.group(2)} phase" + \
        (f": {message[:500]}" if message else "")
