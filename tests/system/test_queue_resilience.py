"""The queue with real processes: workers and servers die, many clients ask at once."""

from __future__ import annotations

import json
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.builders import (
    FarmProcess,
    WebhookReceiver,
    free_port,
    pids_with_environ,
    wait_until,
)
from tests.system.conftest import Fleet

# Short leases and backoffs, so that a death is noticed within seconds.
FAST = {"BINFARM_QUEUE__LEASE_TTL_S": "5", "BINFARM_QUEUE__RETRY_BASE_S": "1",
        "BINFARM_WORKER__HEARTBEAT_S": "1", "BINFARM_WORKER__LOG_FLUSH_S": "0.5"}


def api(farm: FarmProcess, path: str) -> httpx.Response:
    return httpx.get(f"{farm.url}/api/v1{path}", timeout=30, headers=farm.auth)


def build(farm: FarmProcess, build_id: str) -> dict:
    return api(farm, f"/builds/{build_id}").json()


def request(farm: FarmProcess, *atoms: str) -> list[str]:
    done = farm.cli("request", *atoms, "--profile", "laptop")
    assert done.returncode == 0, done.stdout + done.stderr
    return [line.split()[1].rstrip(":") for line in done.stdout.splitlines()
            if line.startswith("build ")]


def compiling(farm: FarmProcess, build_id: str, worker: str) -> bool:
    b = build(farm, build_id)
    log = api(farm, f"/builds/{build_id}/log").text
    return b["state"] == "running" and b["worker"] == worker and "compiling for 12" in log


def test_a_build_survives_the_death_of_its_worker(fleet: Fleet, tmp_path: Path) -> None:
    farm = fleet.farm(tmp_path / "var", "--example", "--workers", "0", env=FAST)
    alpha = fleet.worker(farm.url, farm.token, "alpha", tmp_path / "alpha", FAST)
    [slow] = request(farm, "app-misc/slowpoke")
    wait_until(lambda: compiling(farm, slow, "alpha"), 90, "alpha compiling slowpoke")
    fleet.worker(farm.url, farm.token, "beta", tmp_path / "beta", FAST)
    alpha.kill_machine()

    done = wait_until(lambda: (b := build(farm, slow))["state"] in
                      ("succeeded", "failed") and b, 120, "the build to end elsewhere")
    assert done["state"] == "succeeded", fleet.dump()
    assert (done["worker"], done["attempts"]) == ("beta", 1)
    assert [p["cpv"] for p in done["packages"]] == ["app-misc/slowpoke-1.0"]
    index = httpx.get(f"{farm.url}/binhost/laptop/Packages").text
    assert index.count("CPV: app-misc/slowpoke-1.0\n") == 1
    workers = {w["name"]: w for w in api(farm, "/workers").json()}
    assert workers["alpha"]["consecutive_failures"] == 1


def test_a_server_killed_mid_queue_loses_nothing(fleet: Fleet, tmp_path: Path,
                                                database_url: str) -> None:
    """On SQLite in the data dir and on PostgreSQL (serve --database)."""
    port = free_port()
    env = {**FAST, "BINFARM_QUEUE__LEASE_TTL_S": "30"}
    db = ("--database", database_url)
    farm = fleet.farm(tmp_path / "var", "--example", "--workers", "0", *db, port=port, env=env)
    fleet.worker(farm.url, farm.token, "gamma", tmp_path / "gamma", env)
    ids = request(farm, "app-misc/slowpoke", "app-misc/tool", "app-misc/wordcount")
    wait_until(lambda: compiling(farm, ids[0], "gamma"), 90, "gamma compiling slowpoke")
    farm.kill()
    time.sleep(3)
    farm = fleet.farm(tmp_path / "var", "--workers", "0", *db, port=port, env=env)

    builds = wait_until(
        lambda: (bs := [build(farm, i) for i in ids]) and
        all(b["state"] in ("succeeded", "failed") for b in bs) and bs,
        180, "the queue to drain after the restart")
    assert [b["state"] for b in builds] == ["succeeded"] * 3, fleet.dump()
    assert builds[0]["attempts"] == 0  # the running build was reported, not redone
    assert len(api(farm, "/builds").json()) == 3


def test_cancelling_a_running_build_stops_its_emerge(fleet: Fleet, tmp_path: Path) -> None:
    farm = fleet.farm(tmp_path / "var", "--example", "--workers", "0", env=FAST)
    fleet.worker(farm.url, farm.token, "delta", tmp_path / "delta", FAST)
    [slow] = request(farm, "app-misc/slowpoke")
    wait_until(lambda: compiling(farm, slow, "delta"), 90, "delta compiling slowpoke")
    cancelled = farm.cli("cancel", slow)
    assert cancelled.returncode == 0 and "cancelled" in cancelled.stdout
    wait_until(lambda: "emerge cancelled" in api(farm, f"/builds/{slow}/log").text, 30,
               "the worker to stop emerge")
    [after] = request(farm, "app-misc/wordcount")
    done = wait_until(lambda: (b := build(farm, after))["state"] == "succeeded" and b, 90,
                      "the worker to take the next build")
    assert done["worker"] == "delta"
    assert build(farm, slow)["state"] == "cancelled"


def test_stopping_serve_ends_its_builds_and_requeues_them(fleet: Fleet,
                                                          tmp_path: Path) -> None:
    farm = fleet.farm(tmp_path / "var", "--example", env=FAST)
    [slow] = request(farm, "app-misc/slowpoke")
    wait_until(lambda: compiling(farm, slow, "embedded"), 90, "the embedded worker compiling")
    build_root = str(farm.data_dir / "worker")
    assert pids_with_environ(build_root)  # emerge and its children carry the root's paths
    farm.stop()  # SIGTERM, as an init system stops it
    assert farm.proc.returncode is not None
    assert pids_with_environ(build_root) == []  # no process of the build outlived serve
    with sqlite3.connect(farm.data_dir / "binfarm.sqlite") as db:
        [(state,)] = db.execute("SELECT state FROM builds WHERE id = ?", (int(slow),))
    assert state == "queued"


def test_fifty_clients_asking_for_five_packages_get_five_builds_and_fifty_notices(
    fleet: Fleet, tmp_path: Path,
) -> None:
    # The receiver is on loopback, where webhooks go only if the admin allows it.
    farm = fleet.farm(tmp_path / "var", "--example",
                      env={"BINFARM_QUEUE__WEBHOOK_ALLOW": '["127.0.0.0/8"]'})
    receiver = WebhookReceiver()
    atoms = ["dev-libs/libgreet", "app-misc/hello", "app-misc/tool", "app-misc/fastcalc",
             "app-misc/wordcount"]
    headers = {"Authorization": f"Bearer {farm.token}"}

    def ask(i: int) -> int:
        response = httpx.post(f"{farm.url}/api/v1/builds", headers=headers, timeout=300,
                              json={"profile": "laptop", "atoms": [atoms[i % 5]],
                                    "requester": f"client-{i}", "webhook": receiver.url})
        assert response.status_code == 201, response.text
        return int(response.json()[0]["id"])

    try:
        with ThreadPoolExecutor(50) as pool:
            ids = list(pool.map(ask, range(50)))
        assert len(set(ids)) == 5
        assert len(api(farm, "/builds").json()) == 5
        wait_until(lambda: len(receiver.notices) >= 50, 240, "50 notices")
        time.sleep(1)
        assert len(receiver.notices) == 50
        assert {n["requester"] for n in receiver.notices} == {f"client-{i}" for i in range(50)}
        assert {n["status"] for n in receiver.notices} == {"succeeded"}
        listed = farm.cli("builds", "--json")
        assert listed.returncode == 0
        rows = [json.loads(line) for line in listed.stdout.splitlines()]
        assert sorted(r["requesters"] for r in rows) == [10] * 5
        fields = {"attempts", "env", "id", "package", "priority", "profile", "requesters",
                  "state", "worker", "waiting"}
        assert all(fields <= set(r) for r in rows), rows
        assert {r["waiting"] for r in rows} == {None}  # all done: none waits
    finally:
        receiver.close()
