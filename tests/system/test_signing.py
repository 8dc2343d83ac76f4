"""Signed binaries with stock Portage: `verify-signature = true`, as Portage ships it.

A farm (`binfarm serve`) signs what its worker builds; a machine registered with
`binfarm client register` installs it with stock emerge, and refuses, with Portage's own
words, a file in the farm's store that was altered, is unsigned or is signed by a key it
does not trust, even when the index is made to match (the index is not signed). After a
key rotation and retirement, a machine that ran `client sync` installs what the new key
signed and no longer trusts the old one.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from binfarm.signing.gnupg import GnuPG
from binfarm.signing.trust import trust_farm_keys
from tests.builders import (
    ClientPrefix,
    FarmProcess,
    flip_image_byte,
    register,
    signed_by_a_stranger,
)

PLACEHOLDER = "http://127.0.0.1:9/binhost/laptop"


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FarmProcess]:
    farm = FarmProcess(tmp_path_factory.mktemp("signfarm") / "var", "--example")
    yield farm
    farm.stop()


def install(client: ClientPrefix, atom: str) -> tuple[int, str]:
    """A fresh `emerge --getbinpkg` of `atom`: no cached index, no cached package (Portage
    re-checks a cached file rather than fetch it again)."""
    for cache in ("var/cache/binhost", "var/cache/edb/binhost"):
        shutil.rmtree(client.root / cache, ignore_errors=True)
    done = client.emerge("--getbinpkg", "--usepkgonly", "--oneshot", atom)
    return done.returncode, done.stdout + done.stderr


def signing_key(farm: FarmProcess) -> str:
    shown = farm.cli("key", "show").stdout
    found = re.search(r"\b([0-9A-F]{40})\W+signing\b", shown)
    assert found, shown
    return found.group(1)


def stored_file(farm: FarmProcess, cpv: str) -> Path:
    """A copy of the file the farm's store serves for `cpv`."""
    with sqlite3.connect(farm.data_dir / "binfarm.sqlite") as db:
        [sha256] = db.execute("SELECT sha256 FROM instances WHERE cpv = ?", (cpv,)).fetchone()
    copy = farm.data_dir.parent / f"{sha256}.gpkg.tar"
    shutil.copyfile(farm.data_dir / "store" / "sha256" / sha256[:2] / sha256, copy)
    return copy


def serve_instead(farm: FarmProcess, cpv: str, data: bytes) -> None:
    """Put `data` where the farm's store keeps `cpv`'s file and make its index entry match
    (SIZE, MD5, SHA1), as an attacker holding the store or a mirror could; the farm
    restarts (it decodes a row once: the database is its own, nobody else writes it)."""
    with sqlite3.connect(farm.data_dir / "binfarm.sqlite") as db:
        sha256, entry = db.execute("SELECT sha256, entry FROM instances WHERE cpv = ?",
                                   (cpv,)).fetchone()
        entry = {**json.loads(entry), "SIZE": str(len(data)), "MD5": hashlib.md5(data)
                 .hexdigest(), "SHA1": hashlib.sha1(data).hexdigest()}
        db.execute("UPDATE instances SET entry = ? WHERE sha256 = ?", (json.dumps(entry),
                                                                         sha256))
    (farm.data_dir / "store" / "sha256" / sha256[:2] / sha256).write_bytes(data)
    farm.restart()


def test_stock_emerge_installs_what_the_farm_signed_and_refuses_anything_else(
        farm: FarmProcess, tmp_path_factory: pytest.TempPathFactory,
        laptop_packages: dict[str, Path], tmp_path: Path) -> None:
    built = farm.cli("request", "hello", "--profile", "laptop", "--wait")
    assert built.returncode == 0, built.stdout + built.stderr
    client = ClientPrefix(tmp_path_factory.mktemp("m"), "laptop", PLACEHOLDER)
    # getuto was here first: its keyring trusts a "Gentoo release" key, and keeps it.
    gentoo = GnuPG(tmp_path / "gentoo")
    gentoo.create_home(0o700)
    gentoo_key = gentoo.generate("Gentoo release stand-in <release@example.invalid>")
    trust_farm_keys(client.keyring, gentoo.export_public([gentoo_key]), [])
    gentoo.stop_agent()

    said = register(farm, client, "signed-1")
    farm_key = signing_key(farm)
    assert farm_key in said
    assert "verify-signature = true" in (client.root / "etc/portage/binrepos.conf").read_text()
    keyring = GnuPG(client.keyring)
    assert (keyring.validity(gentoo_key), keyring.validity(farm_key)) == ("f", "f")
    assert oct(client.keyring.stat().st_mode)[-3:] == "755"

    status, out = install(client, "app-misc/hello")
    assert status == 0, out[-3000:]
    assert client.run("hello").startswith("hello")

    signed = stored_file(farm, "app-misc/hello-1.0")
    cases = {
        "one flipped byte": (flip_image_byte(signed, tmp_path / "flipped.gpkg.tar")
                             .read_bytes(), "GnuPG verification failed"),
        "unsigned": (laptop_packages["hello"].read_bytes(),
                     "binpkg appears unsigned (missing any signature)"),
        "a stranger's key": (signed_by_a_stranger(laptop_packages["hello"],
                                                  tmp_path / "stranger").read_bytes(),
                             "binpkg signed with at least one unknown key"),
    }
    for case, (data, message) in cases.items():
        serve_instead(farm, "app-misc/hello-1.0", data)
        status, out = install(client, "app-misc/hello")
        assert status != 0 and message in out, f"{case}:\n{out[-3000:]}"
        assert "Binary package is not usable (verification failed)" in out, case
    serve_instead(farm, "app-misc/hello-1.0", signed.read_bytes())
    status, out = install(client, "app-misc/hello")
    assert status == 0, out[-3000:]


def test_after_rotate_and_retire_a_synced_machine_installs_what_the_new_key_signed(
        farm: FarmProcess, tmp_path_factory: pytest.TempPathFactory) -> None:
    client = ClientPrefix(tmp_path_factory.mktemp("m"), "laptop", PLACEHOLDER)
    register(farm, client, "signed-2")
    old = signing_key(farm)
    rotated = farm.cli("key", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    new = signing_key(farm)
    assert new != old
    built = farm.cli("request", "wordcount", "--profile", "laptop", "--wait")
    assert built.returncode == 0, built.stdout + built.stderr

    status, out = install(client, "app-misc/wordcount")  # the machine knows only `old`
    assert status != 0 and "binpkg signed with at least one unknown key" in out, out[-3000:]
    synced = client.binfarm("client", "sync")
    assert synced.returncode == 0 and new in synced.stdout, synced.stdout + synced.stderr
    status, out = install(client, "app-misc/wordcount")
    assert status == 0, out[-3000:]

    retired = farm.cli("key", "retire", old)
    assert retired.returncode == 0 and "signed again" in retired.stdout, retired.stderr
    assert client.binfarm("client", "sync").returncode == 0
    assert GnuPG(client.keyring).keys(fingerprints=[old]) == []
    status, out = install(client, "app-misc/hello")  # signed again, by `new`
    assert status == 0, out[-3000:]
