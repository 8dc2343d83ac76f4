"""distccd "hosts" on this machine: each in a network namespace the test creates, joined to
the root namespace by a veth pair (10.252.N.1 here, 10.252.N.2 in the host), listening
only there and allowing only this side. Used by tests and bench/distcc.py; `close` kills
the daemons it started and deletes the namespaces and links."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.servers import wait_for_port

__all__ = ["DistccHost", "DistccHosts"]

_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_NET = "10.252"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


class DistccHost:
    def __init__(self, index: int, prefix: str, work: Path) -> None:
        self.index = index
        self.namespace = f"{prefix}h{index}"
        self.link = f"{prefix}h{index}a"
        self.address = f"{_NET}.{index}.2"
        self.client_address = f"{_NET}.{index}.1"
        self.work = work / f"h{index}"
        self.work.mkdir()
        shutil.chown(self.work, "distccd")  # distccd drops root for user distccd
        self.proc: subprocess.Popen[bytes] | None = None
        _ip("netns", "add", self.namespace)
        _ip("link", "add", self.link, "type", "veth", "peer", "name", f"{prefix}h{index}b")
        _ip("link", "set", f"{prefix}h{index}b", "netns", self.namespace)
        _ip("addr", "add", f"{self.client_address}/30", "dev", self.link)
        _ip("link", "set", self.link, "up")
        for args in (("addr", "add", f"{self.address}/30", "dev", f"{prefix}h{index}b"),
                     ("link", "set", f"{prefix}h{index}b", "up"), ("link", "set", "lo", "up")):
            _ip("netns", "exec", self.namespace, "ip", *args)

    @property
    def log(self) -> Path:
        return self.work / "distccd.log"

    def compiled(self) -> int:
        """Compiles this host finished for a client (its log's COMPILE_OK lines)."""
        return self.log.read_text().count("COMPILE_OK") if self.log.exists() else 0

    def start(self, *, jobs: int = 2, insecure: bool = False, no_ident: bool = False) -> None:
        """Start distccd; `no_ident`: its gcc writes no .comment (a different compiler)."""
        env = {"PATH": _PATH}
        if no_ident:
            wrappers = self.work / "gcc-no-ident"
            wrappers.mkdir(exist_ok=True)
            for name in ("x86_64-linux-gnu-gcc", "x86_64-linux-gnu-g++"):
                (wrappers / name).write_text(f'#!/bin/sh\nexec /usr/bin/{name} -fno-ident "$@"\n')
                (wrappers / name).chmod(0o755)
            env["DISTCCD_PATH"] = f"{wrappers}:/usr/bin"
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.namespace, "/usr/bin/distccd", "--daemon",
             "--no-detach", "--listen", self.address, "--allow", f"{self.client_address}/32",
             "--jobs", str(jobs), "--nice", "5", "--stats", "--log-file", str(self.log),
             "--log-level", "info", "--user", "distccd",
             *(["--enable-tcp-insecure"] if insecure else [])],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(3633, host=self.address)  # its stats page answers once it listens

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            # `ip netns exec` execs distccd: this is its parent; the children follow it.
            self.proc.kill()
            self.proc.wait()
            for pid in subprocess.run(["ip", "netns", "pids", self.namespace],
                                      capture_output=True, text=True).stdout.split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), 9)
        self.proc = None

    def close(self) -> None:
        self.kill()
        subprocess.run(["ip", "link", "del", self.link], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.namespace], capture_output=True)


class DistccHosts:
    def __init__(self, count: int) -> None:
        self.work = Path(tempfile.mkdtemp(prefix="binfarm-distccd-"))
        self.work.chmod(0o755)
        prefix = f"bfd{os.getpid() % 10000}"
        self.hosts: list[DistccHost] = []
        try:
            for index in range(1, count + 1):
                self.hosts.append(DistccHost(index, prefix, self.work))
        except BaseException:
            self.close()
            raise

    def __getitem__(self, index: int) -> DistccHost:
        return self.hosts[index]

    def close(self) -> None:
        for host in self.hosts:
            host.close()
        shutil.rmtree(self.work, ignore_errors=True)
