"""Every build says where its time went: the farm's waits, the worker's phases (read from
emerge's own output) and the server's checks, in the API and in `binfarm log --timings`."""

from __future__ import annotations

import httpx

from tests.builders import FarmProcess


def test_a_build_tells_where_its_time_went(example_farm: FarmProcess) -> None:
    done = example_farm.cli("request", "app-misc/wordcount", "--profile", "desktop",
                            "--env", "CFLAGS=-O1 -pipe", "--wait")
    assert done.returncode == 0, done.stdout + done.stderr
    builds = httpx.get(f"{example_farm.url}/api/v1/builds", headers=example_farm.auth).json()
    build = next(b for b in builds if b["cpv"] == "app-misc/wordcount-1.0"
                 and b["profile"] == "desktop" and b["env"].get("CFLAGS") == "-O1 -pipe")
    timings = build["timings"]
    assert {"queue", "dependencies", "prepare", "resolve", "compile", "upload",
            "indexing"} <= set(timings), timings
    assert timings["compile"] > 0 and timings["resolve"] > 0 and timings["indexing"] > 0
    wall = build["finished_at"] - build["requested_at"]
    assert sum(timings.values()) <= wall + 0.5, (timings, wall)
    shown = example_farm.cli("log", str(build["id"]), "--timings")
    assert shown.returncode == 0 and "compiling (the ebuild phases)" in shown.stdout
