"""Builders of real processes and prefixes for the system tests.

`FarmProcess` runs `python -m binfarm serve` on 127.0.0.1:0 with its own data dir.
`ClientPrefix` is a stock Portage prefix written by hand, as an admin would write one,
independent of binfarm's own config-root code: it only points binrepos.conf at a binhost.
"""

from __future__ import annotations

import os
import selectors
import shutil
import subprocess
import sys
import time
from pathlib import Path

from binfarm.examples import EXAMPLE_REPO_NAME, example_paths

SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BINFARM_", "PORTAGE_"))}
    env.update(COLUMNS="200", NO_COLOR="1", **extra)
    return env


class FarmProcess:
    def __init__(self, data_dir: Path, *serve_args: str, startup_s: float = 90.0) -> None:
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = data_dir.parent / f"{data_dir.name}-serve.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "binfarm", "--data-dir", str(data_dir), "serve",
             "--listen", "127.0.0.1:0", *serve_args],
            stdout=subprocess.PIPE, stderr=self._log, env=_env(), text=True,
        )
        self.url = self._wait_for_url(startup_s)

    def _wait_for_url(self, startup_s: float) -> str:
        assert self.proc.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + startup_s
        while time.monotonic() < deadline:
            if selector.select(timeout=0.5):
                line = self.proc.stdout.readline()
                if line.startswith("binfarm serving on "):
                    return line.split()[3]
                if not line:
                    break
        self.stop()
        raise RuntimeError(f"binfarm serve did not start:\n{self.log_path.read_text()[-4000:]}")

    @property
    def token(self) -> str:
        return (self.data_dir / "admin.token").read_text().strip()

    def cli(self, *args: str, timeout_s: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "binfarm", "--server", self.url, "--data-dir",
             str(self.data_dir), *args],
            capture_output=True, text=True, env=_env(), timeout=timeout_s, check=False,
        )

    def dump(self) -> str:
        """What a failing system test prints: the queue and the server's log."""
        builds = self.cli("builds", "--limit", "100")
        return f"--- builds\n{builds.stdout}{builds.stderr}\n--- server log\n" + \
            self.log_path.read_text()[-6000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def copy_example_profile(name: str, dest: Path) -> Path:
    """A copy of an example profile tree whose make.profile still reaches the repository."""
    shutil.copytree(example_paths()["profiles"] / name, dest, symlinks=True)
    (dest / "make.profile").unlink()
    (dest / "make.profile").symlink_to(example_paths()["repo"] / "profiles/binfarm/amd64")
    return dest


class ClientPrefix:
    """A Gentoo Prefix-style machine with stock Portage and a binrepos.conf entry."""

    def __init__(self, root: Path, profile: str, binhost_url: str) -> None:
        self.root = root
        repo = example_paths()["repo"]
        etc = copy_example_profile(profile, root / "etc" / "portage")
        (etc / "make.conf" / "zz-this-machine").write_text(
            f'DISTDIR="{root}/distfiles"\nPKGDIR="{root}/var/cache/binpkgs"\n'
            f'PORTAGE_TMPDIR="{root}/var/tmp"\nPORTAGE_LOGDIR="{root}/var/log/portage"\n'
            'PORTAGE_USERNAME="root"\nPORTAGE_GRPNAME="root"\n'
            'FEATURES="${FEATURES} -sandbox -usersandbox -userpriv -userfetch -pid-sandbox '
            '-ipc-sandbox -network-sandbox -binpkg-request-signature -news"\n'
        )
        (etc / "repos.conf" / "zz-this-machine.conf").write_text(
            f"[{EXAMPLE_REPO_NAME}]\nlocation = {repo}\n")
        (etc / "binrepos.conf").write_text(
            f"[binfarm]\nsync-uri = {binhost_url}\npriority = 10\nverify-signature = false\n")
        config = root / "share" / "portage" / "config"
        config.mkdir(parents=True)
        for name in ("make.globals", "sets"):
            (config / name).symlink_to(Path(sys.prefix) / "share/portage/config" / name)
        (root / "bin").mkdir()
        (root / "bin" / "gtar").symlink_to(shutil.which("tar") or "/bin/tar")
        for sub in ("var/tmp", "var/log/portage", "distfiles"):
            (root / sub).mkdir(parents=True, exist_ok=True)

    def env(self) -> dict[str, str]:
        return _env(PORTAGE_CONFIGROOT=str(self.root), PORTAGE_OVERRIDE_EPREFIX=str(self.root),
                    PATH=f"{self.root}/bin:{Path(sys.executable).parent}:{SYSTEM_PATH}",
                    NOCOLOR="true")

    def emerge(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["emerge", "--ask=n", "--color=n", *args], capture_output=True,
                              text=True, env=self.env(), timeout=600, check=False)

    def run(self, program: str, stdin: str = "") -> str:
        done = subprocess.run([str(self.root / "usr" / "bin" / program)], input=stdin,
                              capture_output=True, text=True, timeout=30, check=True)
        return done.stdout

    def installed_build_id(self, cpv: str) -> str | None:
        path = self.root / "var" / "db" / "pkg" / cpv / "BUILD_ID"
        return path.read_text().strip() if path.exists() else None
