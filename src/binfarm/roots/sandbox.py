"""Enter a chroot root with bubblewrap, over a throwaway overlayfs layer.

The root's directories are the read-only lower layers; everything a command writes goes to
an upper directory the caller keeps (a root update) or throws away (a build). The overlay
is mounted inside a private mount namespace (`unshare --mount`), so it disappears with the
command, even one killed with SIGKILL, and the host's mount table is never touched.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from binfarm.errors import InvalidInput, Unavailable

__all__ = ["DISTCC_DIR_IN_ROOT", "KEPT_CAPABILITIES", "PKGDIR_IN_ROOT", "ROOT_ENV", "Bind",
           "ChrootTarget", "Overlay", "Sandbox", "check_sandbox_tools", "missing_sandbox_tools"]

PKGDIR_IN_ROOT = "/var/cache/binpkgs"  # where a root's PKGDIR is bound (worker/buildroot.py)
DISTCC_DIR_IN_ROOT = "/var/tmp/binfarm-distcc"  # a distcc build's DISTCC_DIR (worker/distcc.py)
_HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# The environment inside a root, as a login shell on a Gentoo machine would have it.
ROOT_ENV = {
    "PATH": _HOST_PATH,
    "HOME": "/root",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "NOCOLOR": "true",
    "TERM": "dumb",
}
# What root inside a build keeps: owning, moving and moding files (setuid bits included,
# and file capabilities for fcaps), switching users and signalling its own processes.
# Gone are mounts, devices, modules, raw I/O, ptrace, open_by_handle_at and the network's.
KEPT_CAPABILITIES = ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID",
                     "CAP_SETUID", "CAP_SETGID", "CAP_KILL", "CAP_SETFCAP")
# Mounts the overlay named by $1 (options) at $2, then runs the rest.
_MOUNT_THEN_EXEC = 'mount -t overlay binfarm-root -o "$1" "$2" && shift 2 && exec "$@"'


def missing_sandbox_tools() -> list[str]:
    return [tool for tool in ("bwrap", "unshare", "mount")
            if shutil.which(tool, path=_HOST_PATH) is None]


def check_sandbox_tools() -> None:
    if missing := missing_sandbox_tools():
        raise Unavailable(f"this machine cannot enter chroot roots: {', '.join(missing)} "
                          "missing (install bubblewrap and util-linux)")


@dataclass(frozen=True)
class Bind:
    """A host directory seen at `target` inside the root."""

    source: Path
    target: str
    writable: bool = False


@dataclass(frozen=True)
class Overlay:
    """Lower layers (topmost first), and where writes go."""

    lower: tuple[Path, ...]
    upper: Path
    work: Path
    merged: Path

    def options(self) -> str:
        paths = [*self.lower, self.upper, self.work]
        bad = [str(p) for p in paths if "," in str(p) or ":" in str(p)]
        if bad:
            raise InvalidInput(f"an overlay layer path may not hold ',' or ':': {bad[0]}")
        return (f"lowerdir={':'.join(str(p) for p in self.lower)},upperdir={self.upper},"
                f"workdir={self.work}")

    def create(self) -> None:
        for directory in (self.upper, self.work, self.merged):
            directory.mkdir(parents=True, exist_ok=True)


@dataclass(frozen=True)
class Sandbox:
    overlay: Overlay
    binds: tuple[Bind, ...] = ()
    env: Mapping[str, str] = field(default_factory=lambda: dict(ROOT_ENV))
    # Offline: a network namespace with only loopback (a build, once its fetch is done).
    network: bool = True
    # A build on leased distcc slots reaches the hosts: it keeps the network.
    build_network: bool = False

    def offline(self) -> Sandbox:
        """The same root without network (unless it compiles on distcc hosts), and with
        every bind read-only but PKGDIR's and DISTCC_DIR's, so a build cannot leave
        anything (a symlink, say) in the farm's DISTDIR."""
        binds = tuple(replace(b, writable=b.writable and b.target in (PKGDIR_IN_ROOT,
                                                                      DISTCC_DIR_IN_ROOT))
                      for b in self.binds)
        return replace(self, network=self.build_network, binds=binds)

    def argv(self, command: Sequence[str], env: Mapping[str, str] | None = None) -> list[str]:
        """The host command that runs `command` inside the root, with `env` added."""
        argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", _MOUNT_THEN_EXEC,
                "sh", self.overlay.options(), str(self.overlay.merged),
                "bwrap", "--bind", str(self.overlay.merged), "/", "--dev", "/dev",
                "--proc", "/proc", "--tmpfs", "/tmp", "--unshare-pid", "--unshare-ipc",
                "--unshare-uts", "--die-with-parent", "--clearenv", "--cap-drop", "ALL"]
        for capability in KEPT_CAPABILITIES:
            argv += ["--cap-add", capability]
        if not self.network:
            argv.append("--unshare-net")
        for bind in self.binds:
            argv += ["--bind" if bind.writable else "--ro-bind", str(bind.source), bind.target]
        for name, value in {**self.env, **(env or {})}.items():
            argv += ["--setenv", name, value]
        return [*argv, "--", *command]

    @staticmethod
    def host_env() -> dict[str, str]:
        """The environment the host side (unshare, bwrap) needs; nothing else leaks in."""
        return {"PATH": _HOST_PATH, "LANG": "C.UTF-8"}


@dataclass(frozen=True)
class ChrootTarget:
    """emerge's target inside a chroot root: PKGDIR is bound from the host."""

    sandbox: Sandbox
    pkgdir: Path

    def offline(self) -> ChrootTarget:
        return replace(self, sandbox=self.sandbox.offline())

    def command(self, argv: Sequence[str],
                env: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
        return self.sandbox.argv(argv, env), self.sandbox.host_env()
