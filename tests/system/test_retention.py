"""`binfarm gc` with real processes and stock emerge: it frees a superseded instance and
keeps the one a host installed (so a rollback to it still works) and the one the channel
lists; every file an index lists is still there to download."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.builders import FarmProcess
from tests.system.test_rollout import CPV, PROFILE, _build, _host, _installed_md5, _update
from tests.system.test_rollout import farm as farm  # the fixture, re-exported

_NOW = ("--grace", "0", "--generations", "0", "--keep", "0")


def _listed(farm: FarmProcess) -> dict[str, str]:
    """{MD5: PATH} of the fastcalc instances the stable index lists."""
    text = httpx.get(f"{farm.url}/binhost/{PROFILE}/Packages", headers=farm.auth).text
    blocks = [dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
              for block in text.split("\n\n")]
    return {b["MD5"]: b["PATH"] for b in blocks if b.get("CPV") == CPV}


def _fetch(farm: FarmProcess, path: str) -> int:
    return httpx.get(f"{farm.url}/binhost/{PROFILE}/{path}", headers=farm.auth).status_code


def test_gc_frees_the_superseded_and_keeps_what_a_host_and_the_channel_need(
    farm: FarmProcess, tmp_path: Path,
) -> None:
    host = _host(tmp_path, farm, "web1")
    _build(farm)
    [(installed, installed_path)] = _listed(farm).items()
    updated = host.binfarm("client", "update", "--binary-only")
    assert updated.returncode == 0, updated.stdout[-3000:] + updated.stderr[-3000:]
    assert _installed_md5(host) == installed  # and reported to the farm
    _build(farm, "--env", "LDFLAGS=-Wl,-O1")
    [(_, superseded)] = _listed(farm).items()
    _build(farm, "--env", "LDFLAGS=-Wl,--as-needed")
    [(current, current_path)] = _listed(farm).items()

    dry = farm.cli("gc", "--dry-run", *_NOW)
    assert dry.returncode == 0, dry.stderr
    out = " ".join(dry.stdout.split())
    assert "keeps: installed on a host" in out and "keeps: listed now" in out, dry.stdout
    assert f"would delete {superseded}: superseded" in out and "1 instance" in out
    assert _fetch(farm, superseded) == 200  # a dry run deletes nothing

    done = farm.cli("gc", *_NOW)
    assert done.returncode == 0 and "freed" in done.stdout, done.stdout + done.stderr
    assert f"deleted {superseded}" in " ".join(done.stdout.split())
    assert _fetch(farm, superseded) == 404
    assert _listed(farm) == {current: current_path} and _fetch(farm, current_path) == 200
    again = farm.cli("gc", "--dry-run", *_NOW)
    assert "would free 0 B: 0 instances" in " ".join(again.stdout.split()), again.stdout

    # What the host installed is still stored: a rollback goes back to it, and stock
    # emerge on a new machine downloads every file the index lists.
    rolled = farm.cli("rollback", PROFILE, "app-misc/fastcalc")
    assert rolled.returncode == 0, rolled.stderr
    assert _listed(farm) == {installed: installed_path}
    fresh = _host(tmp_path, farm, "web2")
    _update(fresh)
    assert _installed_md5(fresh) == installed

    usage = farm.cli("store", "du")
    assert usage.returncode == 0, usage.stderr
    assert f"{PROFILE}/stable" in usage.stdout and "app-misc/fastcalc" in usage.stdout
