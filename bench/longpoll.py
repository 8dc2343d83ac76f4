#!/usr/bin/env python3
"""A profile's `Packages` GET while workers long-poll for leases, beside nginx.

    .venv/bin/python bench/longpoll.py [--pollers 60] [--gets 200]

Starts a real `binfarm serve --example --workers 0`, gives each of --pollers workers its
own worker token, and has them long-poll `/worker/lease` without pause (no build is
queued, so every poll waits its full time). Printed: latency of `GET /binhost/desktop/
Packages` (p50, p95, max over --gets sequential requests) with no poller and with all of
them waiting, beside nginx serving the same index as a static file. Before the lease wait
moved onto the event loop, 60 pollers made this GET take 17 s (the review's F17).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_farm(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "binfarm", "--data-dir", str(data_dir), "serve", "--example",
         "--workers", "0", "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("BINFARM_")})
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("binfarm serving on "):
            return proc, line.split()[3]
    raise SystemExit("binfarm serve did not start")


def timings(url: str, gets: int) -> list[float]:
    out = []
    with httpx.Client(timeout=60) as http:
        for _ in range(gets):
            started = time.perf_counter()
            assert http.get(url).status_code == 200
            out.append((time.perf_counter() - started) * 1000)
    return out


def figures(ms: list[float]) -> str:
    ms = sorted(ms)
    return (f"p50 {statistics.median(ms):.1f} ms, p95 {ms[int(len(ms) * 0.95) - 1]:.1f} ms, "
            f"max {ms[-1]:.1f} ms")


def poll_forever(url: str, token: str, worker: str, stop: threading.Event) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(timeout=60, headers=headers) as http:
        http.post(f"{url}/api/v1/worker/register", json={"name": worker, "arch": "x86_64"})
        while not stop.is_set():
            http.post(f"{url}/api/v1/worker/lease", json={"worker": worker, "wait_s": 20})


def nginx_figures(index: bytes, gets: int, base: Path) -> str:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    root = base / "nginx"
    (root / "desktop").mkdir(parents=True)
    (root / "desktop" / "Packages").write_bytes(index)
    for path in (base, root, root / "desktop"):  # nginx's workers run as nobody
        path.chmod(0o755)
    (root / "desktop" / "Packages").chmod(0o644)
    port = free_port()
    conf = root / "nginx.conf"
    conf.write_text(
        f"daemon off; worker_processes 2; pid {root}/nginx.pid; error_log {root}/error.log;\n"
        "events { worker_connections 1024; }\n"
        f"http {{ access_log off; sendfile on; client_body_temp_path {root}/tmp;\n"
        f"  proxy_temp_path {root}/tmp; fastcgi_temp_path {root}/tmp;\n"
        f"  uwsgi_temp_path {root}/tmp; scgi_temp_path {root}/tmp;\n"
        f"  server {{ listen 127.0.0.1:{port}; root {root}; }} }}\n")
    proc = subprocess.Popen([nginx, "-c", str(conf), "-p", str(root)],
                            stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/desktop/Packages"
        for _ in range(100):
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        return figures(timings(url, gets))
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pollers", type=int, default=60)
    parser.add_argument("--gets", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-longpoll-") as tmp:
        proc, url = start_farm(Path(tmp) / "var")
        stop = threading.Event()
        try:
            admin = (Path(tmp) / "var" / "admin.token").read_text().strip()
            index_url = f"{url}/binhost/desktop/Packages"
            idle = timings(index_url, args.gets)
            tokens = [httpx.post(f"{url}/api/v1/tokens", json={"name": f"w{i}", "role": "worker"},
                                 headers={"Authorization": f"Bearer {admin}"}).json()["secret"]
                      for i in range(args.pollers)]
            threads = [threading.Thread(target=poll_forever, daemon=True,
                                        args=(url, token, f"w{i}", stop))
                       for i, token in enumerate(tokens)]
            for thread in threads:
                thread.start()
            time.sleep(2)  # every poller registered and waiting
            busy = timings(index_url, args.gets)
            index = httpx.get(index_url).content
        finally:
            stop.set()
            proc.terminate()
            proc.wait()
        beside = nginx_figures(index, args.gets, Path(tmp))
    print(f"GET /binhost/desktop/Packages, {args.gets} requests, {len(index)} bytes")
    print(f"  binfarm, no poller:              {figures(idle)}")
    print(f"  binfarm, {args.pollers} workers long-polling: {figures(busy)}")
    print(f"  nginx (static file, 2 workers):  {beside}")


if __name__ == "__main__":
    main()
