"""The review's rough edges (F18-F25) against the real app: clean 4xx, bounded work,
requesters who are who their token says, names that are whole and printable."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from binfarm.client.binrepos import write_binrepos
from binfarm.profiles.archive import find_make_profile, pack_tree
from tests.builders import copy_example_profile
from tests.integration.server.conftest import Served


def _client(served: Served, name: str, profile: str = "laptop") -> dict[str, str]:
    response = served.http.post("/api/v1/tokens", headers=served.auth,
                                json={"name": name, "role": "client", "profile": profile})
    return {"Authorization": f"Bearer {response.json()['secret']}"}


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/api/v1/builds", {"profile": "laptop", "atoms": [""]}),
    ("POST", "/api/v1/builds", {"profile": "laptop", "atoms": ["app-misc/hello extra"]}),
    ("PUT", "/api/v1/profiles/desktop/world", {"atoms": [""]}),
    ("POST", "/api/v1/builds", {"profile": "laptop", "atoms": ["app-misc/wordcount"],
                                "env": {"CFLAGS": '-O2 "'}}),
])
def test_f20_bad_input_is_a_clean_4xx(served: Served, method: str, path: str,
                                      body: dict) -> None:
    response = served.http.request(method, path, json=body, headers=served.auth)
    assert response.status_code in (400, 422), response.text
    assert response.json()["kind"] == "invalid_input"


def test_f24_names_are_whole_and_printable(served: Served, tmp_path: Path) -> None:
    tree = copy_example_profile("laptop", tmp_path / "t")
    response = served.http.put("/api/v1/profiles/laptop%0A", content=pack_tree(tree),
                               headers=served.auth,
                               params={"make_profile": str(find_make_profile(tree))})
    assert response.status_code == 400 and "invalid profile name" in response.json()["error"]
    response = served.http.post("/api/v1/tokens", headers=served.auth,
                                json={"name": "evil\x1b[31m", "role": "viewer"})
    assert response.status_code == 400 and "printable" in response.json()["error"]


def test_f19_requesters_priorities_and_cancels_belong_to_the_token(served: Served) -> None:
    http, admin = served.http, served.auth
    mine = _client(served, "lap-a")
    [build] = http.post("/api/v1/builds", headers=mine, json={
        "profile": "laptop", "atoms": ["slowpoke"], "requester": "admin",
        "priority": 100}).json()
    assert build["requester"] == "lap-a" and build["priority"] == 10
    [same] = http.post("/api/v1/builds", headers=admin,
                       json={"profile": "laptop", "atoms": ["slowpoke"]}).json()
    assert same["id"] == build["id"] and same["requesters"] == 2
    other = _client(served, "lap-b")
    assert http.post(f"/api/v1/builds/{build['id']}/cancel", headers=other).status_code == 404
    withdrawn = http.post(f"/api/v1/builds/{build['id']}/cancel", headers=mine)
    assert withdrawn.status_code == 200 and withdrawn.json()["state"] == "queued"  # admin's
    cancelled = http.post(f"/api/v1/builds/{build['id']}/cancel", headers=admin)
    assert cancelled.json()["state"] == "cancelled"


def test_f18_explain_takes_a_bounded_number_of_profiles(served: Served) -> None:
    response = served.http.get("/api/v1/explain", headers=served.auth,
                               params={"atom": "hello", "profile": ["laptop"] * 9})
    assert response.status_code == 422


def test_f25_a_repository_can_be_removed_and_a_broken_one_blocks_nothing(
        served: Served, tmp_path: Path) -> None:
    http, auth = served.http, served.auth
    repo = tmp_path / "extra"
    (repo / "profiles").mkdir(parents=True)
    (repo / "profiles" / "repo_name").write_text("extra\n")
    (repo / "metadata").mkdir()
    (repo / "metadata" / "layout.conf").write_text("masters = \nthin-manifests = true\n")
    assert http.post("/api/v1/repositories", headers=auth,
                     json={"name": "extra", "location": str(repo)}).status_code == 201
    (repo / "profiles" / "repo_name").unlink()  # broken on disk
    tree = copy_example_profile("laptop", tmp_path / "t")
    added = http.put("/api/v1/profiles/after-breakage", content=pack_tree(tree), headers=auth,
                     params={"make_profile": str(find_make_profile(tree))})
    assert added.status_code == 201, added.text
    assert http.delete("/api/v1/repositories/binfarm-example", headers=auth).status_code == 409
    assert http.delete("/api/v1/repositories/extra", headers=auth).status_code == 200
    names = {r["name"] for r in http.get("/api/v1/repositories", headers=auth).json()}
    assert "extra" not in names


def test_f23_a_binrepos_conf_that_existed_becomes_owner_only(tmp_path: Path) -> None:
    existing = tmp_path / "binrepos.conf"
    existing.write_text("[other]\nsync-uri = https://example.invalid/\n")
    existing.chmod(0o644)
    written = write_binrepos(tmp_path, "http://h:bf_secret@127.0.0.1:1/binhost/laptop")
    assert written == existing and stat.S_IMODE(existing.stat().st_mode) == 0o600
    assert "[other]" in existing.read_text() and "bf_secret" in existing.read_text()


def test_f19_a_hosts_requests_are_in_its_own_name(served: Served, tmp_path: Path) -> None:
    from binfarm.worker.machine import local_cpu_features

    tree = copy_example_profile("laptop", tmp_path / "host")
    registered = served.http.post(
        "/api/v1/hosts/web7", content=pack_tree(tree), headers=served.auth,
        params={"arch": "x86_64", "cpu_features": " ".join(sorted(local_cpu_features())),
                "make_profile": str(find_make_profile(tree)), "base": "laptop"}).json()
    host = {"Authorization": f"Bearer {registered['token']}"}
    [build] = served.http.post("/api/v1/builds", headers=host, json={
        "profile": registered["host"]["profile"], "atoms": ["tool"],
        "requester": "somebody-else"}).json()
    assert build["requester"] == "web7"


def test_f18_a_host_report_takes_a_bounded_package_list(served: Served) -> None:
    response = served.http.post("/api/v1/hosts/nobody/report", headers=served.auth, json={
        "result": "succeeded", "installed": [f"app-misc/p{i}-1.0" for i in range(20_001)]})
    assert response.status_code == 422 and response.json()["kind"] == "invalid_input"


def test_a_profile_naming_an_unknown_repository_says_how_to_add_it(served: Served,
                                                                    tmp_path: Path) -> None:
    extra = tmp_path / "overlay"
    (extra / "profiles").mkdir(parents=True)
    (extra / "profiles" / "repo_name").write_text("overlay\n")
    tree = copy_example_profile("laptop", tmp_path / "t")
    (tree / "repos.conf" / "overlay.conf").write_text(f"[overlay]\nlocation = {extra}\n")
    response = served.http.put("/api/v1/profiles/with-overlay", content=pack_tree(tree),
                               headers=served.auth,
                               params={"make_profile": str(find_make_profile(tree))})
    assert response.status_code == 400
    error = response.json()["error"]
    assert "repos.conf names 'overlay', which this farm does not have" in error
    assert f"binfarm repo add overlay {extra}  (repos.conf puts it there" in error
