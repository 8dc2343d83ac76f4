"""Signing on the farm: what an upload must be, and the life of a signing key.

The farm (in-process, real Portage helper, real gpg) signs each upload; rotation adds a
key and retirement signs everything again with the new one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from binfarm.signing.gnupg import GnuPG
from tests.builders import flip_image_byte, gpkg_members, index_entry, signed_by_a_stranger
from tests.integration.server.conftest import Served, lease, upload


def signer_of(data: bytes, armored_keys: bytes, work: Path) -> str:
    """The fingerprint whose good signature the package's Manifest carries."""
    manifest = next(v for k, v in gpkg_members(data).items() if k.endswith("/Manifest"))
    gnupg = GnuPG(work)
    gnupg.create_home(0o700)
    gnupg.import_keys(armored_keys)
    status = gnupg.run("--status-fd", "1", "--verify", input_bytes=manifest).decode()
    gnupg.stop_agent()
    return next(line.split()[2] for line in status.splitlines() if " VALIDSIG " in line)


@pytest.fixture(scope="module")
def build(served: Served) -> dict:
    [build] = served.http.post("/api/v1/builds", json={"profile": "laptop",
                                                       "atoms": ["hello"]},
                               headers=served.auth).json()
    assert lease(served, "signer-w")["id"] == build["id"]
    return build


def test_an_upload_must_be_an_unsigned_gpkg_that_matches_its_manifest(
        served: Served, build: dict, laptop_packages: dict[str, Path], tmp_path: Path) -> None:
    hello = laptop_packages["hello"]
    status, body = upload(served, build["id"], "signer-w",
                          flip_image_byte(hello, tmp_path / hello.name))
    assert (status, body["kind"]) == (400, "invalid_input"), body
    assert "does not match its own Manifest" in body["error"]
    assert "image.tar.zst checksum mismatched" in body["error"]

    status, body = upload(served, build["id"], "signer-w", hello, filename="hello-1.0-1.xpak")
    assert status == 400 and "XPAK" in body["error"] and "BINPKG_FORMAT=gpkg" in body["error"]

    foreign = signed_by_a_stranger(hello, tmp_path / "foreign")
    status, body = upload(served, build["id"], "signer-w", foreign)
    assert status == 400 and "signed already" in body["error"], body
    assert list((served.farm.data_dir / "store" / "tmp").iterdir()) == []

    for name in ("hello", "libgreet"):
        status, body = upload(served, build["id"], "signer-w", laptop_packages[name])
        assert status == 201, body
        assert body["signer"] == served.farm.signing_keys.signing().fingerprint
    done = served.http.post(f"/api/v1/builds/{build['id']}/finish",
                            json={"worker": "signer-w", "ok": True}, headers=served.auth)
    assert done.json()["state"] == "succeeded"


def test_rotate_then_retire_signs_everything_again_with_the_new_key(
        served: Served, build: dict, tmp_path: Path) -> None:
    http, auth = served.http, served.auth
    [first] = http.get("/api/v1/keys").json()  # no token: public keys are public
    assert (first["state"], first["algorithm"]) == ("signing", "ed25519")
    before = {p["cpv"]: p for p in http.get(f"/api/v1/builds/{build['id']}",
                                            headers=auth).json()["packages"]}
    hello = before["app-misc/hello-1.0"]
    old_file = http.get(f"/binhost/laptop/{hello['path']}").content
    assert signer_of(old_file, http.get("/api/v1/key").content, tmp_path / "a") == \
        first["fingerprint"]

    assert http.post("/api/v1/keys/rotate").status_code == 401
    new = http.post("/api/v1/keys/rotate", headers=auth).json()
    states = {k["fingerprint"]: k["state"] for k in http.get("/api/v1/keys").json()}
    assert states == {first["fingerprint"]: "trusted", new["fingerprint"]: "signing"}
    both = GnuPG(tmp_path / "both")
    both.create_home(0o700)
    assert set(both.import_keys(http.get("/api/v1/key").content)) == set(states)
    refused = http.post(f"/api/v1/keys/{new['fingerprint']}/retire", headers=auth)
    assert refused.status_code == 409 and "rotate first" in refused.json()["error"]

    retired = http.post(f"/api/v1/keys/{first['fingerprint'][-16:]}/retire",
                        headers=auth).json()
    assert (retired["key"]["state"], retired["resigned"], retired["failed"]) == \
        ("retired", 2, [])
    after = {p["cpv"]: p for p in http.get(f"/api/v1/builds/{build['id']}",
                                           headers=auth).json()["packages"]}
    moved = after["app-misc/hello-1.0"]
    assert moved["path"] != hello["path"] and moved["signer"] == new["fingerprint"]
    assert http.get(f"/binhost/laptop/{hello['path']}").status_code == 404
    index = http.get("/binhost/laptop/Packages").text
    data = http.get(f"/binhost/laptop/{moved['path']}").content
    assert index_entry(index, moved["path"])["SIZE"] == str(len(data))
    assert signer_of(data, http.get("/api/v1/key").content, tmp_path / "b") == \
        new["fingerprint"]
    members, old_members = gpkg_members(data), gpkg_members(old_file)
    assert all(members[n] == old_members[n] for n in old_members if n.endswith(".zst"))
    only_new = GnuPG(tmp_path / "new")
    only_new.create_home(0o700)
    assert only_new.import_keys(http.get("/api/v1/key").content) == [new["fingerprint"]]


def test_an_armored_secret_key_can_be_imported_as_the_signing_key(
        served: Served, tmp_path: Path) -> None:
    mine = GnuPG(tmp_path / "mine")
    mine.create_home(0o700)
    fingerprint = mine.generate("the admin's own key <admin@example.invalid>")
    secret = mine.export_secret(fingerprint)
    mine.stop_agent()
    refused = served.http.post("/api/v1/keys/import", content=mine.export_public([fingerprint]),
                               headers=served.auth)
    assert refused.status_code == 400 and "secret key" in refused.json()["error"]
    done = served.http.post("/api/v1/keys/import", content=secret, headers=served.auth)
    assert done.status_code == 200, done.json()
    assert (done.json()["fingerprint"], done.json()["state"]) == (fingerprint, "signing")
    again = served.http.post("/api/v1/keys/import", content=secret, headers=served.auth)
    assert again.status_code == 409
