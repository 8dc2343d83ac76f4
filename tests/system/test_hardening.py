"""Exhaustion attacks on a real `binfarm serve` (F14, F15, F17): bounded bodies, a token
checked before the body, tar bombs refused by their headers, capped logs read by range,
and long-polls that hold no thread of the pool serving the binhost."""

from __future__ import annotations

import gzip
import io
import tarfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from binfarm.worker.machine import local_cpu_features
from tests.builders import FarmProcess
from tests.system.conftest import Fleet


def _rss_kib(farm: FarmProcess) -> int:
    status = Path(f"/proc/{farm.proc.pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines()
                    if line.startswith("VmRSS:")))


def _chunks(total: int, size: int = 1 << 20) -> Iterator[bytes]:
    yield b'{"profile":"desktop","atoms":["'
    for _ in range(total // size):
        yield b"a" * size
    yield b'"]}'


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FarmProcess]:
    farm = FarmProcess(tmp_path_factory.mktemp("hard") / "var", "--example", "--workers", "0",
                       env={"BINFARM_SERVER__MAX_LOG_BYTES": "4096"})
    yield farm
    farm.stop()


def test_f14_a_huge_body_is_refused_before_it_is_read(farm: FarmProcess) -> None:
    before = _rss_kib(farm)
    url = f"{farm.url}/api/v1/builds"
    headers = {"content-type": "application/json"}
    try:
        anonymous = httpx.post(url, content=_chunks(256 << 20), headers=headers, timeout=60)
        assert anonymous.status_code == 401
    except httpx.TransportError:
        pass  # the server answered 401 and closed before the client finished sending
    big = httpx.post(url, content=_chunks(64 << 20), timeout=60,
                     headers={**headers, **farm.auth})
    assert big.status_code == 413 and "larger than" in big.json()["error"]
    assert _rss_kib(farm) - before < 32 << 10  # under 32 MiB more, for 320 MiB sent


def test_f14_a_tar_bomb_is_refused_by_its_header(farm: FarmProcess, tmp_path: Path) -> None:
    # A gzip member that claims 4 GiB of zeroes: refused on reading its header.
    raw = io.BytesIO()
    info = tarfile.TarInfo("make.conf")
    info.size = 4 << 30
    with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) as zipped:
        zipped.write(info.tobuf(tarfile.GNU_FORMAT))
        zeroes = b"\0" * (1 << 20)
        for _ in range(64):  # 64 MiB of the claimed 4 GiB: enough to be a bomb
            zipped.write(zeroes)
    bomb = raw.getvalue()
    assert len(bomb) < 1 << 20
    started = time.monotonic()
    response = httpx.put(f"{farm.url}/api/v1/profiles/bomb", content=bomb, timeout=60,
                         headers={**farm.auth, "content-type": "application/gzip"})
    assert response.status_code == 400 and "larger than" in response.json()["error"]
    assert time.monotonic() - started < 10  # generous: it decompressed nothing


def test_f15_logs_are_capped_taken_only_while_leased_and_read_by_range(
        farm: FarmProcess) -> None:
    auth = farm.auth
    [build] = httpx.post(f"{farm.url}/api/v1/builds", headers=auth, timeout=120,
                         json={"profile": "laptop", "atoms": ["wordcount"]}).json()
    httpx.post(f"{farm.url}/api/v1/worker/register", headers=auth,
               json={"name": "logger", "arch": "x86_64",
                     "cpu_features": sorted(local_cpu_features())})
    leased = httpx.post(f"{farm.url}/api/v1/worker/lease", headers=auth,
                        json={"worker": "logger"}).json()
    assert leased["id"] == build["id"]
    log_url = f"{farm.url}/api/v1/builds/{build['id']}/log"
    for _ in range(10):
        assert httpx.post(log_url, params={"worker": "logger"}, content=b"x" * 1000,
                          headers=auth).status_code == 204
    text = httpx.get(log_url, headers=auth).text
    assert text.startswith("x" * 4096) and "log cut at 4096 bytes" in text
    assert len(text) < 4096 + 200
    part = httpx.get(log_url, params={"offset": 10, "limit": 5}, headers=auth)
    assert part.content == b"xxxxx"
    httpx.post(f"{farm.url}/api/v1/builds/{build['id']}/finish", headers=auth,
               json={"worker": "logger", "ok": False, "error": "test"})
    late = httpx.post(log_url, params={"worker": "logger"}, content=b"late", headers=auth)
    assert late.status_code == 409


def test_f17_long_polls_are_bounded_per_token_and_hold_no_thread(farm: FarmProcess,
                                                                  fleet: Fleet) -> None:
    del fleet
    tokens = [farm.cli("token", "create", "--role", "worker", "--name", f"poller{i}")
              .stdout.strip().splitlines()[-1] for i in range(4)]
    for i, token in enumerate(tokens):
        for j in range(15):
            httpx.post(f"{farm.url}/api/v1/worker/register",
                       headers={"Authorization": f"Bearer {token}"},
                       json={"name": f"p{i}-{j}" if j == 0 else f"p{i}-0", "arch": "x86_64"})

    def poll(n: int) -> int:
        token = tokens[n % 4]
        return httpx.post(f"{farm.url}/api/v1/worker/lease", timeout=30,
                          headers={"Authorization": f"Bearer {token}"},
                          json={"worker": f"p{n % 4}-0", "wait_s": 4}).status_code

    with ThreadPoolExecutor(70) as pool:
        polls = [pool.submit(poll, n) for n in range(68)]  # 17 a token: one too many
        time.sleep(1.0)
        started = time.monotonic()
        index = httpx.get(f"{farm.url}/binhost/desktop/Packages", timeout=30)
        took = time.monotonic() - started
        statuses = sorted(p.result() for p in polls)
    assert index.status_code == 200
    assert statuses.count(429) == 4 and statuses.count(204) == 64
    assert took < 3.0, took  # 60+ waiting polls do not queue the binhost behind them
