"""The security review's attacks (F1-F13, F16, F26) against the real app and Farm: each now
fails for the attacker with a clear error, and nothing is stored, served or run."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from binfarm.profiles.archive import find_make_profile, pack_tree
from binfarm.tokens import Role
from binfarm.worker.machine import local_cpu_features
from tests.builders import copy_example_profile
from tests.integration.server.conftest import Served, lease, upload


def _token(served: Served, role: str, profile: str | None = None, name: str = "") -> str:
    body = {"name": name or f"{role}-{profile or 'all'}", "role": role, "profile": profile}
    response = served.http.post("/api/v1/tokens", json=body, headers=served.auth)
    assert response.status_code == 201, response.text
    return response.json()["secret"]


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _builds(served: Served) -> int:
    return len(served.http.get("/api/v1/builds", headers=served.auth).json())


@pytest.mark.parametrize("env", [
    {"MAKEOPTS": "--eval=pwn:;id>/tmp/pwned;cp$${IFS}admin.token$${IFS}/tmp/stolen||true"},
    {"CFLAGS": "-O2 -wrapper /bin/sh,-c,id>/tmp/pwned"},
    {"FEATURES": "ccache"},
])
def test_f1_a_client_override_cannot_run_code(served: Served, env: dict[str, str]) -> None:
    client = _token(served, "client", "laptop", name=f"f1-{sorted(env)[0]}")
    before = _builds(served)
    response = served.http.post("/api/v1/builds", headers=_bearer(client),
                                json={"profile": "laptop", "atoms": ["hello"], "env": env})
    assert response.status_code == 400 and response.json()["kind"] == "invalid_input"
    assert sorted(env)[0] in response.json()["error"]
    assert _builds(served) == before


def test_f2_f13_overrides_are_keyed_and_the_cpu_need_is_per_variable(served: Served) -> None:
    client = _token(served, "client", "laptop", name="f2")
    ask = lambda env: served.http.post(  # noqa: E731
        "/api/v1/builds", headers=_bearer(client),
        json={"profile": "laptop", "atoms": ["wordcount"], "env": env})
    plain, jobs = ask({}).json()[0], ask({"MAKEOPTS": "-j3"}).json()[0]
    assert jobs["id"] == plain["id"]  # -jN changes nothing in the binary: one build
    fortran = ask({"FCFLAGS": "-O3"}).json()[0]
    assert fortran["id"] != plain["id"] and fortran["key"] != plain["key"]
    # F13: laptop's CXXFLAGS say x86-64-v2; a v4 CFLAGS must still be seen.
    refused = ask({"CFLAGS": "-O2 -pipe -march=x86-64-v4"})
    assert refused.status_code == 400 and "avx512f" in refused.json()["error"]


def _host(served: Served, name: str, tree: Path, base: str = "laptop") -> tuple[dict, str]:
    ref = find_make_profile(tree)
    response = served.http.post(
        f"/api/v1/hosts/{name}", content=pack_tree(tree), headers=served.auth,
        params={"arch": "x86_64", "cpu_features": " ".join(sorted(local_cpu_features())),
                "make_profile": str(ref), "base": base})
    assert response.status_code == 201, response.text
    return response.json()["host"], response.json()["token"]


def _send_config(served: Served, name: str, secret: str, tree: Path) -> TestClient:
    return served.http.put(f"/api/v1/hosts/{name}/config", content=pack_tree(tree),
                           headers=_bearer(secret),
                           params={"make_profile": str(find_make_profile(tree))})


def test_f4_f5_f8_a_host_cannot_bring_code_repositories_or_sourcing(served: Served,
                                                                     tmp_path: Path) -> None:
    tree = copy_example_profile("laptop", tmp_path / "mine")
    (tree / "package.use" / "local").write_text("app-misc/hello debug\n")
    host, secret = _host(served, "evilhost", tree)
    assert host["profile"] == "host-evilhost"
    profiles_before = {p["name"] for p in served.http.get("/api/v1/profiles",
                                                         headers=served.auth).json()}
    attacks = {
        "repos.conf/evil.conf": ("[evilrepo]\nlocation = /srv/evil\n", "evilrepo is not a "
                                 "repository of this farm"),
        "bashrc": ("sed -i s/tool/BACKDOOR/ \"${S}\"/*.c\n", "bashrc: a host may not add"),
        "env/run-tests.conf": ('FEATURES="test"\nid > /tmp/pwned\n', "env/run-tests.conf: a "
                               "host may not add or change"),
        "make.conf/05evil": ("source /etc/shadow\n", "`source` is not allowed"),
        "make.conf/06evil": ('PORTAGE_ELOG_COMMAND="id > /tmp/x"\n', "PORTAGE_ELOG_COMMAND "
                             "may not be set by a host"),
        "make.conf/07evil": ('L10N="$(id)"\n', "L10N: '$(id)' is not a valid entry"),
        "package.env/evil": ("app-misc/tool ../make.conf/01master\n", "is not a file in env/"),
        "sets.conf": ("[x]\nclass = os.system\n", "sets.conf: a host's configuration may hold"),
    }
    for path, (content, message) in attacks.items():
        attempt = tmp_path / f"attempt-{path.replace('/', '-')}"
        copy = copy_example_profile("laptop", attempt)
        (copy / "package.use" / "local").write_text("app-misc/hello debug\n")
        (copy / path).parent.mkdir(parents=True, exist_ok=True)
        (copy / path).write_text(content)
        response = _send_config(served, "evilhost", secret, copy)
        assert response.status_code == 400, (path, response.text)
        assert message in response.json()["error"], (path, response.json()["error"])
        assert "daemon:" not in response.text and "root:" not in response.text
    after = {p["name"] for p in served.http.get("/api/v1/profiles", headers=served.auth).json()}
    assert after == profiles_before
    kept = served.farm.profiles.get("host-evilhost").tree
    assert not (kept / "bashrc").exists() and not (kept / "repos.conf" / "evil.conf").exists()


def test_f7_a_host_never_moves_itself_into_another_profile(served: Served,
                                                          tmp_path: Path) -> None:
    tree = copy_example_profile("laptop", tmp_path / "mine")
    (tree / "package.use" / "local").write_text("app-misc/tool -ssl\n")
    _host_out, secret = _host(served, "mover", tree)
    desktop = copy_example_profile("desktop", tmp_path / "desktop")
    response = _send_config(served, "mover", secret, desktop)
    # desktop's tree holds package.use/hello, not a hook: the host keeps its own profile.
    assert response.status_code == 200, response.text
    assert response.json()["profile"] == "host-mover"
    refused = served.http.post("/api/v1/builds", headers=_bearer(secret),
                               json={"profile": "desktop", "atoms": ["hello"]})
    assert refused.status_code == 403
    moved = served.http.put("/api/v1/hosts/mover/profile", json={"profile": "desktop"},
                            headers=_bearer(secret))
    assert moved.status_code == 403
    moved = served.http.put("/api/v1/hosts/mover/profile", json={"profile": "desktop"},
                            headers=served.auth)
    assert moved.status_code == 200 and moved.json()["profile"] == "desktop"


def test_f26_an_enrollment_token_registers_one_machine_for_its_profile(served: Served,
                                                                      tmp_path: Path) -> None:
    enroll = _token(served, "enroll", "laptop", name="enroll-laptop")
    tree = copy_example_profile("desktop", tmp_path / "desktop-shaped")
    params = {"arch": "x86_64", "cpu_features": " ".join(sorted(local_cpu_features())),
              "make_profile": str(find_make_profile(tree))}
    wrong = served.http.post("/api/v1/hosts/newbox", content=pack_tree(tree),
                             headers=_bearer(enroll), params={**params, "base": "desktop"})
    assert wrong.status_code == 400 and "for profile 'laptop', not 'desktop'" in wrong.text
    (tree / "bashrc").write_text("id > /tmp/pwned\n")
    first = served.http.post("/api/v1/hosts/newbox", content=pack_tree(tree),
                             headers=_bearer(enroll), params=params)
    assert first.status_code == 400 and "bashrc: a host may not add" in first.json()["error"]
    (tree / "bashrc").unlink()  # refused: the token is not used up
    second = served.http.post("/api/v1/hosts/newbox", content=pack_tree(tree),
                              headers=_bearer(enroll), params=params)
    # Identical to desktop, but a token enrolling for laptop never joins desktop.
    assert second.status_code == 201, second.text
    assert second.json()["host"]["profile"] == "host-newbox"
    assert served.farm.profiles.get("host-newbox").base == "laptop"
    again = served.http.post("/api/v1/hosts/otherbox", content=pack_tree(tree),
                             headers=_bearer(enroll), params=params)
    assert again.status_code == 401  # used up


def test_f10_reads_need_a_token_and_a_client_sees_its_own_profile(served: Served) -> None:
    http = served.http
    for path in ("/api/v1/builds", "/api/v1/builds/1", "/api/v1/builds/1/log",
                 "/api/v1/profiles", "/api/v1/profiles/laptop/tree", "/api/v1/hosts",
                 "/api/v1/workers", "/api/v1/repositories", "/api/v1/roots",
                 "/api/v1/explain?atom=hello&profile=laptop", "/api/v1/instances/00000000"):
        assert http.get(path).status_code == 401, path
    client = _token(served, "client", "laptop", name="f10")
    assert http.get("/api/v1/profiles/desktop/tree", headers=_bearer(client)).status_code == 403
    assert http.get("/api/v1/profiles/laptop/tree", headers=_bearer(client)).status_code == 200
    assert {p["name"] for p in http.get("/api/v1/profiles", headers=_bearer(client)).json()} \
        == {"laptop"}
    assert http.get("/api/v1/explain", params={"atom": "hello", "profile": "desktop"},
                    headers=_bearer(client)).status_code == 403
    viewer = _token(served, "viewer", name="f10-viewer")
    assert http.get("/api/v1/profiles/desktop/tree", headers=_bearer(viewer)).status_code == 200
    assert http.get("/api/v1/tokens", headers=_bearer(viewer)).status_code == 403
    binhost = _token(served, "binhost", "laptop", name="f10-binhost")
    assert http.get("/api/v1/builds", headers=_bearer(binhost)).status_code == 403
    assert http.get("/binhost/desktop/Packages", auth=("x", binhost)).status_code == 403
    assert http.get("/binhost/laptop/Packages", auth=("x", binhost)).status_code == 200


def test_f11_a_worker_token_acts_only_as_the_worker_it_registered(served: Served) -> None:
    http = served.http
    one, two = _token(served, "worker", name="wtok-a"), _token(served, "worker", name="wtok-b")
    body = {"arch": "x86_64", "cpu_features": sorted(local_cpu_features())}
    assert http.post("/api/v1/worker/register", json={**body, "name": "wA"},
                     headers=_bearer(one)).status_code == 200
    for call in (
        lambda: http.post("/api/v1/worker/register", json={**body, "name": "wA", "slots": 64},
                          headers=_bearer(two)),
        lambda: http.post("/api/v1/worker/lease", json={"worker": "wA"}, headers=_bearer(two)),
        lambda: http.post("/api/v1/builds/1/heartbeat", json={"worker": "wA"},
                          headers=_bearer(two)),
        lambda: http.post("/api/v1/builds/1/log", params={"worker": "wA"}, content=b"x",
                          headers=_bearer(two)),
        lambda: http.post("/api/v1/builds/1/finish", json={"worker": "wA", "ok": True},
                          headers=_bearer(two)),
        lambda: http.post("/api/v1/worker/register", json={**body, "name": "wB"},
                          headers=_bearer(one)),
    ):
        response = call()
        assert response.status_code == 403, response.text
    assert served.farm.workers.get("wA").slots == 1


def test_f12_an_upload_is_bound_to_its_build_and_never_displaces(
        served: Served, laptop_packages: dict[str, Path]) -> None:
    http, auth = served.http, served.auth
    [build] = http.post("/api/v1/builds", json={"profile": "laptop", "atoms": ["wordcount"]},
                        headers=auth).json()
    assert lease(served, "w-f12")["id"] == build["id"]
    status, body = upload(served, build["id"], "w-f12", laptop_packages["hello"])
    assert status == 400 and "neither builds nor depends on" in body["error"]
    status, body = upload(served, build["id"], "w-f12", laptop_packages["wordcount"])
    assert status == 201, body
    # Not published while the build runs, nor after it failed.
    assert "app-misc/wordcount" not in http.get("/binhost/laptop/Packages").text
    http.post(f"/api/v1/builds/{build['id']}/finish", headers=auth,
              json={"worker": "w-f12", "ok": False, "error": "broken"})
    assert "app-misc/wordcount" not in http.get("/binhost/laptop/Packages").text
    assert served.farm.catalog.by_key(build["key"]) is None
    # Past its lease, a build takes no upload even before the sweep runs.
    [again] = http.post("/api/v1/builds", json={"profile": "laptop", "atoms": ["wordcount"]},
                        headers=auth).json()
    served.clock.now += 1
    assert lease(served, "w-f12b")["id"] == again["id"]
    served.clock.now += served.farm.settings.queue.lease_ttl_s + 1
    status, body = upload(served, again["id"], "w-f12b", laptop_packages["wordcount"])
    assert status == 409 and "expired" in body["error"]


def test_f6_f25_the_mirror_serves_only_regular_files(served: Served, tmp_path: Path) -> None:
    distdir = served.farm.distdir
    (distdir / "host-shadow").symlink_to("/etc/shadow")
    (distdir / "host-token").symlink_to(served.farm.data_dir / "admin.token")
    os.mkfifo(distdir / "a-fifo")
    for name in ("host-shadow", "host-token", "a-fifo"):
        assert served.http.get(f"/mirror/distfiles/{name}").status_code == 404
    (distdir / "real-1.0.tar.gz").write_bytes(b"tarball")
    assert served.http.get("/mirror/distfiles/real-1.0.tar.gz").content == b"tarball"
    response = served.http.post("/api/v1/repositories", headers=served.auth, json={
        "name": "redteam", "location": str(tmp_path), "distfiles": "/etc"})
    assert response.status_code == 400
    repo = tmp_path / "redteam"
    (repo / "profiles").mkdir(parents=True)
    (repo / "profiles" / "repo_name").write_text("redteam\n")
    response = served.http.post("/api/v1/repositories", headers=served.auth, json={
        "name": "redteam", "location": str(repo), "distfiles": "/etc"})
    assert response.status_code == 400 and "not a regular file" in response.json()["error"]


def test_f3_f21_secrets_at_rest_are_owner_only(served: Served) -> None:
    data = served.farm.data_dir
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "binfarm.sqlite").stat().st_mode) == 0o600
    secret = served.farm.embedded_worker_token("embedded")
    assert served.farm.tokens.verify(secret).role == "worker"
    assert secret != served.token
    assert served.farm.embedded_worker_token("embedded") == secret  # kept between starts


def _image_tar(members: list[tarfile.TarInfo]) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for member in members:
            tar.addfile(member, io.BytesIO(b"x" * member.size) if member.isreg() else None)
    buffer.seek(0)
    return buffer


@pytest.mark.parametrize(("member", "why"), [
    ("image/../../../../tmp/x", "outside it"),
    ("/tmp/y", "outside it"),
    ("image/dev-sda", "device"),
    ("image/usr/bin/rootshell", "setuid"),
])
def test_f12_an_image_with_traversal_devices_or_setuid_is_refused(member: str,
                                                                  why: str) -> None:
    from binfarm.gentoo import helper

    info = tarfile.TarInfo(member)
    info.size = 1
    if why == "device":
        info.type, info.size = tarfile.BLKTYPE, 0
    if why == "setuid":
        info.mode = 0o4755
    good = tarfile.TarInfo("image/usr/bin/hello")
    good.size = 1
    with tarfile.open(fileobj=_image_tar([good, info]), mode="r") as tar, \
            pytest.raises(helper._Refused, match=why):
        helper._check_image(iter(tar.getmembers()), setuid_ok=False)
    with tarfile.open(fileobj=_image_tar([good]), mode="r") as tar:
        helper._check_image(iter(tar.getmembers()), setuid_ok=False)


def test_f8_portage_complaints_never_quote_a_sourced_file(served: Served,
                                                          tmp_path: Path) -> None:
    tree = copy_example_profile("laptop", tmp_path / "sourcing")
    (tree / "make.conf" / "05evil").write_text("source /etc/shadow\n")
    response = served.http.put("/api/v1/profiles/sourcing", content=pack_tree(tree),
                               headers=served.auth,
                               params={"make_profile": str(find_make_profile(tree))})
    assert response.status_code == 400, response.text
    shadow = Path("/etc/shadow").read_text()
    assert "(not shown)" in response.json()["error"]
    assert not any(line and line in response.text for line in shadow.splitlines())


def test_f5_a_profile_with_a_bashrc_never_shares_a_key_with_one_without(
        served: Served, tmp_path: Path) -> None:
    tree = copy_example_profile("laptop", tmp_path / "hooked")
    (tree / "bashrc").write_text("# an admin's hook\n")
    response = served.http.put("/api/v1/profiles/hooked", content=pack_tree(tree),
                               headers=served.auth, params={
                                   "make_profile": str(find_make_profile(tree)),
                                   "cpu": "x86-64-v2"})
    assert response.status_code == 201, response.text
    explained = served.http.get("/api/v1/explain", headers=served.auth, params={
        "atom": "hello", "profile": ["laptop", "hooked"]}).json()
    laptop, hooked = explained
    assert laptop["key"] != hooked["key"]
    # laptop has hooks too (env/, package.env): the two digests differ by the bashrc.
    assert hooked["key_inputs"]["hooks"] != laptop["key_inputs"]["hooks"]


def test_webhook_urls_are_logged_without_credentials() -> None:
    from binfarm.server.webhooks import redact_url

    assert redact_url("http://hookuser:topsecret@127.0.0.1:18992/hook?key=apikey123") == \
        "http://127.0.0.1:18992/hook"
    assert redact_url("https://[::1]:99999/x") == "https://[::1]/x"


def test_f10_with_binhost_auth_required_the_mirror_needs_credentials(tmp_path: Path) -> None:
    from binfarm.farm import Farm
    from binfarm.server.app import create_app
    from binfarm.settings import ServerSettings, Settings

    farm = Farm(Settings(data_dir=tmp_path / "var",
                         server=ServerSettings(binhost_auth="required")))
    admin = farm.ensure_admin_token().read_text().strip()
    (farm.distdir / "x-1.tar.gz").write_bytes(b"x")
    secret = farm.tokens.create("w", Role.WORKER)[1]
    with TestClient(create_app(farm)) as http:
        denied = http.get("/mirror/distfiles/x-1.tar.gz")
        assert denied.status_code == 401
        assert denied.headers["www-authenticate"].startswith("Basic")
        assert http.get("/mirror/distfiles/x-1.tar.gz", auth=("u", secret)).content == b"x"
        assert http.get("/api/v1/profiles", headers=_bearer(admin)).status_code == 200
