"""`binfarm root create|list|show|update|delete`: the chroot build roots of profiles."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from binfarm.cli.context import call
from binfarm.cli.render import console, print_root, print_roots
from binfarm.roots.upload import root_archive_chunks

__all__ = ["app"]

app = typer.Typer(help="Build a profile in a chroot root (a stage3) instead of a prefix.",
                  no_args_is_help=True)

Profile = Annotated[str, typer.Argument(help="The profile.")]


@app.command("create")
def create(
    ctx: typer.Context,
    profile: Profile,
    source: Annotated[Path, typer.Option(
        "--from", exists=True, help="A stage3 tarball, or a root directory with Portage.")],
) -> None:
    """Give PROFILE a chroot root: its builds then run in the stage3, entered with
    bubblewrap, and make binaries for `/`. Replacing a root starts workers over from it."""
    root = call(ctx, lambda client: client.set_root(profile, root_archive_chunks(source),
                                                    source.name))
    console.print(f"profile {root.profile} now builds in a chroot root from {root.source} "
                  f"(sha256 {root.digest[:12]}, {root.size} bytes)")


@app.command("list")
def list_roots(ctx: typer.Context) -> None:
    """The profiles that build in chroot roots, and each worker's copy."""
    print_roots(call(ctx, lambda client: client.list_roots()))


@app.command("show")
def show(ctx: typer.Context, profile: Profile) -> None:
    """A profile's chroot root: its archive, and each worker's copy with its disk use."""
    print_root(call(ctx, lambda client: client.get_root(profile)))


@app.command("update")
def update(ctx: typer.Context, profile: Profile) -> None:
    """Have workers bring their copy up to date with @system before their next build
    (they also do when the profile or a repository changes)."""
    root = call(ctx, lambda client: client.update_root(profile))
    console.print(f"profile {root.profile}: workers update their copy before the next build "
                  f"(generation {root.generation})")


@app.command("delete")
def delete(ctx: typer.Context, profile: Profile) -> None:
    """Go back to building PROFILE in a prefix; workers remove their copies."""
    root = call(ctx, lambda client: client.delete_root(profile))
    console.print(f"profile {root.profile} builds in a prefix again")
