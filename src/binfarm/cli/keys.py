"""`binfarm explain|show`: why a machine gets (or compiles) a package, and what a binary is."""

from __future__ import annotations

from typing import Annotated

import typer

from binfarm.cli.context import CliContext
from binfarm.cli.render import print_explanations, print_instance

__all__ = ["explain", "show"]


def explain(
    ctx: typer.Context,
    atom: Annotated[str, typer.Argument(help="The package, as emerge takes it.")],
    profile: Annotated[list[str], typer.Option("--profile", "-p",
                                               help="A profile; repeat for several.")],
) -> None:
    """For each profile: its build key, the stored binaries, and why each fits or not."""
    cli: CliContext = ctx.obj
    with cli.client() as client:
        print_explanations(client.explain(atom, profile))


def show(
    ctx: typer.Context,
    instance: Annotated[str, typer.Argument(help="SHA-256 (8+ leading digits) or PATH.")],
) -> None:
    """A stored binary: its key, everything the key was made of, what CPU it needs."""
    cli: CliContext = ctx.obj
    with cli.client() as client:
        print_instance(client.get_instance(instance))
