"""`binfarm publish`: the published tree, and the nginx configuration that serves it."""

from __future__ import annotations

from typing import Annotated

import typer

from binfarm.cli.context import CliContext, call
from binfarm.cli.render import Table, console

__all__ = ["publish"]


def publish(
    ctx: typer.Context,
    nginx_config: Annotated[bool, typer.Option(
        "--nginx-config", help="Print an nginx `server` block serving the tree instead.")
    ] = False,
    listen: Annotated[str, typer.Option(help="Where that nginx listens.")] = "127.0.0.1:8080",
) -> None:
    """Write each profile's channels to <data_dir>/published/<profile>/current and
    .../<profile>/testing/current (serve does so on every change): a plain tree for nginx,
    NFS, rsync, FTP, file://."""
    cli: CliContext = ctx.obj
    if nginx_config:
        typer.echo(call(ctx, lambda client: client.nginx_config(listen, cli.server)), nl=False)
        return
    table = Table("profile", "channel", "generation", "packages", "directory", "")
    for p in call(ctx, lambda client: client.publish()):
        table.add_row(p.profile, p.channel, str(p.generation), str(p.packages), p.directory,
                      "written" if p.created else "current already")
    console.print(table)
