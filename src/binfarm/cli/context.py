"""What every client command shares: the farm's URL, the token, and a FarmClient."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import typer

from binfarm.api.client import FarmClient, tls_context

__all__ = ["CliContext", "call"]

T = TypeVar("T")


@dataclass
class CliContext:
    server: str
    token: str | None
    data_dir: Path
    debug: bool
    ca_cert: Path | None = None

    def resolved_token(self) -> str | None:
        """The token given, or the local farm's admin token when there is one."""
        if self.token:
            return self.token
        path = self.data_dir / "admin.token"
        try:
            return path.read_text().strip() or None
        except OSError:
            return None

    def client(self) -> FarmClient:
        return FarmClient(self.server, self.resolved_token(), verify=tls_context(self.ca_cert))


def call(ctx: typer.Context, request: Callable[[FarmClient], T]) -> T:
    """One exchange with the farm, with the command's server and token."""
    cli: CliContext = ctx.obj
    with cli.client() as client:
        return request(client)
