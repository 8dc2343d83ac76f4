"""`binfarm profile add|list|show`: machine types as Portage configuration trees."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from binfarm.cli.context import CliContext, call
from binfarm.cli.render import console, print_profile, print_profiles
from binfarm.profiles.archive import MACHINE_LOCAL_FILES, find_make_profile, pack_tree
from binfarm.profiles.model import check_profile_name

__all__ = ["app"]

app = typer.Typer(help="Add and inspect profiles (machine types).", no_args_is_help=True)


@app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Name of the profile (machine type).")],
    config_dir: Annotated[Path, typer.Argument(
        help="An /etc/portage-shaped tree: make.profile, make.conf, package.use, ...",
        exists=True, file_okay=False, resolve_path=False)],
    cpu: Annotated[str | None, typer.Option(
        help="What the profile's machines can run: an x86-64 level (x86-64-v2), a gcc "
             "-march name (haswell) or a CPU flag list ('avx2 sse4_2 ...') [default: "
             "what its own flags need].")] = None,
    exact_flags: Annotated[bool, typer.Option(
        help="Only take binaries built with exactly this profile's CFLAGS.")] = False,
    world: Annotated[Path | None, typer.Option(
        help="The @world of its machines (a /var/lib/portage/world file).", exists=True,
        dir_okay=False)] = None,
) -> None:
    """Send a configuration tree to the farm, which checks it with Portage and keeps a copy."""
    cli: CliContext = ctx.obj
    check_profile_name(name)
    ref = find_make_profile(config_dir)
    with cli.client() as client:
        # binrepos.conf holds this machine's credentials: never part of a profile.
        packed = pack_tree(config_dir, MACHINE_LOCAL_FILES)
        profile = client.add_profile(name, packed, str(ref) if ref else None, cpu=cpu,
                                     exact_flags=exact_flags)
        if world is not None:
            profile = client.set_world(name, read_world(world))
    console.print(f"[green]added profile[/] {profile.name}")
    print_profile(profile)


@app.command("cpu")
def set_cpu(
    ctx: typer.Context,
    name: str,
    cpu: Annotated[str | None, typer.Argument(
        help="x86-64 level, -march name or CPU flag list; omit for what its flags need.")
    ] = None,
    exact_flags: Annotated[bool | None, typer.Option(
        "--exact-flags/--any-flags", help="Take only binaries with this profile's CFLAGS.")
    ] = None,
) -> None:
    """Change what a profile's machines can run."""
    print_profile(call(ctx, lambda client: client.set_profile_cpu(name, cpu, exact_flags)))


@app.command("world")
def set_world(
    ctx: typer.Context,
    name: str,
    atoms: Annotated[list[str], typer.Argument(help="The profile's @world, whole.")],
) -> None:
    """Set a profile's @world: what its machines install."""
    print_profile(call(ctx, lambda client: client.set_world(name, atoms)))


def read_world(path: Path) -> list[str]:
    """The atoms of a world file: one a line, blank lines and comments left out."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


@app.command("list")
def list_profiles(ctx: typer.Context) -> None:
    """The farm's profiles."""
    print_profiles(call(ctx, lambda client: client.list_profiles()))


@app.command("show")
def show(ctx: typer.Context, name: str) -> None:
    """A profile's effective settings, as Portage evaluates them."""
    print_profile(call(ctx, lambda client: client.get_profile(name)))
