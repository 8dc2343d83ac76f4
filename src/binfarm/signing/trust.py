"""The keyring a Portage machine verifies binary packages against, holding the farm's keys.

Portage runs `gpg --verify` in BINPKG_GPG_VERIFY_GPG_HOME (/etc/portage/gnupg), as
`nobody` when emerge is root, and accepts a signature only from a key of full or ultimate
validity. On a fleet machine binfarm does what getuto does for Gentoo's own keys: a local
"Portage Local Trust Key" of ultimate trust certifies (lsigns) each farm key, so keys
already there (Gentoo's release keys) keep their trust and nothing of getuto's is replaced.
A build root's keyring is the farm's alone, so there the farm keys are simply ultimate.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Collection
from pathlib import Path

from binfarm.files import swap_in
from binfarm.signing.gnupg import GnuPG

__all__ = ["LOCAL_TRUST_UID", "trust_farm_keys", "trust_farm_keys_only"]

LOCAL_TRUST_UID = "Portage Local Trust Key <portage@localhost>"
_PASS = "pass"  # where getuto keeps its local key's passphrase


def trust_farm_keys(home: Path, armored: bytes, retired: Collection[str]) -> list[str]:
    """Make the farm's keys valid in a getuto-style keyring `home`, created when missing;
    the farm's retired keys are removed. Returns the fingerprints now trusted."""
    if _local_key(GnuPG(home)) is None:
        staging = home.with_name(f"{home.name}.binfarm-new")
        shutil.rmtree(staging, ignore_errors=True)
        if home.is_dir():
            shutil.copytree(home, staging, symlinks=True,
                            ignore=shutil.ignore_patterns("S.*", "*.lock", ".#*"))
        gnupg = GnuPG(staging, staging / _PASS)
        gnupg.create_home(0o755)
        _write_passphrase(staging / _PASS)
        local = gnupg.generate(LOCAL_TRUST_UID)
        gnupg.set_ultimate([local])
        trusted = _certify(gnupg, local, armored, retired)
        gnupg.stop_agent()
        _publish(staging)
        swap_in(staging, home)
        return trusted
    gnupg = GnuPG(home, home / _PASS if (home / _PASS).is_file() else None)
    local = _local_key(gnupg)
    assert local is not None
    try:
        trusted = _certify(gnupg, local, armored, retired)
    finally:
        gnupg.stop_agent()
    _publish(home)
    return trusted


def trust_farm_keys_only(home: Path, armored: bytes) -> list[str]:
    """Replace `home` with a keyring in which exactly the farm's keys are ultimate."""
    staging = home.with_name(f"{home.name}.binfarm-new")
    shutil.rmtree(staging, ignore_errors=True)
    gnupg = GnuPG(staging)
    gnupg.create_home(0o755)
    try:
        fingerprints = gnupg.import_keys(armored)
        gnupg.set_ultimate(fingerprints)
    finally:
        gnupg.stop_agent()
    _publish(staging)
    swap_in(staging, home)
    return fingerprints


def _local_key(gnupg: GnuPG) -> str | None:
    if not (gnupg.home / "pubring.kbx").exists() and not (gnupg.home / "pubring.gpg").exists():
        return None
    own = gnupg.keys(secret=True)
    return own[0].fingerprint if own else None


def _certify(gnupg: GnuPG, local: str, armored: bytes, retired: Collection[str]) -> list[str]:
    for fingerprint in retired:
        if gnupg.keys(fingerprints=[fingerprint]):
            gnupg.delete_public(fingerprint)
    imported = [f for f in gnupg.import_keys(armored) if f not in retired]
    for fingerprint in imported:
        if gnupg.validity(fingerprint) not in ("f", "u"):
            gnupg.lsign(fingerprint, local, passphrase=gnupg.passphrase_file is not None)
    gnupg.run("--check-trustdb")
    return imported


def _write_passphrase(path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(24) + "\n")


def _publish(home: Path) -> None:
    """gpg --verify runs as `nobody`: it must read the public keyring and the trustdb,
    and nothing else (private keys and the passphrase stay root's)."""
    os.chmod(home, 0o755)
    for name in ("pubring.kbx", "pubring.gpg", "trustdb.gpg"):
        if (home / name).exists():
            os.chmod(home / name, 0o644)
    for private in ("private-keys-v1.d", _PASS, "secring.gpg"):
        path = home / private
        if path.exists():
            os.chmod(path, 0o700 if path.is_dir() else 0o600)
