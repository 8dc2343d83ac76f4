"""GnuPG, run as the `gpg` program on one home directory (the only OpenPGP code we use).

Portage verifies with `gpg` and signs with `gpg`, so binfarm drives the same program
rather than a second OpenPGP implementation: what it writes, Portage reads.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from binfarm.errors import InvalidInput, Unavailable

__all__ = ["GPG_TIMEOUT_S", "GnuPG", "KeyInfo", "gpg_program"]

GPG_TIMEOUT_S = 120
# gpg's numbers for public-key algorithms (RFC 4880 and 9580), as `--with-colons` prints.
_ALGORITHMS = {"1": "rsa", "17": "dsa", "18": "ecdh", "19": "ecdsa", "22": "eddsa"}


def gpg_program() -> str:
    found = shutil.which("gpg")
    if found is None:
        raise Unavailable("GnuPG (gpg) is not installed: signing needs it (apt install gpg)")
    return found


@dataclass(frozen=True)
class KeyInfo:
    fingerprint: str
    created: int
    algorithm: str
    uid: str
    secret: bool = False


class GnuPG:
    """One GnuPG home. Every call is batch mode: no prompt, no tty, no keyserver."""

    def __init__(self, home: Path, passphrase_file: Path | None = None) -> None:
        self.home = home
        self.passphrase_file = passphrase_file

    def run(self, *args: str, input_bytes: bytes | None = None,
            passphrase: bool = False) -> bytes:
        argv = [gpg_program(), "--homedir", str(self.home), "--batch", "--no-tty",
                "--yes", "--with-colons", "--no-auto-key-locate"]
        if passphrase:
            argv += ["--pinentry-mode", "loopback", "--passphrase-file",
                     str(self.passphrase_file) if self.passphrase_file else "/dev/null"]
        try:
            done = subprocess.run([*argv, *args], input=input_bytes, capture_output=True,
                                  timeout=GPG_TIMEOUT_S, check=False,
                                  env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                                       "LC_ALL": "C", "GNUPGHOME": str(self.home)})
        except subprocess.TimeoutExpired as exc:
            raise Unavailable(f"gpg {args[0]} took longer than {GPG_TIMEOUT_S} s") from exc
        if done.returncode != 0:
            lines = [line for line in done.stderr.decode(errors="replace").splitlines()
                     if line.startswith("gpg:")]
            raise InvalidInput(f"gpg {args[0]} failed: {'; '.join(lines[-3:]) or 'no reason'}")
        return done.stdout

    def create_home(self, mode: int) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        os.chmod(self.home, mode)
        _check_socket_path(self.home)

    def generate(self, uid: str) -> str:
        """A new ed25519 signing key that never expires; returns its fingerprint."""
        before = {k.fingerprint for k in self.keys(secret=True)}
        self.run("--quick-gen-key", uid, "ed25519", "sign", "never", passphrase=True)
        [new] = [k.fingerprint for k in self.keys(secret=True) if k.fingerprint not in before]
        return new

    def import_keys(self, armored: bytes, *, secret: bool = False) -> list[str]:
        """Import keys; the fingerprints of the primary keys imported (in the data's order)."""
        status = self._status("--import", *(["--passphrase-file", str(self.passphrase_file),
                                              "--pinentry-mode", "loopback"]
                                             if secret and self.passphrase_file else []),
                              input_bytes=armored)
        found = [line.split()[3] for line in status if line.startswith("[GNUPG:] IMPORT_OK")]
        if not found:
            raise InvalidInput("no OpenPGP key in the data given")
        return list(dict.fromkeys(found))

    def _status(self, *args: str, input_bytes: bytes | None = None) -> list[str]:
        out = self.run("--status-fd", "1", *args, input_bytes=input_bytes)
        return out.decode(errors="replace").splitlines()

    def keys(self, *, secret: bool = False, fingerprints: Sequence[str] = ()) -> list[KeyInfo]:
        """The primary keys of this home (public ones, or only those with a secret part)."""
        try:
            out = self.run("--fixed-list-mode", "--list-secret-keys" if secret
                           else "--list-keys", *fingerprints)
        except InvalidInput:
            if fingerprints:
                return []  # gpg fails when a named key is absent
            raise
        keys: list[KeyInfo] = []
        fields: list[str] | None = None
        fingerprint = uid = ""
        for line in out.decode(errors="replace").splitlines():
            record = line.split(":")
            if record[0] in ("pub", "sec"):
                if fields is not None:
                    keys.append(_key(fields, fingerprint, uid, secret))
                fields, fingerprint, uid = record, "", ""
            elif record[0] == "fpr" and fields is not None and not fingerprint:
                fingerprint = record[9]
            elif record[0] == "uid" and fields is not None and not uid:
                uid = record[9]
        if fields is not None:
            keys.append(_key(fields, fingerprint, uid, secret))
        return keys

    def export_public(self, fingerprints: Sequence[str]) -> bytes:
        if not fingerprints:
            return b""
        return self.run("--armor", "--export-options", "export-minimal", "--export",
                        *fingerprints)

    def export_secret(self, fingerprint: str) -> bytes:
        return self.run("--armor", "--export-secret-keys", fingerprint, passphrase=True)

    def set_ultimate(self, fingerprints: Sequence[str]) -> None:
        """Trust keys as one's own (Portage takes TRUST_ULTIMATE or TRUST_FULLY only)."""
        text = "".join(f"{fpr}:6:\n" for fpr in fingerprints)
        self.run("--import-ownertrust", input_bytes=text.encode())
        self.run("--check-trustdb")

    def lsign(self, fingerprint: str, signer: str, passphrase: bool) -> None:
        """Certify `fingerprint` with a local (non-exportable) signature by `signer`."""
        self.run("--local-user", signer, "--quick-lsign-key", fingerprint,
                 passphrase=passphrase)

    def delete_public(self, fingerprint: str) -> None:
        self.run("--delete-keys", fingerprint)

    def validity(self, fingerprint: str) -> str:
        """gpg's validity letter for a key ('u' ultimate, 'f' full, '-' unknown...)."""
        for line in self.run("--list-keys", fingerprint).decode().splitlines():
            if line.startswith("pub:"):
                return line.split(":")[1]
        return ""

    def stop_agent(self) -> None:
        """End the gpg-agent this home started, so that no daemon outlives its user."""
        gpgconf = shutil.which("gpgconf")
        if gpgconf is not None and self.home.is_dir():
            subprocess.run([gpgconf, "--homedir", str(self.home), "--kill", "all"],
                           capture_output=True, timeout=GPG_TIMEOUT_S, check=False)


def _check_socket_path(home: Path) -> None:
    """gpg's agent listens on a socket in the home, unless /run/user/UID exists (as it
    does for a logged-in user): a socket path is at most 107 bytes."""
    runtime = Path(f"/run/user/{os.getuid()}")
    longest = home / "S.gpg-agent.browser"
    if not runtime.is_dir() and len(os.fsencode(longest)) > 107:
        raise InvalidInput(f"{home} is too long a path for gpg's agent socket "
                           f"({len(os.fsencode(longest))} bytes of at most 107): use a "
                           f"shorter data directory, or create {runtime} (mode 0700)")


def _key(fields: list[str], fingerprint: str, uid: str, secret: bool) -> KeyInfo:
    algorithm = _ALGORITHMS.get(fields[3], fields[3])
    if algorithm == "eddsa" and fields[16:17] == ["ed25519"]:
        algorithm = "ed25519"
    elif algorithm in ("rsa", "dsa"):
        algorithm = f"{algorithm}{fields[2]}"
    elif len(fields) > 16 and fields[16]:
        algorithm = fields[16]
    return KeyInfo(fingerprint, int(fields[5] or 0), algorithm, uid, secret)
