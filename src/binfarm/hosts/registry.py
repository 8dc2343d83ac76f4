"""The machines that install from the farm: their profile, CPU, last report, packages."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Engine, insert, select, update

from binfarm.db.tables import hosts
from binfarm.errors import NotFound, found
from binfarm.profiles.model import check_name

__all__ = ["Host", "HostRegistry", "check_host_name"]

_HOST_NAME: Final = re.compile(r"^[a-z0-9][a-z0-9.-]{0,62}$")


def check_host_name(name: str) -> str:
    """The lower-cased host name, if it can name a host (and its own profile)."""
    return check_name(_HOST_NAME, name.lower(), "host name", "letters, digits, '.' and '-'")


@dataclass(frozen=True)
class Host:
    name: str
    profile: str
    arch: str
    cpu_features: frozenset[str]
    token: int | None
    registered_at: float
    last_report_at: float | None
    last_result: str | None
    installed: tuple[str, ...]
    # {cat/pf: MD5} of the packages it installed from binaries.
    binpkgs: dict[str, str]
    # Which of its profile's channels the host installs from (rollout/channels.py).
    channel: str = "stable"

    @classmethod
    def from_row(cls, row: Any) -> Host:
        return cls(row.name, row.profile, row.arch, frozenset(row.cpu_features), row.token,
                   row.registered_at, row.last_report_at, row.last_result,
                   tuple(row.installed or ()), dict(row.binpkgs or {}), row.channel)


class HostRegistry:
    def __init__(self, engine: Engine, clock: Callable[[], float]) -> None:
        self.engine = engine
        self.clock = clock

    def upsert(self, name: str, *, profile: str, arch: str, cpu_features: frozenset[str],
               token: int | None) -> Host:
        values = {"profile": profile, "arch": arch, "cpu_features": sorted(cpu_features),
                  "token": token}
        with self.engine.begin() as conn:
            if conn.execute(update(hosts).where(hosts.c.name == name)
                            .values(**values)).rowcount == 0:
                conn.execute(insert(hosts).values(name=name, registered_at=self.clock(),
                                                  **values))
        return self.get(name)

    def find(self, name: str) -> Host | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(hosts).where(hosts.c.name == name)).first()
        return Host.from_row(row) if row else None

    def by_token(self, token_id: int) -> Host | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(hosts).where(hosts.c.token == token_id)).first()
        return Host.from_row(row) if row else None

    def get(self, name: str) -> Host:
        return found(self.find(name),
                     f"no host {name!r}: register it with `binfarm client register`")

    def list(self) -> list[Host]:
        with self.engine.connect() as conn:
            return [Host.from_row(r) for r in conn.execute(select(hosts).order_by(hosts.c.name))]

    def set_channel(self, name: str, channel: str) -> Host:
        with self.engine.begin() as conn:
            done = conn.execute(update(hosts).where(hosts.c.name == name)
                                .values(channel=channel)).rowcount
        if not done:
            raise NotFound(f"no host {name!r}")
        return self.get(name)

    def report(self, name: str, result: str, installed: list[str],
               binpkgs: dict[str, str]) -> Host:
        with self.engine.begin() as conn:
            done = conn.execute(update(hosts).where(hosts.c.name == name).values(
                last_report_at=self.clock(), last_result=result, installed=sorted(installed),
                binpkgs=dict(sorted(binpkgs.items())),
            )).rowcount
        if not done:
            raise NotFound(f"no host {name!r}")
        return self.get(name)
