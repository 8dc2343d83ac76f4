"""The `binfarm` command: parse, call, render. Typer and Rich are used only here."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from binfarm.cli import (
    builds,
    client,
    distcc,
    image,
    keys,
    profile,
    publish,
    repos,
    rollout,
    roots,
    serve,
    signing,
    store,
    tokens,
    worker,
)
from binfarm.cli.context import CliContext
from binfarm.cli.render import markup_safe
from binfarm.errors import BinfarmError
from binfarm.settings import DEFAULT_SERVER

__all__ = ["app", "main"]

app = typer.Typer(
    name="binfarm",
    help="A build farm and binary package host for fleets of Gentoo machines.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("serve")(serve.serve)
app.add_typer(profile.app, name="profile")
app.add_typer(repos.app, name="repo")
app.add_typer(roots.app, name="root")
app.command("request")(builds.request)
app.command("builds")(builds.list_builds)
app.command("log")(builds.show_log)
app.command("cancel")(builds.cancel)
app.command("requeue")(builds.requeue)
app.command("priority")(builds.priority)
app.command("watch")(builds.watch)
app.command("workers")(builds.list_workers)
app.command("worker")(worker.worker)
app.add_typer(tokens.app, name="token")
app.add_typer(signing.app, name="key")
app.add_typer(client.app, name="client")
app.command("hosts")(client.list_hosts)
host_app = typer.Typer(help="Move a host between profiles and channels.", no_args_is_help=True)
host_app.command("move")(client.move_host)
host_app.command("channel")(rollout.set_host_channel)
app.add_typer(host_app, name="host")
profile.app.command("rollout")(rollout.rollout_rule)
app.command("promote")(rollout.promote)
app.command("withdraw")(rollout.withdraw)
app.command("rollback")(rollout.rollback)
app.command("history")(rollout.history)
app.command("publish")(publish.publish)
app.command("gc")(store.collect_garbage)
app.command("pin")(store.pin)
app.command("unpin")(store.unpin)
app.command("pins")(store.list_pins)
app.add_typer(store.app, name="store")
app.command("explain")(keys.explain)
app.command("plan")(keys.plan)
app.command("show")(keys.show)
app.add_typer(image.app, name="image")
app.add_typer(distcc.app, name="distcc")

_stderr = Console(stderr=True)


@app.callback()
def _global(
    ctx: typer.Context,
    server: Annotated[str, typer.Option(envvar="BINFARM_SERVER",
                                        help="URL of the farm.")] = DEFAULT_SERVER,
    token: Annotated[str | None, typer.Option(
        envvar="BINFARM_TOKEN", help="API token; default: <data-dir>/admin.token.")] = None,
    data_dir: Annotated[Path, typer.Option(
        envvar="BINFARM_DATA_DIR", help="The local farm's data directory.")] = Path("var"),
    debug: Annotated[bool, typer.Option(help="Show tracebacks and debug logs.")] = False,
    ca_cert: Annotated[Path | None, typer.Option(
        envvar="BINFARM_CA_CERT", help="CA certificate (PEM) an https farm is checked "
        "against [default: the system's CAs].")] = None,
) -> None:
    ctx.obj = CliContext(server=server, token=token, data_dir=data_dir, debug=debug,
                         ca_cert=ca_cert)


def main() -> None:
    debug = "--debug" in sys.argv
    try:
        app()
    except BinfarmError as exc:
        if debug:
            raise
        _stderr.print(f"[bold red]error:[/] {markup_safe(str(exc))}", highlight=False,
                      markup=True)
        sys.exit(1)
