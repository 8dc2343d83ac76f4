"""This machine's Portage paths, its binfarm state, and what it has installed."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

from binfarm.api.client import FarmClient, binhost_uri, tls_context
from binfarm.errors import InvalidInput
from binfarm.settings import ClientEnvironment

__all__ = ["ClientState", "Machine"]


@dataclass
class ClientState:
    """What `client register` learnt, kept for `sync` and `update` (mode 0600)."""

    server: str
    host: str
    profile: str
    token: str
    synced: dict[str, str] = field(default_factory=dict)
    # The CA an https farm's certificate is checked against (None: the system's).
    ca_cert: str | None = None
    channel: str = "stable"

    def binhost(self) -> str:
        """The binhost URL of the host's profile and channel, with its credentials."""
        return binhost_uri(self.server, self.profile, self.host, self.token, self.channel)

    def client(self, server: str | None = None) -> FarmClient:
        ca = Path(self.ca_cert) if self.ca_cert else None
        return FarmClient(server or self.server, self.token, verify=tls_context(ca))


@dataclass(frozen=True)
class Machine:
    config_root: Path
    prefix: Path

    @classmethod
    def from_environment(cls, environment: ClientEnvironment) -> Machine:
        return cls(environment.config_root, environment.prefix)

    @property
    def config_dir(self) -> Path:
        return self.config_root / "etc" / "portage"

    @property
    def state_path(self) -> Path:
        return self.prefix / "var" / "lib" / "binfarm" / "client.json"

    def verify_home(self) -> Path:
        """The keyring Portage verifies binary packages in (BINPKG_GPG_VERIFY_GPG_HOME, as
        portageq reads it here; /etc/portage/gnupg by default)."""
        try:
            done = subprocess.run(["portageq", "envvar", "BINPKG_GPG_VERIFY_GPG_HOME"],
                                  capture_output=True, text=True, timeout=120, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return self.config_dir / "gnupg"
        value = done.stdout.strip()
        return Path(value) if done.returncode == 0 and value else self.config_dir / "gnupg"

    def load_state(self) -> ClientState:
        try:
            return ClientState(**json.loads(self.state_path.read_text()))
        except FileNotFoundError as exc:
            raise InvalidInput(f"this machine is not registered ({self.state_path} is "
                               "missing): run `binfarm client register` first") from exc

    def save_state(self, state: ClientState) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.state_path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(asdict(state), handle, indent=2, sort_keys=True)
        os.replace(temporary, self.state_path)

    def binpkg_md5s(self) -> dict[str, str]:
        """Each package installed from a binary (cat/pf) with the MD5 of that file, as
        Portage records it in the package database (BINPKGMD5)."""
        vdb = self.prefix / "var" / "db" / "pkg"
        return {f"{p.parent.parent.name}/{p.parent.name}": p.read_text().strip()
                for p in sorted(vdb.glob("*/*/BINPKGMD5"))}

    def installed(self) -> list[str]:
        """Every installed package version (cat/pf), from the package database."""
        vdb = self.prefix / "var" / "db" / "pkg"
        return sorted(f"{c.name}/{p.name}" for c in vdb.glob("*") if c.is_dir()
                      for p in c.iterdir() if p.is_dir() and not p.name.startswith("-"))
