"""`binfarm worker`: build for a farm from another machine."""

from __future__ import annotations

import signal
import socket
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from binfarm.api.client import FarmClient, tls_context
from binfarm.cli.context import CliContext
from binfarm.logs import configure
from binfarm.settings import load_settings
from binfarm.worker.loop import Worker

__all__ = ["worker"]


def worker(
    ctx: typer.Context,
    server: Annotated[str | None, typer.Option(help="URL of the farm [default: --server].")
                      ] = None,
    token: Annotated[str | None, typer.Option(
        help="A worker (or admin) token [default: --token].")] = None,
    slots: Annotated[int, typer.Option(help="Builds to run at once.")] = 1,
    name: Annotated[str | None, typer.Option(help="Worker name [default: host name].")] = None,
    work_dir: Annotated[Path, typer.Option(
        help="Build roots, distfiles and logs of this worker.")] = Path("var/worker"),
    ca_cert: Annotated[Path | None, typer.Option(
        help="CA certificate (PEM) of an https farm [default: --ca-cert, or the system's "
             "CAs].")] = None,
) -> None:
    """Lease builds from the farm at --server (with a worker or admin --token) and run them."""
    cli: CliContext = ctx.obj
    configure(debug=cli.debug)
    settings = load_settings(worker={"name": name or socket.gethostname(), "slots": slots})
    token = token or cli.resolved_token()
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    work_dir = work_dir.absolute()
    timeout_s = settings.worker.http_timeout_s
    ca = (ca_cert or cli.ca_cert)
    ca = ca.absolute() if ca else None
    with FarmClient(server or cli.server, token, timeout_s=timeout_s,
                    verify=tls_context(ca)) as client:
        Worker(settings.worker, client, work_dir, distdir=work_dir / "distfiles",
               build_timeout_s=settings.portage.build_timeout_s, ca_file=ca).run(stop)
