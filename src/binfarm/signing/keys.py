"""The farm's signing keys: one GnuPG home in the data directory, and their states.

One key signs (`signing`); keys that signed before stay `trusted` (clients keep them)
until an admin retires them. Only the farm holds private keys: workers build unsigned.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select, update

from binfarm.db.tables import signing_keys
from binfarm.errors import Conflict, InvalidInput, NotFound
from binfarm.files import private_dir
from binfarm.gentoo.protocol import SigningRequest
from binfarm.settings import SigningSettings
from binfarm.signing.gnupg import GnuPG

__all__ = ["KeyState", "SigningKey", "SigningKeys"]

log = logging.getLogger(__name__)


class KeyState(StrEnum):
    SIGNING = "signing"
    TRUSTED = "trusted"
    RETIRED = "retired"


@dataclass(frozen=True)
class SigningKey:
    fingerprint: str
    algorithm: str
    uid: str
    created: int
    state: KeyState
    added_at: float
    retired_at: float | None

    @classmethod
    def from_row(cls, row: Any) -> SigningKey:
        return cls(row.fingerprint, row.algorithm, row.uid, row.created, KeyState(row.state),
                   row.added_at, row.retired_at)


class SigningKeys:
    def __init__(self, engine: Engine, directory: Path, settings: SigningSettings,
                 clock: Callable[[], float]) -> None:
        self.engine = engine
        self.clock = clock
        self.settings = settings
        self.directory = private_dir(directory)
        self.lock = self.directory / "gpg.lock"
        self._written_passphrase: Path | None = None
        passphrase = settings.passphrase_file
        if settings.passphrase is not None:
            # gpg reads a passphrase from a file only (Portage closes other descriptors);
            # one given in the environment lives in the private directory while we run.
            passphrase = self._written_passphrase = self.directory / "passphrase.env"
            fd = os.open(passphrase, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(settings.passphrase.get_secret_value())
        if passphrase is not None and not passphrase.is_file():
            raise InvalidInput(f"signing.passphrase_file {passphrase} is not a file")
        self.gnupg = GnuPG(self.directory / "gnupg", passphrase)
        self.gnupg.create_home(0o700)

    def close(self) -> None:
        self.gnupg.stop_agent()
        if self._written_passphrase is not None:
            self._written_passphrase.unlink(missing_ok=True)

    def ensure(self) -> SigningKey:
        """The signing key, created on first start."""
        current = self._find_state(KeyState.SIGNING)
        if current is not None:
            return current
        fingerprint = self.gnupg.generate(self.settings.uid)
        log.info("created signing key fingerprint=%s", fingerprint)
        return self._add(fingerprint)

    def list(self) -> list[SigningKey]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(signing_keys).order_by(signing_keys.c.added_at))
            return [SigningKey.from_row(row) for row in rows]

    def get(self, fingerprint: str) -> SigningKey:
        wanted = fingerprint.strip().upper().removeprefix("0X")
        matches = [k for k in self.list() if k.fingerprint.endswith(wanted)] if len(
            wanted) >= 8 else []
        if not matches:
            raise NotFound(f"the farm has no signing key {fingerprint!r}")
        if len(matches) > 1:
            raise InvalidInput(f"{fingerprint!r} names more than one key: give more digits")
        return matches[0]

    def signing(self) -> SigningKey:
        current = self._find_state(KeyState.SIGNING)
        if current is None:
            raise NotFound("the farm has no signing key yet")
        return current

    def trusted(self) -> list[SigningKey]:
        """Keys a client trusts: the signing key and the ones it replaced, not retired."""
        return [k for k in self.list() if k.state != KeyState.RETIRED]

    def public_keys(self) -> bytes:
        """The armored public keys a client imports."""
        return self.gnupg.export_public([k.fingerprint for k in self.trusted()])

    def rotate(self) -> SigningKey:
        """A new signing key; the one it replaces stays trusted until it is retired."""
        fingerprint = self.gnupg.generate(self.settings.uid)
        log.info("rotated signing key fingerprint=%s", fingerprint)
        return self._add(fingerprint)

    def import_secret(self, armored: bytes) -> SigningKey:
        """Make an imported secret key the signing key (it must sign without a prompt,
        or with the configured passphrase)."""
        if b"PRIVATE KEY BLOCK" not in armored:
            raise InvalidInput("not an armored secret key (gpg --armor --export-secret-keys)")
        fingerprints = self.gnupg.import_keys(armored, secret=True)
        own = {k.fingerprint for k in self.gnupg.keys(secret=True)}
        usable = [f for f in fingerprints if f in own]
        if len(usable) != 1:
            raise InvalidInput("give exactly one secret key to import")
        [fingerprint] = usable
        if (known := self._find(fingerprint)) is not None and known.state != KeyState.RETIRED:
            raise Conflict(f"key {fingerprint} is already the farm's ({known.state})")
        self.gnupg.set_ultimate([fingerprint])
        self.gnupg.run("--local-user", fingerprint, "--detach-sign", "--armor",
                       input_bytes=b"binfarm", passphrase=True)
        log.info("imported signing key fingerprint=%s", fingerprint)
        return self._add(fingerprint)

    def mark_retired(self, fingerprint: str) -> SigningKey:
        """Record that clients drop the key (what it signed is signed again first:
        signing/resign.py)."""
        with self.engine.begin() as conn:
            conn.execute(update(signing_keys).where(signing_keys.c.fingerprint == fingerprint)
                         .values(state=KeyState.RETIRED, retired_at=self.clock()))
        log.info("retired signing key fingerprint=%s", fingerprint)
        return self.get(fingerprint)

    def request(self, out: Path, *, resign: bool = False) -> SigningRequest:
        """What the Portage helper needs to sign one file into `out` with the signing key."""
        passphrase = self.gnupg.passphrase_file
        return SigningRequest(home=str(self.gnupg.home), key=self.signing().fingerprint,
                              out=str(out), lock=str(self.lock), resign=resign,
                              passphrase_file=str(passphrase) if passphrase else None)

    def _add(self, fingerprint: str) -> SigningKey:
        [info] = self.gnupg.keys(secret=True, fingerprints=[fingerprint])
        with self.engine.begin() as conn:
            conn.execute(update(signing_keys).where(signing_keys.c.state == KeyState.SIGNING)
                         .values(state=KeyState.TRUSTED))
            conn.execute(signing_keys.delete().where(signing_keys.c.fingerprint == fingerprint))
            conn.execute(insert(signing_keys).values(
                fingerprint=fingerprint, algorithm=info.algorithm, uid=info.uid,
                created=info.created, state=KeyState.SIGNING, added_at=self.clock()))
        return self.signing()

    def _find(self, fingerprint: str) -> SigningKey | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(signing_keys)
                               .where(signing_keys.c.fingerprint == fingerprint)).first()
        return SigningKey.from_row(row) if row else None

    def _find_state(self, state: KeyState) -> SigningKey | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(signing_keys).where(signing_keys.c.state == state)).first()
        return SigningKey.from_row(row) if row else None
