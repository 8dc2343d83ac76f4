"""The dashboard's pages over HTTP: the login cookie, what each page says, cancel."""

from __future__ import annotations

from fastapi.testclient import TestClient

from binfarm.server.app import create_app
from tests.integration.server.conftest import Served, lease


def logged_in(served: Served, secret: str | None = None) -> TestClient:
    browser = TestClient(create_app(served.farm), base_url="http://farm.test",
                         raise_server_exceptions=False)
    done = browser.post("/login", data={"token": secret or served.token},
                        follow_redirects=False)
    assert done.status_code == 303, done.text
    cookie = done.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    return browser


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
    asked = served.http.post("/api/v1/builds", headers=served.auth,
                             json={"profile": "laptop", "atoms": ["app-misc/wordcount"],
                                   "env": {"CFLAGS": "-Os -march=x86-64-v2"}})
    build_id = asked.json()[0]["id"]
    while (leased := lease(served, "dash-worker")) is not None and leased["id"] != build_id:
        served.http.post(f"/api/v1/builds/{leased['id']}/finish", headers=served.auth,
                         json={"worker": "dash-worker", "ok": False, "error": "skipped"})
    assert leased is not None
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
    page = browser.get(f"/builds/{build_id}")
    assert page.status_code == 200
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
