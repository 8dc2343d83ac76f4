"""The HTTP API over a real Farm: auth, error shape, the worker protocol, uploads."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.builders import gpkg_members, index_entry
from tests.integration.server.conftest import Served, lease, upload

OPERATION_IDS = {
    "health", "list_repositories", "list_profiles", "get_profile", "add_profile",
    "get_profile_tree", "request_builds", "list_builds", "get_build", "get_build_log",
    "lease_build", "append_build_log", "upload_package", "finish_build",
    "get_packages_index", "get_packages_index_gz", "get_package_file", "get_mirror_layout",
    "get_testing_packages_index", "get_testing_packages_index_gz", "get_testing_package_file",
    "get_distfile", "set_profile_cpu", "explain", "get_instance", "register_worker",
    "list_workers", "heartbeat", "cancel_build", "requeue_build", "set_priority",
    "create_token", "list_tokens", "revoke_token",
    "register_host", "update_host_config", "report_host", "get_shared_layer", "list_hosts",
    "set_profile_world", "add_repository", "plan", "list_roots", "get_root", "set_root",
    "delete_root", "update_root", "get_root_archive", "report_root_copy",
    "binhost_credential", "move_host", "remove_repository", "get_public_keys",
    "list_signing_keys", "rotate_signing_key", "import_signing_key", "retire_signing_key",
    "get_rollout_rule", "set_rollout_rule", "promote", "withdraw", "rollback",
    "rollout_history", "set_host_channel", "report_canary", "collect_garbage", "list_pins",
    "pin", "unpin", "store_usage", "publish", "nginx_config", "check_binhost_access",
    "add_distcc_host", "list_distcc_hosts", "show_distcc_host", "drain_distcc_host",
    "remove_distcc_host", "probe_distcc_hosts", "distcc_activity", "lease_distcc_slots",
    "metrics",
}


def test_openapi_schema_and_stable_operation_ids(served: Served) -> None:
    schema = served.http.get("/openapi.json").json()
    ids = {op["operationId"] for path in schema["paths"].values() for op in path.values()}
    assert ids == OPERATION_IDS
    assert schema["info"]["title"] == "binfarm"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "kind"),
    [
        ("GET", "/api/v1/profiles/nope", None, 404, "not_found"),
        ("GET", "/api/v1/builds/424242", None, 404, "not_found"),
        ("GET", "/api/v1/builds/notanumber", None, 422, "invalid_input"),
        ("POST", "/api/v1/builds", {"profile": "laptop"}, 422, "invalid_input"),
        ("POST", "/api/v1/builds", {"profile": "laptop", "atoms": ["=bad"]}, 400,
         "invalid_input"),
        ("POST", "/api/v1/builds", {"profile": "nope", "atoms": ["hello"]}, 404, "not_found"),
        ("PUT", "/api/v1/profiles/laptop", b"not a tarball", 409, "conflict"),
        ("PUT", "/api/v1/profiles/new-one", b"not a tarball", 400, "invalid_input"),
        ("PUT", "/api/v1/profiles/Bad%20Name", b"", 400, "invalid_input"),
        ("GET", "/binhost/nope/Packages", None, 404, "not_found"),
        ("GET", "/binhost/laptop/app-misc/hello/x/hello-1.0-1.gpkg.tar", None, 404, "not_found"),
        ("GET", "/mirror/distfiles/..%2Fadmin.token", None, 404, "not_found"),
        ("GET", "/nowhere", None, 404, "not_found"),
        # Found by the fuzz test: a path too long for the filesystem was a 500.
        ("POST", "/api/v1/repositories", {"name": "x", "location": "/" + "a" * 300}, 400,
         "invalid_input"),
        ("PUT", "/api/v1/profiles/nope/root", b"", 404, "not_found"),
        ("PUT", "/api/v1/profiles/laptop/root", b"not a tar", 400, "invalid_input"),
        ("GET", "/api/v1/profiles/laptop/root", None, 404, "not_found"),
        ("POST", "/api/v1/profiles/laptop/root/update", None, 404, "not_found"),
    ],
)
def test_every_error_has_one_shape(served: Served, method: str, path: str,
                                   body: object, status: int, kind: str) -> None:
    kwargs = {"json": body} if isinstance(body, dict) else {"content": body}
    response = served.http.request(method, path, headers=served.auth, **kwargs)
    assert response.status_code == status, response.text
    assert response.json() == {"ok": False, "kind": kind, "error": response.json()["error"],
                                "status": status}
    assert response.json()["error"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/builds", {"profile": "laptop", "atoms": ["hello"]}),
        ("PUT", "/api/v1/profiles/other", None),
        ("POST", "/api/v1/worker/lease", {"worker": "w"}),
        ("POST", "/api/v1/builds/1/finish", {"worker": "w", "ok": True}),
    ],
)
@pytest.mark.parametrize("token", [None, "bf_wrong"])
def test_mutating_calls_need_a_valid_token(served: Served, method: str, path: str,
                                           body: dict | None, token: str | None) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = served.http.request(method, path, json=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["kind"] == "denied"
    assert response.headers["www-authenticate"] == "Bearer"


def test_the_worker_protocol_checks_every_upload(served: Served, tmp_path: Path,
                                                 laptop_packages: dict[str, Path]) -> None:
    http, auth = served.http, served.auth
    [build] = http.post("/api/v1/builds", json={"profile": "laptop", "atoms": ["hello"]},
                        headers=auth).json()
    assert build["cpv"] == "app-misc/hello-1.0" and build["state"] == "queued"
    assert lease(served, "w1")["id"] == build["id"]
    assert lease(served, "w2") is None

    junk = tmp_path / "hello-1.0-1.gpkg.tar"
    junk.write_bytes(b"GPKG? no." * 100)
    status, body = upload(served, build["id"], "w1", junk)
    assert (status, body["kind"]) == (400, "invalid_input"), body
    assert "not a binary package" in body["error"]
    status, body = upload(served, build["id"], "w1", laptop_packages["wordcount"],
                          filename="hello-1.0-1.gpkg.tar")
    assert status == 400
    assert "holds app-misc/wordcount-1.0, not what its name says" in body["error"]
    status, body = upload(served, build["id"], "w2", laptop_packages["hello"])
    assert (status, body["kind"]) == (409, "conflict")
    status, body = upload(served, build["id"], "w1", laptop_packages["hello"],
                          filename="../../hello-1.0-1.gpkg.tar")
    assert status == 400
    assert "app-misc/hello" not in http.get("/binhost/laptop/Packages").text
    assert list((served.farm.data_dir / "store" / "tmp").iterdir()) == []

    http.post(f"/api/v1/builds/{build['id']}/log", params={"worker": "w1"},
              content=b">>> compiling\n", headers=auth)
    for name in ("hello", "libgreet"):
        status, body = upload(served, build["id"], "w1", laptop_packages[name])
        assert status == 201, body
    finished = http.post(f"/api/v1/builds/{build['id']}/finish",
                         json={"worker": "w1", "ok": True}, headers=auth).json()
    assert finished["state"] == "succeeded"
    assert {p["cpv"] for p in finished["packages"]} == {"app-misc/hello-1.0",
                                                        "dev-libs/libgreet-1.0"}
    assert http.get(f"/api/v1/builds/{build['id']}/log", headers=auth).text == \
        ">>> compiling\n"
    assert http.get(f"/api/v1/builds/{build['id']}/log", params={"offset": 4},
                    headers=auth).text == "compiling\n"

    index = http.get("/binhost/laptop/Packages")
    assert index.headers["content-length"] == str(len(index.content))
    hello = next(p for p in finished["packages"] if p["cpv"] == "app-misc/hello-1.0")
    assert f"PATH: {hello['path']}\n" in index.text
    upload_members = gpkg_members(laptop_packages["hello"].read_bytes())
    whole = http.get(f"/binhost/laptop/{hello['path']}")
    data = whole.content
    assert whole.headers["content-length"] == str(len(data))
    # What is served is the farm's signed copy: the same members, each with a signature.
    served_members = gpkg_members(data)
    assert {n: served_members[n] for n in upload_members if n.endswith(".zst")} == \
        {n: b for n, b in upload_members.items() if n.endswith(".zst")}
    assert {"hello-1.0-1/image.tar.zst.sig", "hello-1.0-1/metadata.tar.zst.sig"} <= \
        set(served_members)
    assert b"BEGIN PGP SIGNED MESSAGE" in served_members["hello-1.0-1/Manifest"]
    entry = index_entry(index.text, hello["path"])
    assert (entry["SIZE"], entry["MD5"]) == (str(len(data)), hashlib.md5(data).hexdigest())
    assert hello["signer"] == served.farm.signing_keys.signing().fingerprint
    part = http.get(f"/binhost/laptop/{hello['path']}", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == data[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
    # An x86-64-v2 binary runs on the desktop's x86-64-v3 CPU: listed, Portage picks by USE.
    assert f"PATH: {hello['path']}\n" in http.get("/binhost/desktop/Packages").text


def test_finishing_without_packages_is_a_failure(served: Served) -> None:
    http, auth = served.http, served.auth
    [build] = http.post("/api/v1/builds", json={"profile": "desktop", "atoms": ["tool"]},
                        headers=auth).json()
    assert lease(served, "w9")["id"] == build["id"]
    finished = http.post(f"/api/v1/builds/{build['id']}/finish",
                         json={"worker": "w9", "ok": True}, headers=auth).json()
    assert finished["state"] == "failed"
    assert "uploaded no package" in finished["error"]


def test_the_mirror_serves_distfiles_to_workers(served: Served, example: dict[str, Path]) -> None:
    got = served.http.get("/mirror/distfiles/hello-1.0.tar.gz")
    assert got.content == (example["distfiles"] / "hello-1.0.tar.gz").read_bytes()
    assert served.http.get("/mirror/distfiles/layout.conf").text == "[structure]\n0=flat\n"
    assert served.http.get("/mirror/distfiles/nothing.tar.gz").status_code == 404


def test_an_oversized_upload_is_refused_and_nothing_is_kept(served: Served) -> None:
    http, auth = served.http, served.auth
    [build] = http.post("/api/v1/builds", json={"profile": "laptop", "atoms": ["slowpoke"]},
                        headers=auth).json()
    assert lease(served, "w-big")["id"] == build["id"]
    limit = served.farm.settings.server.max_package_bytes
    response = http.post(f"/api/v1/builds/{build['id']}/packages", content=b"\0" * (limit + 1),
                         params={"worker": "w-big", "filename": "slowpoke-1.0-1.gpkg.tar"},
                         headers=auth)
    assert response.status_code == 413 and "larger than" in response.json()["error"]
    assert "slowpoke" not in http.get("/binhost/laptop/Packages").text
    assert list((served.farm.data_dir / "store" / "tmp").iterdir()) == []
