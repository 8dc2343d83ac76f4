"""The farm's signing key with a passphrase, and a farm that stored packages unsigned."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import update

from binfarm.db.tables import instances
from binfarm.errors import InvalidInput
from binfarm.farm import Farm
from binfarm.settings import Settings, SigningSettings
from binfarm.signing.gnupg import GnuPG
from tests.builders import gpkg_members
from tests.integration.test_build_keys import build_with


def test_a_passphrase_from_a_file_protects_the_key_and_signing_uses_it(
        tmp_path: Path, laptop_packages: dict[str, Path]) -> None:
    secret = tmp_path / "passphrase"
    secret.write_text("correct horse battery staple\n")
    farm = Farm(Settings(data_dir=tmp_path / "var",
                         signing=SigningSettings(passphrase_file=secret)), clock=time.time)
    try:
        key = farm.signing_keys.signing().fingerprint
        without = GnuPG(farm.signing_keys.gnupg.home)  # no passphrase: gpg must refuse
        with pytest.raises(InvalidInput):
            without.run("--local-user", key, "--detach-sign", input_bytes=b"x",
                        passphrase=True)
        out = tmp_path / "signed.gpkg.tar"
        farm.helper.sign_binpkg(farm.resigning.node, laptop_packages["hello"],
                                farm.signing_keys.request(out))
        assert "hello-1.0-1/image.tar.zst.sig" in gpkg_members(out.read_bytes())
    finally:
        farm.close()


def test_a_passphrase_from_the_environment_lives_in_the_data_dir_only_while_it_runs(
        tmp_path: Path) -> None:
    farm = Farm(Settings(data_dir=tmp_path / "var",
                         signing=SigningSettings(passphrase=SecretStr("s3cret"))))
    written = farm.signing_keys.gnupg.passphrase_file
    assert written is not None and oct(os.stat(written).st_mode)[-3:] == "600"
    assert oct(os.stat(farm.signing_keys.directory).st_mode)[-3:] == "700"
    farm.close()
    assert not written.exists()


def test_a_missing_passphrase_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"passphrase_file .* is not a file"):
        Farm(Settings(data_dir=tmp_path / "var",
                      signing=SigningSettings(passphrase_file=tmp_path / "nope")))


def test_packages_stored_unsigned_are_signed_when_the_farm_starts(
        farm: Farm, laptop_packages: dict[str, Path]) -> None:
    build_with(farm, "laptop", "hello", [laptop_packages["hello"], laptop_packages["libgreet"]])
    [hello] = farm.catalog.for_cpv("app-misc/hello-1.0")
    unsigned = farm.blobs.path(hello.upload_sha256 or "")
    unsigned.parent.mkdir(parents=True, exist_ok=True)
    unsigned.write_bytes(laptop_packages["hello"].read_bytes())
    with farm.engine.begin() as conn:  # as an older farm stored it: the upload, no signer
        conn.execute(update(instances).where(instances.c.id == hello.id).values(
            signer=None, sha256=hello.upload_sha256, upload_sha256=None))
    assert not farm.visible("laptop", farm.catalog.for_cpv("app-misc/hello-1.0")[0])

    report = farm.resigning.sign_unsigned()
    assert (report.resigned, report.failed) == (1, [])
    [signed] = farm.catalog.for_cpv("app-misc/hello-1.0")
    assert signed.signer == farm.signing_keys.signing().fingerprint
    assert signed.upload_sha256 == hello.upload_sha256 and signed.path != hello.path
    assert farm.visible("laptop", signed)
