"""The dashboard's pages over HTTP: the login cookie, what each page says, cancel."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from binfarm.profiles.archive import find_make_profile, pack_tree
from binfarm.server.app import create_app
from binfarm.worker.machine import local_cpu_features
from tests.builders import copy_example_profile
from tests.integration.server.conftest import Served, lease
from tests.integration.server.test_metrics import scrape, value


def logged_in(served: Served, secret: str | None = None) -> TestClient:
    browser = TestClient(create_app(served.farm), base_url="http://farm.test",
                         raise_server_exceptions=False)
    done = browser.post("/login", data={"token": secret or served.token},
                        follow_redirects=False)
    assert done.status_code == 303, done.text
    cookie = done.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    return browser


def running(served: Served, worker: str, atom: str, cflags: str) -> int:
    """Ask for `atom` with `cflags` (a key of its own) and lease it to `worker`; the builds
    queued before it are ended on the way."""
    asked = served.http.post("/api/v1/builds", headers=served.auth,
                             json={"profile": "laptop", "atoms": [atom],
                                   "env": {"CFLAGS": cflags}})
    build_id = int(asked.json()[0]["id"])
    while (leased := lease(served, worker)) is not None and leased["id"] != build_id:
        served.http.post(f"/api/v1/builds/{leased['id']}/finish", headers=served.auth,
                         json={"worker": worker, "ok": False, "error": "skipped"})
    assert leased is not None
    return build_id


def token(served: Served, role: str, **extra: str) -> str:
    made = served.http.post("/api/v1/tokens", headers=served.auth,
                            json={"name": f"dash-{role}", "role": role, **extra})
    return made.json()["secret"]


def test_pages_need_a_login(served: Served) -> None:
    anonymous = TestClient(create_app(served.farm), raise_server_exceptions=False)
    for path in ("/", "/builds", "/builds/1"):
        page = anonymous.get(path, follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert "API token" in anonymous.get("/login").text
    wrong = anonymous.post("/login", data={"token": "nope"})
    assert wrong.status_code == 401 and "unknown or revoked token" in wrong.text
    client = anonymous.post("/login", data={"token": token(served, "client",
                                                           profile="laptop")})
    assert client.status_code == 401 and "cannot read the dashboard" in client.text


def test_overview_builds_and_a_build(served: Served) -> None:
    build_id = running(served, "dash-worker", "app-misc/wordcount", "-Os -march=x86-64-v2")
    served.http.post(f"/api/v1/builds/{build_id}/log", params={"worker": "dash-worker"},
                     content=b">>> Emerging (1 of 1) app-misc/wordcount-1.0\n<b>&x</b>\n",
                     headers={**served.auth, "Content-Type": "application/octet-stream"})
    served.http.post(f"/api/v1/builds/{build_id}/finish", headers=served.auth,
                     json={"worker": "dash-worker", "ok": False,
                           "error": "emerge exited with status 1: compile died\nmore"})
    browser = logged_in(served)
    overview = browser.get("/")
    assert overview.status_code == 200
    assert "Needs attention" in overview.text and "laptop" in overview.text
    assert "emerge exited with status 1: compile died" in overview.text
    assert f'href="/builds/{build_id}"' in overview.text
    listed = browser.get("/builds", params={"state": "failed", "profile": "laptop"})
    assert f">{build_id}<" in listed.text and "app-misc/wordcount-1.0" in listed.text
    by_name = browser.get("/builds", params={"package": "wordc", "format": "json"}).json()
    assert {row["b"]["cpv"] for row in by_name["rows"]} == {"app-misc/wordcount-1.0"}
    page = browser.get(f"/builds/{build_id}")
    assert page.status_code == 200
    assert "-Os -march=x86-64-v2" in page.text and "build root" in page.text
    assert "no earlier build of it" in page.text
    assert f'/builds/{build_id}/log.txt?offset=0">Emerging (1 of 1) app-misc/wordcount' \
        in page.text
    assert "&lt;b&gt;&amp;x&lt;/b&gt;" in page.text  # the log is escaped, never markup
    assert "<b>&x</b>" not in page.text
    raw = browser.get(f"/builds/{build_id}/log.txt")
    assert raw.text.endswith("<b>&x</b>\n") and int(raw.headers["x-log-offset"]) == len(
        raw.content)


def test_cancel_needs_an_admin_from_the_dashboard(served: Served) -> None:
    asked = served.http.post("/api/v1/builds", headers=served.auth,
                             json={"profile": "laptop", "atoms": ["app-misc/tool"],
                                   "env": {"CFLAGS": "-O1 -g -march=x86-64-v2"}})
    build_id = asked.json()[0]["id"]
    viewer = logged_in(served, token(served, "viewer"))
    assert "cancel</button>" not in viewer.get(f"/builds/{build_id}").text
    assert viewer.post(f"/builds/{build_id}/cancel",
                       headers={"Origin": "http://farm.test"}).status_code == 403
    admin = logged_in(served)
    assert "cancel</button>" in admin.get(f"/builds/{build_id}").text
    elsewhere = admin.post(f"/builds/{build_id}/cancel", headers={"Origin": "http://evil.test"})
    assert elsewhere.status_code == 403
    done = admin.post(f"/builds/{build_id}/cancel", headers={"Origin": "http://farm.test"},
                      follow_redirects=False)
    assert done.status_code == 303
    state = served.http.get(f"/api/v1/builds/{build_id}", headers=served.auth).json()["state"]
    assert state == "cancelled"


def events(browser: TestClient, path: str, **headers: str) -> list[tuple[str, str, str]]:
    """(event, id, data) of a stream that ends (its build has ended)."""
    out, event, ident, data = [], "message", "", []
    with browser.stream("GET", path, headers=headers) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if not line:
                if data:
                    out.append((event, ident, "\n".join(data)))
                event, data = "message", []
            elif line.startswith("event: "):
                event = line[7:]
            elif line.startswith("id: "):
                ident = line[4:]
            elif line.startswith("data: ") or line == "data:":
                data.append(line[6:])
    return out


def test_the_live_log_resumes_without_gap_or_repeat(served: Served) -> None:
    build_id = running(served, "log-worker", "app-misc/hello", "-O2 -g1 -march=x86-64-v2")
    lines = [f"line {i} \x1b[32;01m*\x1b[39;49;00m ok\n".encode() for i in range(50)]
    for chunk in (b"".join(lines[:20]), b"".join(lines[20:]) + b"no newline at the end"):
        served.http.post(f"/api/v1/builds/{build_id}/log", params={"worker": "log-worker"},
                         content=chunk,
                         headers={**served.auth, "Content-Type": "application/octet-stream"})
    served.http.post(f"/api/v1/builds/{build_id}/finish", headers=served.auth,
                     json={"worker": "log-worker", "ok": False, "error": "no"})
    browser = logged_in(served)
    anonymous = TestClient(create_app(served.farm), raise_server_exceptions=False)
    assert anonymous.get(f"/builds/{build_id}/log/stream").status_code == 401

    everything = events(browser, f"/builds/{build_id}/log/stream?from=0")
    assert everything[-1][0] == "done" and everything[-1][2] == "failed"
    whole = "".join(data + "\n" for kind, _, data in everything[:-1] if kind == "line")
    assert whole.count('<span class="fg-green bold">*</span>') == 50
    assert whole.rstrip("\n").endswith("no newline at the end")
    # A drop after the first event: the browser comes back with its Last-Event-ID.
    first = everything[0]
    resumed = events(browser, f"/builds/{build_id}/log/stream?from=0",
                     **{"Last-Event-ID": first[1]})
    rest = "".join(data + "\n" for kind, _, data in resumed[:-1] if kind == "line")
    assert first[2] + "\n" + rest == whole
    page = browser.get(f"/builds/{build_id}")
    assert page.text.count("line 49 ") == 1 and "data-stream" not in page.text


def test_workers_profiles_hosts_and_distcc_pages(served: Served) -> None:
    lease(served, "pages-worker")
    browser = logged_in(served)
    workers = browser.get("/workers").text
    assert "pages-worker" in workers and "heartbeat" in workers
    profiles = browser.get("/profiles").text
    assert "laptop" in profiles and "-march=x86-64-v2" in profiles
    assert "/binhost/laptop/Packages" in profiles
    assert "No machine has registered" in browser.get("/hosts").text
    assert "No distcc host" in browser.get("/distcc").text
    for path in ("/workers", "/profiles", "/hosts", "/distcc"):
        assert 'name="viewport"' in browser.get(path).text


def test_priority_and_queue_again(served: Served) -> None:
    asked = served.http.post("/api/v1/builds", headers=served.auth,
                             json={"profile": "laptop", "atoms": ["app-misc/fastcalc"],
                                   "env": {"CFLAGS": "-O1 -g2 -march=x86-64-v2"}})
    build_id = asked.json()[0]["id"]
    admin = logged_in(served)
    own = {"Origin": "http://farm.test"}
    assert admin.post(f"/builds/{build_id}/priority", data={"value": "7"},
                      headers=own).status_code == 200
    build = served.http.get(f"/api/v1/builds/{build_id}", headers=served.auth).json()
    assert build["priority"] == 7
    assert admin.post(f"/builds/{build_id}/requeue", headers=own).status_code == 409
    admin.post(f"/builds/{build_id}/cancel", headers=own)
    assert "queue again</button>" in admin.get(f"/builds/{build_id}").text
    before = value(scrape(served), "binfarm_build_requeues_total", profile="laptop")
    assert admin.post(f"/builds/{build_id}/requeue", headers=own).status_code == 200
    assert value(scrape(served), "binfarm_build_requeues_total", profile="laptop") == before + 1
    build = served.http.get(f"/api/v1/builds/{build_id}", headers=served.auth).json()
    assert (build["state"], build["error"]) == ("queued", None)
    # The same actions in the API (binfarm priority, binfarm requeue), for an admin only.
    client = {"Authorization": f"Bearer {token(served, 'client', profile='laptop')}"}
    path = f"/api/v1/builds/{build_id}"
    assert served.http.put(f"{path}/priority", json={"priority": 9},
                           headers=client).status_code == 403
    assert served.http.put(f"{path}/priority", json={"priority": 101},
                           headers=served.auth).status_code == 422
    moved = served.http.put(f"{path}/priority", json={"priority": -3}, headers=served.auth)
    assert moved.status_code == 200 and moved.json()["priority"] == -3
    served.http.post(f"{path}/cancel", headers=served.auth)
    assert served.http.post(f"{path}/requeue", headers=client).status_code == 403
    again = served.http.post(f"{path}/requeue", headers=served.auth)
    assert again.status_code == 200 and again.json()["state"] == "queued"


def test_the_fleet_plan_matrix(served: Served) -> None:
    browser = logged_in(served)
    page = browser.get("/plan")
    assert page.status_code == 200, page.text
    assert "distinct builds serve" in page.text
    assert "<th>laptop</th>" in page.text and "<th>desktop</th>" in page.text
    rows = browser.get("/plan", params={"format": "json"}).json()["sections"][0]["rows"]
    missing = next(row["package"] for row in rows if row["laptop"].startswith("missing"))
    assert "not asked for yet" in next(r for r in rows if r["package"] == missing)["laptop"]
    asked = served.http.post("/api/v1/builds", headers=served.auth,
                             json={"profile": "laptop", "atoms": [f"={missing}"]})
    build_id = asked.json()[0]["id"]
    why = served.http.get("/api/v1/builds", headers=served.auth,
                          params={"state": "queued"}).json()
    reason = next(b for b in why if b["id"] == build_id)["waiting"]
    rows = browser.get("/plan", params={"format": "json"}).json()["sections"][0]["rows"]
    cell = next(r for r in rows if r["package"] == missing)["laptop"]
    assert cell.startswith(f"queued (build {build_id}): {reason}"), cell
    assert "class=\"failed\"" in browser.get("/plan").text


def test_the_binhost_page(served: Served) -> None:
    page = logged_in(served).get("/binhost")
    assert page.status_code == 200, page.text
    assert "/binhost/laptop/testing/Packages" in page.text and "signing" in page.text


PAGES = ("/", "/builds", "/workers", "/profiles", "/plan", "/hosts", "/binhost", "/rollout",
         "/distcc")


def test_every_page_has_a_json_twin(served: Served) -> None:
    build_id = running(served, "twin-worker", "app-misc/hello", "-O2 -g3 -march=x86-64-v2")
    browser = logged_in(served)
    for path in (*PAGES, f"/builds/{build_id}"):
        html = browser.get(path)
        assert html.status_code == 200 and 'name="viewport"' in html.text, path
        twin = browser.get(path, headers={"Accept": "application/json"})
        assert twin.status_code == 200, (path, twin.text)
        assert twin.headers["content-type"] == "application/json", path
        assert browser.get(path, params={"format": "json"}).json().keys() == twin.json().keys()
    overview = browser.get("/", params={"format": "json"}).json()
    assert set(overview["workers"]) == {"busy", "idle", "offline", "benched"}
    assert overview["workers"]["busy"] >= 1
    assert set(overview["hosts"]) == {"current", "outdated", "silent", "unreported"}
    one = browser.get(f"/builds/{build_id}", params={"format": "json"}).json()
    assert one["b"]["id"] == build_id and one["b"]["worker"] == "twin-worker"
    assert "log" not in one and one["settings"]["CFLAGS"] == "-O2 -g3 -march=x86-64-v2"
    workers = browser.get("/workers", params={"format": "json"}).json()["sections"][0]
    assert any(row["worker"] == "twin-worker" and row["state"] == "busy"
               for row in workers["rows"])
    anonymous = TestClient(create_app(served.farm), raise_server_exceptions=False)
    assert anonymous.get("/", headers={"Accept": "application/json"}).status_code == 401


def test_a_benched_worker_says_why(served: Served) -> None:
    bench_after = served.farm.settings.queue.bench_after
    for n in range(bench_after):
        build_id = running(served, "bad-worker", "app-misc/hello", f"-O2 -g0 -DN={n}")
        served.http.post(f"/api/v1/builds/{build_id}/finish", headers=served.auth,
                         json={"worker": "bad-worker", "ok": False,
                               "error": f"emerge exited with status 1: oops {n}\ntrace"})
    browser = logged_in(served)
    why = (f"{bench_after} failures in a row, the last: build {build_id} "
           f"(app-misc/hello-1.0): emerge exited with status 1: oops {bench_after - 1}")
    rows = browser.get("/workers", params={"format": "json"}).json()["sections"][0]["rows"]
    bad = next(row for row in rows if row["worker"] == "bad-worker")
    assert bad["state"].startswith("benched until") and bad["why"] == why
    assert why in browser.get("/").text
    listed = served.http.get("/api/v1/workers", headers=served.auth).json()
    assert next(w for w in listed if w["name"] == "bad-worker")["bench_reason"] == why
    # The last one's page: the earlier builds of the same package, newest first.
    history = browser.get(f"/builds/{build_id}", params={"format": "json"}).json()["history"]
    assert len(history) >= bench_after - 1 and history[0]["id"] < build_id
    assert history[0]["state"] == "failed" and history[0]["worker"] == "bad-worker"


def test_hosts_current_and_out_of_date(served: Served, tmp_path: Path) -> None:
    farm = served.farm
    tree = copy_example_profile("laptop", tmp_path / "etc-portage")
    packed, ref = pack_tree(tree), find_make_profile(tree)
    for name in ("old-one", "new-one", "quiet-one"):
        farm.enrollment.register(name, packed, ref, arch="x86_64",
                                 cpu_features=local_cpu_features())
    farm.enrollment.report("old-one", "succeeded", ["app-misc/hello-0.9"], {})
    farm.enrollment.report("new-one", "succeeded", ["app-misc/hello-1.0"], {})
    farm.changes.bump()
    browser = logged_in(served)
    rows = {row["host"]: row for row in browser.get("/hosts", params={"format": "json"})
            .json()["sections"][0]["rows"]}
    assert rows["old-one"]["state"] == "outdated"
    assert rows["old-one"]["out of date"] == "app-misc/hello-0.9 -> app-misc/hello-1.0"
    assert (rows["new-one"]["state"], rows["new-one"]["out of date"]) == ("current", "-")
    assert rows["quiet-one"]["state"] == "unreported"
    overview = browser.get("/", params={"format": "json"}).json()
    assert overview["hosts"] == {"current": 1, "outdated": 1, "silent": 0, "unreported": 1}
    assert "hosts: 1 current, 1 out of date" in browser.get("/").text
    assert any(what == "host quiet-one (laptop)" for what, _ in overview["attention"])
    metrics = scrape(served)
    for state, count in overview["hosts"].items():
        assert value(metrics, "binfarm_hosts", state=state) == count, state
    rollout = browser.get("/rollout", params={"format": "json"}).json()["sections"][0]
    laptop = next(row for row in rollout["rows"] if row["profile"] == "laptop")
    assert laptop["hosts on stable"] == 3 and laptop["rule"] == "promoted as it lands"


def test_a_binhost_that_cannot_be_published_needs_attention(served: Served) -> None:
    browser = logged_in(served)
    assert served.http.post("/api/v1/publish", headers=served.auth).status_code == 200
    blocker = served.farm.publisher.tree.channel_dir("desktop", "testing")
    moved = blocker.with_name("testing.moved")
    blocker.rename(moved)
    blocker.write_text("an admin's file where the testing channel is published\n")
    try:
        assert served.http.post("/api/v1/publish", headers=served.auth).status_code == 500
        attention = dict(browser.get("/", params={"format": "json"}).json()["attention"])
        assert "Not a directory" in attention["published binhost"]
        assert "published binhost" in browser.get("/").text
    finally:
        blocker.unlink()
        moved.rename(blocker)
    assert served.http.post("/api/v1/publish", headers=served.auth).status_code == 200
    attention = dict(browser.get("/", params={"format": "json"}).json()["attention"])
    assert "published binhost" not in attention


def test_a_failure_built_again_needs_no_attention(served: Served) -> None:
    cflags = "-O2 -g0 -fno-plt -march=x86-64-v2"
    build_id = running(served, "mend-worker", "app-misc/tool", cflags)
    served.http.post(f"/api/v1/builds/{build_id}/finish", headers=served.auth,
                     json={"worker": "mend-worker", "ok": False, "error": "flaky mirror"})
    browser = logged_in(served)

    def failed_ids() -> set[int]:
        overview = browser.get("/", params={"format": "json"}).json()
        return {b["id"] for b in overview["failed"]}

    assert build_id in failed_ids()
    again = served.http.post("/api/v1/builds", headers=served.auth,
                             json={"profile": "laptop", "atoms": ["app-misc/tool"],
                                   "env": {"CFLAGS": cflags}}).json()[0]
    assert again["id"] != build_id and again["state"] == "queued"
    assert build_id not in failed_ids()
