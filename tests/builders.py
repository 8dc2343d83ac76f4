"""Builders of real processes and prefixes for the system tests.

`FarmProcess` runs `python -m binfarm serve` on 127.0.0.1 with its own data dir;
`WorkerProcess` runs `python -m binfarm worker` against it. `ClientPrefix` is a stock
Portage prefix written by hand, as an admin would write one, independent of binfarm's own
config-root code: it only points binrepos.conf at a binhost; `ClientRoot` is the same for a
machine with EPREFIX empty, in a bubblewrap root over `stand_in_root()`, a stage3
stand-in. `WebhookReceiver` collects the notices a farm POSTs.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from binfarm.examples import EXAMPLE_REPO_NAME, example_paths
from binfarm.gentoo.configroot import write_bare_node
from binfarm.gentoo.pool import PortageHelper
from binfarm.gentoo.protocol import SigningRequest
from binfarm.signing.gnupg import GnuPG

SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def process_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BINFARM_", "PORTAGE_"))}
    # Short lease long-polls: a stopped worker notices within seconds, not 20.
    env.update(COLUMNS="200", NO_COLOR="1", BINFARM_WORKER__LEASE_WAIT_S="2", **extra)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FarmProcess:
    def __init__(self, data_dir: Path, *serve_args: str, startup_s: float = 90.0,
                 port: int = 0, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = data_dir.parent / f"{data_dir.name}-serve.log"
        self._serve_args, self._env, self._startup_s = serve_args, env, startup_s
        self._start(port)

    def _start(self, port: int) -> None:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "binfarm", "--data-dir", str(self.data_dir), "serve",
             "--listen", f"127.0.0.1:{port}", *self._serve_args],
            stdout=subprocess.PIPE, stderr=self._log, env=process_env(**(self._env or {})),
            text=True,
        )
        self.url = self._wait_for_url(self._startup_s)

    def restart(self) -> None:
        """Stop and start again on the same port: what it keeps in memory is gone."""
        self.stop()
        self._start(int(self.url.rsplit(":", 1)[1]))

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

    @property
    def auth(self) -> dict[str, str]:
        """The admin's Authorization header: every read of the API needs a token."""
        return {"Authorization": f"Bearer {self.token}"}

    def cli(self, *args: str, timeout_s: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "binfarm", "--server", self.url, "--data-dir",
             str(self.data_dir), *args],
            capture_output=True, text=True, env=process_env(), timeout=timeout_s, check=False,
        )

    def dump(self) -> str:
        """What a failing system test prints: the queue and the server's log."""
        builds = self.cli("builds", "--limit", "100")
        return f"--- builds\n{builds.stdout}{builds.stderr}\n--- server log\n" + \
            self.log_path.read_text()[-6000:]

    def stop(self) -> None:
        _stop(self.proc)
        self._log.close()

    def kill(self) -> None:
        """SIGKILL: the server dies as in a power cut, with no chance to clean up."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self._log.close()


class WorkerProcess:
    """`binfarm worker` on this machine, standing in for another machine."""

    def __init__(self, url: str, token: str, name: str, work_dir: Path,
                 env: dict[str, str] | None = None, slots: int = 1) -> None:
        self.work_dir = work_dir
        work_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = work_dir.parent / f"{name}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "binfarm", "worker", "--server", url, "--token", token,
             "--name", name, "--slots", str(slots), "--work-dir", str(work_dir)],
            stdout=self._log, stderr=subprocess.STDOUT, env=process_env(**(env or {})),
            start_new_session=True,
        )

    def kill_machine(self) -> None:
        """The machine dies: the worker and every build it started, at once."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self._kill_builds()

    def stop(self) -> None:
        _stop(self.proc)
        self._kill_builds()
        self._log.close()

    def _kill_builds(self) -> None:
        for pid in pids_with_environ(str(self.work_dir)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 that records every JSON body POSTed to it."""

    def __init__(self) -> None:
        self.notices: list[dict[str, Any]] = []
        received = self.notices
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with lock:
                    received.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/notice"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def wait_until(condition: Any, timeout_s: float, what: str, poll_s: float = 0.5) -> Any:
    """Poll `condition()` until it is truthy; fail with `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def _stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def pids_with_environ(needle: str) -> list[int]:
    """Processes whose environment mentions `needle` (a worker's emerge and its children)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


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
            # Paths below EPREFIX: machines configured alike have the same make.conf.
            'DISTDIR="${EPREFIX}/distfiles"\nPKGDIR="${EPREFIX}/var/cache/binpkgs"\n'
            'PORTAGE_TMPDIR="${EPREFIX}/var/tmp"\nPORTAGE_LOGDIR="${EPREFIX}/var/log/portage"\n'
            'PORTAGE_USERNAME="root"\nPORTAGE_GRPNAME="root"\n'
            'FEATURES="${FEATURES} -sandbox -usersandbox -userpriv -userfetch -pid-sandbox '
            '-ipc-sandbox -network-sandbox -news"\n'
            # A Prefix verifies in its own keyring; Debian has no getuto to run.
            'BINPKG_GPG_VERIFY_GPG_HOME="${EPREFIX}/etc/portage/gnupg"\n'
            'PORTAGE_TRUST_HELPER=""\n'
        )
        (etc / "repos.conf" / "zz-this-machine.conf").write_text(
            f"[{EXAMPLE_REPO_NAME}]\nlocation = {repo}\n")
        (etc / "binrepos.conf").write_text(
            f"[binfarm]\nsync-uri = {binhost_url}\npriority = 10\nverify-signature = true\n")
        # Portage's gpg --verify runs as nobody, who must reach the keyring.
        reachable(root)
        config = root / "share" / "portage" / "config"
        config.mkdir(parents=True)
        for name in ("make.globals", "sets"):
            (config / name).symlink_to(Path(sys.prefix) / "share/portage/config" / name)
        (root / "bin").mkdir()
        (root / "bin" / "gtar").symlink_to(shutil.which("tar") or "/bin/tar")
        # A Gentoo machine has its CHOST's compiler by that name; Debian calls it gcc.
        (root / "bin" / "x86_64-pc-linux-gnu-gcc").symlink_to(shutil.which("gcc") or "gcc")
        for sub in ("var/tmp", "var/log/portage", "distfiles"):
            (root / sub).mkdir(parents=True, exist_ok=True)

    @property
    def keyring(self) -> Path:
        return self.root / "etc" / "portage" / "gnupg"

    def trust(self, farm_url: str) -> None:
        """Trust the farm's keys as an admin without the binfarm CLI would."""
        trust_with_readme_lines(self.keyring, farm_url)

    def env(self) -> dict[str, str]:
        return process_env(PORTAGE_CONFIGROOT=str(self.root),
                           PORTAGE_OVERRIDE_EPREFIX=str(self.root),
                           PATH=f"{self.root}/bin:{Path(sys.executable).parent}:{SYSTEM_PATH}",
                           NOCOLOR="true")

    def binfarm(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The binfarm CLI run on this machine, in its Portage environment."""
        return subprocess.run([sys.executable, "-m", "binfarm", *args], capture_output=True,
                              text=True, env=self.env(), timeout=900, check=False)

    def set_world(self, *atoms: str) -> None:
        world = self.root / "var" / "lib" / "portage" / "world"
        world.parent.mkdir(parents=True, exist_ok=True)
        world.write_text("".join(f"{atom}\n" for atom in atoms))

    def emerge(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["emerge", "--ask=n", "--color=n", *args], capture_output=True,
                              text=True, env={**self.env(), **env}, timeout=600, check=False)

    def run(self, program: str, stdin: str = "") -> str:
        done = subprocess.run([str(self.root / "usr" / "bin" / program)], input=stdin,
                              capture_output=True, text=True, timeout=30, check=True)
        return done.stdout

    def installed_build_id(self, cpv: str) -> str | None:
        path = self.root / "var" / "db" / "pkg" / cpv / "BUILD_ID"
        return path.read_text().strip() if path.exists() else None


def enrollment_token(farm: FarmProcess, name: str) -> str:
    """A one-use token that registers one machine for laptop: never the admin's."""
    created = farm.cli("token", "create", "--role", "enroll", "--profile", "laptop",
                       "--name", f"enroll-{name}")
    assert created.returncode == 0, created.stderr
    return created.stdout.strip().splitlines()[-1]


def register(farm: FarmProcess, client: ClientPrefix, name: str, *extra: str) -> str:
    """`binfarm client register` on `client`, for laptop; returns what it printed."""
    done = client.binfarm("client", "register", "--server", farm.url,
                          "--token", enrollment_token(farm, name), "--name", name,
                          "--profile", "laptop", *extra)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


README = Path(__file__).resolve().parent.parent / "README.md"


def trust_with_readme_lines(keyring: Path, farm_url: str) -> None:
    """Run the README's shell lines that make a machine trust the farm's keys."""
    text = README.read_text()
    start = text.index("```sh\n", text.index("<!-- trust-farm-keys -->")) + len("```sh\n")
    script = text[start:text.index("```", start)]
    script = script.replace("FARM=http://127.0.0.1:7979", f"FARM={farm_url}", 1)
    subprocess.run(["bash", "-euc", script], env=process_env(GNUPGHOME=str(keyring)), check=True,
                   capture_output=True, timeout=120)
    subprocess.run(["gpgconf", "--homedir", str(keyring), "--kill", "all"], check=False,
                   capture_output=True, timeout=60)


def reachable(path: Path) -> None:
    """Let other users pass through `path`'s parents (pytest makes its base 0700)."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o005)


STAND_IN_SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "make-stand-in-root"


def stand_in_root() -> Path:
    """A Debian stand-in for a Gentoo stage3, made once and cached between test runs
    (in $XDG_CACHE_HOME/binfarm-tests, keyed by the script that makes it)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "binfarm-tests"
    cache.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(STAND_IN_SCRIPT.read_bytes()).hexdigest()[:16]
    root = cache / f"stand-in-{digest}"
    with open(cache / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not root.is_dir():
            shutil.rmtree(f"{root}.partial", ignore_errors=True)
            subprocess.run([str(STAND_IN_SCRIPT), str(root)], check=True, timeout=1800,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return root


class ClientRoot:
    """A Gentoo machine with EPREFIX empty: the stand-in root with its own writable layer
    (overlayfs), entered with bubblewrap; /etc/portage written by hand, as an admin would,
    pointing binrepos.conf at the farm."""

    def __init__(self, directory: Path, stage3: Path, profile: str, binhost_url: str) -> None:
        self.stage3 = stage3
        self.upper, self.work = directory / "upper", directory / "work"
        self.merged = directory / "merged"
        for path in (self.upper, self.work, self.merged):
            path.mkdir(parents=True)
        etc = self.upper / "etc" / "portage"
        etc.parent.mkdir(parents=True)
        shutil.copytree(example_paths()["profiles"] / profile, etc, symlinks=True)
        (etc / "make.profile").unlink()
        (etc / "make.profile").symlink_to(
            f"/var/db/repos/{EXAMPLE_REPO_NAME}/profiles/binfarm/amd64")
        (etc / "make.conf" / "zz-this-machine").write_text(
            'FEATURES="${FEATURES} -sandbox -usersandbox -userpriv -pid-sandbox -ipc-sandbox '
            '-network-sandbox -news"\nPORTAGE_TRUST_HELPER=""\n')
        (etc / "binrepos.conf").write_text(
            f"[binfarm]\nsync-uri = {binhost_url}\npriority = 10\nverify-signature = true\n")
        self.keyring = etc / "gnupg"

    def trust(self, farm_url: str) -> None:
        trust_with_readme_lines(self.keyring, farm_url)

    def run(self, *command: str, timeout_s: float = 600) -> subprocess.CompletedProcess[str]:
        mount = (f"lowerdir={self.stage3},upperdir={self.upper},workdir={self.work}")
        argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                'mount -t overlay client -o "$1" "$2" && shift 2 && exec "$@"', "sh", mount,
                str(self.merged), "bwrap", "--bind", str(self.merged), "/", "--dev", "/dev",
                "--proc", "/proc", "--tmpfs", "/tmp", "--ro-bind", str(example_paths()["repo"]),
                f"/var/db/repos/{EXAMPLE_REPO_NAME}", "--die-with-parent", "--clearenv",
                "--setenv", "PATH", SYSTEM_PATH, "--setenv", "HOME", "/root", "--setenv",
                "LANG", "C.UTF-8", "--", *command]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s,
                              env={"PATH": SYSTEM_PATH}, check=False)

    def emerge(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run("emerge", "--ask=n", "--color=n", *args)

    def installed(self, path: str) -> Path:
        """A file the machine installed, as the host sees it in the machine's own layer."""
        return self.upper / path.lstrip("/")


def gpkg_members(data: bytes) -> dict[str, bytes]:
    """The files of a GPKG container, by name."""
    with tarfile.open(fileobj=io.BytesIO(data)) as container:
        return {m.name: container.extractfile(m).read()  # type: ignore[union-attr]
                for m in container.getmembers() if m.isfile()}


def index_entry(index: str, path: str) -> dict[str, str]:
    """The block of a Packages index that serves `path`."""
    block = next(b for b in index.split("\n\n") if f"PATH: {path}" in b.splitlines())
    return dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)


def flip_image_byte(source: Path, dest: Path) -> Path:
    """A copy of `source` with one byte of its image changed (its Manifest not)."""
    shutil.copyfile(source, dest)
    with tarfile.open(dest) as container:
        member = next(m for m in container.getmembers() if m.name.endswith("/image.tar.zst"))
    with open(dest, "r+b") as handle:
        handle.seek(member.offset_data + member.size // 2)
        byte = handle.read(1)
        handle.seek(-1, 1)
        handle.write(bytes([byte[0] ^ 1]))
    return dest


def signed_by_a_stranger(source: Path, work: Path) -> Path:
    """`source` signed with a key the farm does not know, by Portage's gpkg API."""
    stranger = GnuPG(work / "stranger")
    stranger.create_home(0o700)
    fingerprint = stranger.generate("someone else <evil@example.invalid>")
    out = work / source.name
    PortageHelper(120).sign_binpkg(write_bare_node(work / "node"), source, SigningRequest(
        home=str(stranger.home), key=fingerprint, out=str(out), lock=str(work / "lock")))
    stranger.stop_agent()
    return out


def repo_profile_tree(tree: Path, repo: Path, name: str) -> Path:
    """A profile tree on `repo` (a small_repo named `name`): its base profile, -O2."""
    (tree / "repos.conf").mkdir(parents=True)
    (tree / "make.conf").write_text('CFLAGS="-O2 -pipe"\nACCEPT_LICENSE="*"\n')
    (tree / "repos.conf" / f"{name}.conf").write_text(
        f"[DEFAULT]\nmain-repo = {name}\n\n[{name}]\nlocation = {repo}\n")
    (tree / "make.profile").symlink_to(repo / "profiles" / "base")
    return tree


def small_repo(base: Path, name: str, ebuilds: dict[str, str],
               categories: tuple[str, ...] = ("app-misc",)) -> Path:
    """A repository of its own (no masters) at base/name, amd64, holding `ebuilds`
    ({cat/pn-ver: what follows EAPI, SLOT and LICENSE})."""
    repo = base / name
    (repo / "profiles" / "base").mkdir(parents=True)
    (repo / "metadata").mkdir()
    (repo / "profiles" / "repo_name").write_text(f"{name}\n")
    (repo / "profiles" / "categories").write_text("".join(f"{c}\n" for c in categories))
    (repo / "profiles" / "base" / "make.defaults").write_text(
        'ARCH="amd64"\nCHOST="x86_64-pc-linux-gnu"\nACCEPT_KEYWORDS="amd64"\n')
    (repo / "metadata" / "layout.conf").write_text("masters =\nthin-manifests = true\n")
    for cpv, body in ebuilds.items():
        cp, pv = cpv.rsplit("-", 1)
        (repo / cp).mkdir(parents=True, exist_ok=True)
        (repo / cp / f"{cp.split('/')[1]}-{pv}.ebuild").write_text(
            f'EAPI=8\nSLOT="0"\nLICENSE="MIT"\n{body}')
    return repo
