"""`binfarm repo add|list|remove`: the ebuild repositories the farm builds from."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from binfarm.cli.context import call
from binfarm.cli.render import Table, console

__all__ = ["app"]

app = typer.Typer(help="Register and list ebuild repositories.", no_args_is_help=True)


@app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The repository's name (profiles/repo_name).")],
    location: Annotated[Path, typer.Argument(help="Its directory, on the farm's server.")],
    distfiles: Annotated[Path | None, typer.Option(
        help="A directory of distfiles the farm's mirror serves for it.")] = None,
) -> None:
    """Register a repository; profiles' make.profile and repos.conf may then name it."""
    where = str(distfiles.absolute()) if distfiles else None
    repo = call(ctx, lambda client: client.add_repository(name, str(location.absolute()), where))
    console.print(f"added repository {repo.name} at {repo.location}")


@app.command("list")
def list_repositories(ctx: typer.Context) -> None:
    """The farm's repositories."""
    repos = call(ctx, lambda client: client.list_repositories())
    table = Table("repository", "location", "distfiles")
    for repo in repos:
        table.add_row(repo.name, repo.location, repo.distfiles or "-")
    console.print(table)


@app.command("remove")
def remove(ctx: typer.Context, name: str) -> None:
    """Forget a repository (refused while a profile's make.profile points into it)."""
    repo = call(ctx, lambda client: client.remove_repository(name))
    console.print(f"removed repository {repo.name} ({repo.location})")
