"""Re-signing stored packages: after a key is retired, and for files stored unsigned.

A signed GPKG's members stay byte-identical when it is signed again; only the container
changes, so the instance keeps its BUILD_ID and BUILD_TIME and gets a new file, PATH,
SIZE, MD5 and SHA1 (Portage re-checks a cached file against the index, so a PATH that was
served never carries other bytes).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from binfarm.errors import BinfarmError, Conflict
from binfarm.gentoo.pool import PortageHelper
from binfarm.signing.keys import KeyState, SigningKey, SigningKeys
from binfarm.store.blobs import BlobStore, file_digests
from binfarm.store.catalog import Catalog, Instance

__all__ = ["ResignReport", "Resigning"]

log = logging.getLogger(__name__)


@dataclass
class ResignReport:
    resigned: int = 0
    # PATH and reason of each instance that could not be signed: it leaves the index.
    failed: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Resigning:
    keys: SigningKeys
    catalog: Catalog
    blobs: BlobStore
    helper: PortageHelper
    node: Path  # a Portage node with no profile: enough to read and sign a GPKG

    def sign_unsigned(self) -> ResignReport:
        """Sign what a farm stored before it signed packages."""
        return self._resign(None)

    def retire(self, fingerprint: str) -> tuple[SigningKey, ResignReport]:
        """Re-sign every package signed by `fingerprint` with the signing key, then retire
        the key: clients that sync drop it."""
        key = self.keys.get(fingerprint)
        if key.state == KeyState.SIGNING:
            raise Conflict(f"key {key.fingerprint} signs new packages: rotate first "
                           "(binfarm key rotate), then retire it")
        if key.state == KeyState.RETIRED:
            raise Conflict(f"key {key.fingerprint} is retired already")
        report = self._resign(key.fingerprint)
        return self.keys.mark_retired(key.fingerprint), report

    def _resign(self, signer: str | None) -> ResignReport:
        report = ResignReport()
        for instance in self.catalog.to_sign(signer):
            try:
                self._resign_one(instance, resign=signer is not None)
            except BinfarmError as exc:
                log.warning("package not signed path=%s error=%s", instance.path, exc)
                report.failed.append((instance.path, str(exc)))
            else:
                report.resigned += 1
        return report

    def _resign_one(self, instance: Instance, *, resign: bool) -> None:
        source = self.blobs.open_existing(instance.sha256)
        with self.blobs.scratch() as out:
            request = self.keys.request(out, resign=resign)
            self.helper.sign_binpkg(self.node, source, request)
            digests = file_digests(out)
            blob = self.blobs.adopt(out, digests.sha256, digests.size)
        self.catalog.resigned(instance, blob, digests, request.key)
