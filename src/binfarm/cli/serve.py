"""`binfarm serve`: a complete farm in one process.

The HTTP server (API, binhost, mirror) runs in the main thread under uvicorn; embedded
workers run in threads and reach it over loopback HTTP, exactly as remote workers do.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
import uvicorn

from binfarm.api.client import FarmClient, tls_context
from binfarm.cli.context import CliContext
from binfarm.farm import Farm
from binfarm.logs import configure
from binfarm.server.app import create_app
from binfarm.server.webhooks import NoticeDispatcher
from binfarm.settings import Settings, load_settings, parse_listen
from binfarm.worker.loop import Worker

__all__ = ["serve"]

log = logging.getLogger(__name__)


def serve(
    ctx: typer.Context,
    data_dir: Annotated[Path | None, typer.Option(
        help="Directory for the database, store, logs and build roots [default: ./var].")] = None,
    listen: Annotated[str | None, typer.Option(
        help="HOST:PORT to listen on [default: 127.0.0.1:7979]; port 0 picks one.")] = None,
    example: Annotated[bool, typer.Option(
        help="Register the example repository and profiles if absent.")] = False,
    workers: Annotated[int | None, typer.Option(
        help="Embedded workers to run [default: 1]; 0 runs none.")] = None,
    database: Annotated[str | None, typer.Option(
        help="SQLAlchemy database URL [default: SQLite in the data dir].")] = None,
    tls_cert: Annotated[Path | None, typer.Option(
        help="Serve HTTPS with this PEM certificate (chain); needs --tls-key.")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="The certificate's PEM key.")] = None,
) -> None:
    """Run the farm: HTTP API, binhost, embedded worker(s), SQLite, all in one process."""
    cli: CliContext = ctx.obj
    configure(debug=cli.debug)
    overrides: dict[str, Any] = {"data_dir": data_dir or cli.data_dir, "database": database,
                                 "workers": workers}
    server_overrides = {k: v for k, v in (("listen", listen), ("tls_cert", tls_cert),
                                          ("tls_key", tls_key)) if v is not None}
    if server_overrides:
        overrides["server"] = server_overrides
    settings = load_settings(**{k: v for k, v in overrides.items() if v is not None})
    farm = Farm(settings)
    farm.ensure_admin_token()
    names = [_worker_name(settings, i) for i in range(settings.workers)]
    for name in names:  # this process's own workers died with the last one
        if requeued := farm.queue.requeue_worker(name):
            log.info("requeued %s builds of worker=%s after a restart", requeued, name)
    if extended := farm.queue.extend_leases(settings.queue.lease_ttl_s):
        log.info("gave %s running builds %s s to report back", extended,
                 settings.queue.lease_ttl_s)
    if example:
        farm.register_example()
    report = farm.resigning.sign_unsigned()
    if report.resigned or report.failed:
        log.info("signed %s packages stored before the farm signed; %s could not be "
                 "(they are not served)", report.resigned, len(report.failed))
    host, port = parse_listen(settings.server.listen)
    tls = settings.server.tls_cert is not None
    if not tls and not _loopback(host):
        log.warning("serving plain HTTP on %s: tokens and binhost credentials (Basic auth) "
                    "travel in clear; use --tls-cert/--tls-key or a TLS proxy", host)
    forwarded = settings.server.forwarded_allow_ips
    server = _FarmServer(uvicorn.Config(
        create_app(farm), host=host, port=port, proxy_headers=forwarded is not None,
        forwarded_allow_ips=forwarded, log_level="warning", timeout_graceful_shutdown=5,
        ssl_certfile=settings.server.tls_cert, ssl_keyfile=settings.server.tls_key))
    stop = threading.Event()
    starter = threading.Thread(target=_start_workers, name="workers", daemon=True,
                               args=(server, settings, farm, names, stop))
    notices = threading.Thread(target=NoticeDispatcher(farm).run, args=(stop,),
                               name="notices", daemon=True)
    publisher = threading.Thread(target=farm.publisher.run, args=(stop,), name="publisher",
                                 daemon=True)
    prober = threading.Thread(target=farm.compile_hosts.run, args=(stop,), name="distcc-probe",
                              daemon=True)
    if settings.publish.enabled:
        farm.publisher.tree.check_filesystem()  # refused before serving, not in a thread
    starter.start()
    notices.start()
    prober.start()
    if settings.publish.enabled:
        publisher.start()
    try:
        server.run()
    finally:
        stop.set()  # the workers' builds are killed (their whole process groups)
        farm.changes.bump()  # wakes the publisher, which sees `stop`
        starter.join(timeout=30)
        notices.join(timeout=30)
        if publisher.is_alive():
            publisher.join(timeout=30)
        for name in names:
            if requeued := farm.queue.requeue_worker(name):
                log.info("requeued %s builds of worker=%s at shutdown", requeued, name)
        farm.close()


class _FarmServer(uvicorn.Server):
    """uvicorn raises SIGTERM/SIGINT again once it has shut down, which would end the
    process before the embedded workers stop their builds (their emerge would live on);
    this server only takes the signal as the request to exit, and `serve` then stops
    the workers, requeues their builds and returns."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self._exit_asked)
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _exit_asked(self, sig: int, _frame: FrameType | None) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True  # a second Ctrl-C: do not wait for connections
        self.should_exit = True


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _worker_name(settings: Settings, index: int) -> str:
    return settings.worker.name if settings.workers == 1 else f"{settings.worker.name}-{index + 1}"


def _start_workers(server: uvicorn.Server, settings: Settings, farm: Farm,
                   names: list[str], stop: threading.Event) -> None:
    while not server.started:
        if stop.wait(0.05):
            return
    sock = server.servers[0].sockets[0].getsockname()
    cert = settings.server.tls_cert
    url = f"{'https' if cert else 'http'}://{sock[0]}:{sock[1]}"
    print(f"binfarm serving on {url} (data dir {settings.data_dir})", flush=True)
    threads = []
    for name in names:
        worker = Worker(
            settings.worker.model_copy(update={"name": name}),
            FarmClient(url, farm.embedded_worker_token(name),
                       timeout_s=settings.worker.http_timeout_s,
                       verify=tls_context(cert, pinned=True)),
            settings.data_dir / "worker" / name,
            distdir=farm.distdir,
            build_timeout_s=settings.portage.build_timeout_s,
            # Portage in the build roots checks the farm's name too: the certificate must
            # name the address it listens on (README: HTTPS).
            ca_file=cert,
        )
        thread = threading.Thread(target=worker.run, args=(stop,), name=f"worker-{name}")
        thread.start()
        threads.append(thread)
    stop.wait()
    for thread in threads:
        thread.join()
