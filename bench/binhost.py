#!/usr/bin/env python3
"""The binhost at scale: a profile's `Packages` over 20,000 instances, and package files
from the farm's own server beside nginx serving the published tree, in one run.

    .venv/bin/python bench/binhost.py [--instances 20000] [--seconds 5]

A farm data directory is filled with --instances catalogued instances (small files in
the store, entries the size of real ones, all fitting the example's laptop profile) and
two real-sized ones (20 MB, 30 kB); then `binfarm serve` runs on it (no worker), and
publishes it. Figures:
- index: the first render after a change (in the server: `Packages` asked for right after
  a write through the API), a repeat GET and a 304 (p50, client-side: an upper bound of
  the server's time);
- files: wrk (Debian's) against the farm's own server and against nginx on the published
  tree, the same files, 1 and 16 connections; and their ratio;
- memory: the resident size of `binfarm serve` holding the catalog.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from binfarm.db.tables import instances
from binfarm.farm import Farm
from binfarm.keys.inputs import KeyInputs, compute_key
from binfarm.settings import Settings
from tests.builders import FarmProcess, free_port
from tests.servers import Nginx

PROFILE = "laptop"


def _entry(cpv: str, index: int, sha: str, size: int) -> dict[str, str]:
    """A Packages entry shaped like Portage's, of a typical size."""
    return {
        "BUILD_ID": "1", "BUILD_TIME": str(1_790_000_000 + index), "CPV": cpv,
        "DEFINED_PHASES": "compile configure install prepare test", "EAPI": "8",
        "IUSE": "debug nls static-libs test", "KEYWORDS": "amd64", "LICENSE": "MIT",
        "MD5": hashlib.md5(sha.encode()).hexdigest(), "MTIME": "1790000000",
        "DEPEND": "dev-libs/libgreet:0/1= >=sys-libs/zlib-1.2.13:=",
        "RDEPEND": "dev-libs/libgreet:0/1= >=sys-libs/zlib-1.2.13:=",
        "PROVIDES": f"x86_64: lib{index}.so.1", "REQUIRES": "x86_64: libc.so.6 libz.so.1",
        "SHA1": hashlib.sha1(sha.encode()).hexdigest(), "SIZE": str(size), "SLOT": "0",
        "USE": "abi_x86_64 amd64 elibc_glibc kernel_linux nls userland_GNU",
        "REPO": "example", "PKGINDEX_URI": "", "RESTRICT": "",
    }


def fill(data_dir: Path, count: int) -> dict[str, str]:
    """Catalogue `count` small instances and a 20 MB and a 30 kB one; their PATHs."""
    farm = Farm(Settings(data_dir=data_dir))
    farm.register_example()
    profile = farm.profiles.get(PROFILE)
    signer = farm.signing_keys.signing().fingerprint
    big: dict[str, str] = {}
    rows = []
    for n in range(count + 2):
        cpv = f"bench-cat{n % 40}/pkg{n}-1.0"
        data = (os.urandom(20 << 20) if n == count else os.urandom(30 << 10)
                if n == count + 1 else f"package {n}\n".encode())
        sha = hashlib.sha256(data).hexdigest()
        path = farm.blobs.path(sha)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        inputs = KeyInputs.build(cpv=cpv, repo="example", chost=profile.info.chost, use=["nls"],
                                 iuse=["nls"], flags={"CFLAGS": profile.viewer.cflags},
                                 features=[], ebuild_sha256="e" * 64, eclasses={},
                                 slot_deps=[])
        category, pf = cpv.split("/")
        rel = f"{category}/{pf.rsplit('-', 1)[0]}/{sha[:16]}/{pf}-1.gpkg.tar"
        if n >= count:
            big["20MB" if n == count else "30kB"] = rel
        rows.append({"sha256": sha, "size": len(data), "cpv": cpv, "portage_build_id": 1,
                     "path": rel, "profile": PROFILE, "build": None,
                     "entry": _entry(cpv, n, sha, len(data)), "key": compute_key(inputs),
                     "key_inputs": inputs.to_json(), "required_isa": ["sse2"],
                     "created_at": time.time() - 86400, "signer": signer,
                     "upload_sha256": sha})
    with farm.engine.begin() as conn:
        for start in range(0, len(rows), 1000):
            conn.execute(insert(instances), rows[start:start + 1000])
    farm.close()
    return big


def server_ms(response: httpx.Response) -> float:
    """What the server says it took to have the index (its Server-Timing header)."""
    return float(response.headers["server-timing"].split("dur=")[1])


def p50_ms(call: object, times: int = 50) -> tuple[float, float]:
    """p50 of (the server's time, the round trip as the client sees it), in ms."""
    server, trip = [], []
    for _ in range(times):
        start = time.perf_counter()
        response = call()  # type: ignore[operator]
        trip.append((time.perf_counter() - start) * 1000)
        server.append(server_ms(response))
    return statistics.median(server), statistics.median(trip)


def wrk(url: str, connections: int, seconds: int, auth: str | None) -> tuple[float, float]:
    """(requests/s, MB/s) of wrk on `url`."""
    header = ["-H", f"Authorization: {auth}"] if auth else []
    done = subprocess.run(["wrk", "-t", str(min(2, connections)), "-c", str(connections),
                           "-d", f"{seconds}s", *header, url],
                          capture_output=True, text=True, check=True)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", done.stdout).group(1))
    transfer = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", done.stdout)
    scale = {"B": 1 / 1e6, "KB": 1024 / 1e6, "MB": 1024**2 / 1e6, "GB": 1024**3 / 1e6}
    return rate, float(transfer.group(1)) * scale[transfer.group(2)]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=20_000)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="binfarm-bench-binhost-"))
    try:
        started = time.perf_counter()
        paths = fill(base / "var", args.instances)
        print(f"catalogued {args.instances + 2} instances in "
              f"{time.perf_counter() - started:.1f} s")
        farm = FarmProcess(base / "var", "--workers", "0", startup_s=600)
        try:
            run(farm, paths, args)
        finally:
            farm.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def run(farm: FarmProcess, paths: dict[str, str], args: argparse.Namespace) -> None:
    http = httpx.Client(base_url=farm.url, headers=farm.auth, timeout=120)
    index = f"/binhost/{PROFILE}/Packages"
    published = farm.data_dir / "published" / PROFILE / "current" / "Packages"
    deadline = time.monotonic() + 600
    while not published.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    first, gz = [], []
    for _ in range(7):
        http.put(f"/api/v1/profiles/{PROFILE}/rollout", json={"soak": "0"})  # a change
        body = http.get(index)
        first.append(server_ms(body))
        gz.append(server_ms(http.get(index + ".gz")))
    stamp = re.search(r"TIMESTAMP: (\d+)", body.text).group(1)
    since = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(int(stamp) + 5))
    repeat = p50_ms(lambda: http.get(index))
    fresh = p50_ms(lambda: http.get(index, headers={"If-Modified-Since": since}))
    assert http.get(index, headers={"If-Modified-Since": since}).status_code == 304
    print(f"index, {body.text.count('CPV: ')} entries ({len(body.content) / 1e6:.1f} MB), "
          f"server time p50: first render after a change {statistics.median(first):.0f} ms "
          f"(then Packages.gz {statistics.median(gz):.0f} ms); repeat GET {repeat[0]:.2f} ms "
          f"(round trip {repeat[1]:.1f} ms); 304 {fresh[0]:.2f} ms (round trip "
          f"{fresh[1]:.1f} ms)")
    print(f"binfarm serve resident memory: {rss_mb(farm.proc.pid):.0f} MB")

    port = free_port()
    block = http.get("/api/v1/publish/nginx", params={"listen": f"127.0.0.1:{port}"}).text
    nginx = Nginx(farm.data_dir.parent / "nginx", block, port, workers=2)
    auth = farm.auth["Authorization"]
    try:
        current = farm.data_dir / "published" / PROFILE / "current"
        entries = (current / "Packages").read_text().split("\n\n")
        for size, farm_path in paths.items():
            cpv = farm_path.split("/")[0] + "/" + farm_path.split("/")[-1].removesuffix(
                "-1.gpkg.tar")
            block_of = next(e for e in entries if f"CPV: {cpv}\n" in e)
            static = re.search(r"PATH: (\S+)", block_of).group(1)
            for connections in (1, 16):
                ours = wrk(f"{farm.url}/binhost/{PROFILE}/{farm_path}", connections,
                           args.seconds, auth)
                theirs = wrk(f"{nginx.url}/binhost/{PROFILE}/{static}", connections,
                             args.seconds, None)
                print(f"file {size}, {connections} connection(s): farm {ours[0]:.0f} req/s "
                      f"{ours[1]:.0f} MB/s; nginx on the published tree {theirs[0]:.0f} "
                      f"req/s {theirs[1]:.0f} MB/s; farm/nginx {ours[1] / theirs[1]:.2f}x")
    finally:
        nginx.close()


if __name__ == "__main__":
    main()
