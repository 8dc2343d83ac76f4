"""A queued build says why it waits, in the API, as the registered workers change."""

from __future__ import annotations

from binfarm.gentoo.toolchain import cpu_spec
from tests.integration.server.conftest import Served


def register(served: Served, name: str, level: str) -> None:
    done = served.http.post("/api/v1/worker/register", headers=served.auth, json={
        "name": name, "arch": "x86_64", "cpu_features": sorted(cpu_spec(level).features)})
    assert done.status_code == 200, done.json()


def waiting(served: Served, build_id: int) -> tuple[str | None, bool]:
    build = served.http.get(f"/api/v1/builds/{build_id}", headers=served.auth).json()
    return build["waiting"], build["stuck"]


def test_a_build_says_why_it_waits_until_a_worker_can_take_it(served: Served) -> None:
    http, auth = served.http, served.auth
    [build] = http.post("/api/v1/builds", json={"profile": "desktop", "atoms": ["tool"]},
                        headers=auth).json()
    assert (build["waiting"], build["stuck"]) == ("no worker is registered", True)

    register(served, "old-cpu", "x86-64-v2")
    reason, stuck = waiting(served, build["id"])
    assert stuck and reason.startswith("no registered worker's CPU can run it: it needs ")
    assert "old-cpu lacks " in reason and "avx2" in reason.split("old-cpu lacks ")[1]
    listed = http.get("/api/v1/builds", headers=auth).json()
    assert [b["waiting"] for b in listed if b["id"] == build["id"]] == [reason]
    changed = http.put("/api/v1/profiles/desktop/cpu", json={"cpu": "x86-64-v3"},
                       headers=auth).json()
    assert changed["warning"] == reason

    register(served, "new-cpu", "x86-64-v3")
    assert waiting(served, build["id"])[0].startswith("ready: ")  # type: ignore[union-attr]
    assert http.put("/api/v1/profiles/desktop/cpu", json={"cpu": "x86-64-v3"},
                    headers=auth).json()["warning"] is None
    leased = http.post("/api/v1/worker/lease", json={"worker": "new-cpu"}, headers=auth)
    assert leased.json()["id"] == build["id"]
    assert waiting(served, build["id"]) == (None, False)
