"""Real servers a test (or a benchmark) starts on 127.0.0.1 to serve a directory: nginx
(Debian's package) with a given `server` block, an rsync daemon module, an FTP server
(pyftpdlib). Each is stopped by `close`."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path

import httpx
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import ThreadedFTPServer

from tests.builders import free_port

__all__ = ["FtpServer", "Nginx", "RsyncDaemon", "wait_for_port"]


def wait_for_port(port: int, timeout_s: float = 20.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://{host}:{port}/", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
        except httpx.HTTPError:
            return
    raise TimeoutError(f"nothing answers on {host}:{port}")


class Nginx:
    """nginx running `server_block` (its `listen` is 127.0.0.1:`port`), as root, so that
    it reads a tree below a private data directory; its files in `work`."""

    def __init__(self, work: Path, server_block: str, port: int, workers: int = 1) -> None:
        work.mkdir(parents=True, exist_ok=True)
        (work / "tmp").mkdir(exist_ok=True)
        (work / "server.conf").write_text(server_block)
        conf = work / "nginx.conf"
        temp = " ".join(f"{kind}_temp_path {work}/tmp;"
                        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        conf.write_text(
            f"daemon off; user root; worker_processes {workers}; pid {work}/nginx.pid;\n"
            f"error_log {work}/error.log;\nevents {{ worker_connections 1024; }}\n"
            f"http {{ access_log off; {temp}\n  include {work}/server.conf;\n}}\n")
        self.log = work / "error.log"
        self.proc = subprocess.Popen([shutil.which("nginx") or "/usr/sbin/nginx", "-c",
                                      str(conf), "-p", str(work), "-e", str(self.log)],
                                     stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{port}"
        wait_for_port(port)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)


class RsyncDaemon:
    """An rsync daemon with one read-only module `name` at `path`."""

    def __init__(self, work: Path, name: str, path: Path) -> None:
        work.mkdir(parents=True, exist_ok=True)
        conf = work / "rsyncd.conf"
        conf.write_text(f"use chroot = no\nuid = root\ngid = root\n[{name}]\npath = {path}\n"
                        "read only = yes\n")
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["rsync", "--daemon", "--no-detach", "--address=127.0.0.1", f"--port={self.port}",
             f"--config={conf}", f"--log-file={work}/rsyncd.log"])
        self.url = f"rsync://127.0.0.1:{self.port}/{name}"
        deadline = time.monotonic() + 20
        while subprocess.run(["rsync", f"{self.url}/"], capture_output=True).returncode:
            if time.monotonic() > deadline:
                raise TimeoutError("the rsync daemon did not start")
            time.sleep(0.1)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)


class FtpServer:
    """An FTP server whose user `user` (password `password`) reads `root`."""

    def __init__(self, root: Path, user: str, password: str) -> None:
        authorizer = DummyAuthorizer()
        authorizer.add_user(user, password, str(root), perm="elr")
        handler = type("Handler", (FTPHandler,), {"authorizer": authorizer})
        self.server = ThreadedFTPServer(("127.0.0.1", 0), handler)
        self.port = self.server.address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.close_all()
