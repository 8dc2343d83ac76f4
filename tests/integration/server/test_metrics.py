"""`GET /metrics` parsed with prometheus_client's own parser, against the queue's real state."""

from __future__ import annotations

from collections import Counter

from prometheus_client.parser import text_string_to_metric_families

from tests.integration.server.conftest import Served, lease

BOUNDED_LABELS = {"profile", "state", "result", "outcome", "kind", "worker", "version"}


def scrape(served: Served) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    response = served.http.get("/metrics", headers=served.auth)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            assert set(sample.labels) <= BOUNDED_LABELS | {"le"}, sample
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def value(metrics: dict, name: str, **labels: str) -> float:
    return metrics.get(name, {}).get(tuple(sorted(labels.items())), 0.0)


def test_metrics_need_a_reader_token(served: Served) -> None:
    assert served.http.get("/metrics").status_code == 401
    created = served.http.post("/api/v1/tokens", headers=served.auth,
                               json={"name": "a-client", "role": "client", "profile": "laptop"})
    client = created.json()["secret"]
    refused = served.http.get("/metrics", headers={"Authorization": f"Bearer {client}"})
    assert refused.status_code == 403


def test_queue_gauges_are_the_queues_real_state(served: Served) -> None:
    before = scrape(served)
    asked = served.http.post("/api/v1/builds", headers=served.auth,
                             json={"profile": "laptop", "atoms": ["app-misc/slowpoke"],
                                   "env": {"CFLAGS": "-O1 -march=x86-64-v2"}})
    assert asked.status_code == 201, asked.text
    again = served.http.post("/api/v1/builds", headers=served.auth,
                             json={"profile": "laptop", "atoms": ["app-misc/slowpoke"],
                                   "env": {"CFLAGS": "-O1 -march=x86-64-v2"}})
    assert again.json()[0]["id"] == asked.json()[0]["id"]
    bad = served.http.post("/api/v1/builds", headers=served.auth,
                           json={"profile": "laptop", "atoms": ["app-misc/no-such-thing"]})
    assert bad.status_code >= 400
    assert served.http.get("/binhost/laptop/Packages", headers=served.auth).status_code == 200

    after = scrape(served)
    builds = served.http.get("/api/v1/builds", headers=served.auth,
                             params={"state": ["queued", "running"], "limit": 10_000}).json()
    real = Counter((b["profile"], b["state"]) for b in builds)
    for (profile, state), count in real.items():
        assert value(after, "binfarm_queue_builds", profile=profile, state=state) == count
    assert sum(after["binfarm_queue_builds"].values()) == sum(real.values())
    assert value(after, "binfarm_queue_oldest_age_seconds", profile="laptop",
                 state="queued") >= 0
    for outcome, more in (("created", 1), ("merged", 1), ("rejected", 1)):
        assert value(after, "binfarm_build_requests_total", outcome=outcome) == \
            value(before, "binfarm_build_requests_total", outcome=outcome) + more, outcome
    assert value(after, "binfarm_binhost_requests_total", profile="laptop", kind="index") == \
        value(before, "binfarm_binhost_requests_total", profile="laptop", kind="index") + 1
    assert value(after, "binfarm_binhost_sent_bytes_total", profile="laptop") > \
        value(before, "binfarm_binhost_sent_bytes_total", profile="laptop")
    assert value(after, "binfarm_build_info", version=next(
        dict(k)["version"] for k in after["binfarm_build_info"])) == 1
    for name in ("binfarm_store_objects", "binfarm_store_size_bytes"):
        assert name in after
    assert value(after, "binfarm_distcc_slots", state="busy") == 0


def test_a_finished_build_is_counted_and_timed(served: Served) -> None:
    asked = served.http.post("/api/v1/builds", headers=served.auth,
                             json={"profile": "laptop", "atoms": ["app-misc/slowpoke"],
                                   "env": {"CFLAGS": "-O3 -march=x86-64-v2"}})
    assert asked.status_code == 201, asked.text
    before = scrape(served)
    while (leased := lease(served, "metrics-worker")) is not None:
        if leased["id"] == asked.json()[0]["id"]:
            break
        served.http.post(f"/api/v1/builds/{leased['id']}/finish", headers=served.auth,
                         json={"worker": "metrics-worker", "ok": False, "error": "not now"})
    assert leased is not None
    running = scrape(served)
    assert value(running, "binfarm_worker_slots", worker="metrics-worker", state="busy") == 1
    assert value(running, "binfarm_workers", state="busy") >= 1
    done = served.http.post(f"/api/v1/builds/{leased['id']}/finish", headers=served.auth,
                            json={"worker": "metrics-worker", "ok": False, "error": "no"})
    assert done.status_code == 200, done.text
    after = scrape(served)
    failed = value(after, "binfarm_builds_finished_total", profile="laptop", result="failure")
    assert failed >= value(before, "binfarm_builds_finished_total", profile="laptop",
                           result="failure") + 1
    assert value(after, "binfarm_build_duration_seconds_count", profile="laptop",
                 result="failure") >= 1
    assert value(after, "binfarm_queue_wait_seconds_count", profile="laptop") >= 1
