"""`binfarm explain|show`: why a machine gets (or compiles) a package, and what a binary is."""

from __future__ import annotations

from typing import Annotated

import typer

from binfarm.cli.context import CliContext, call
from binfarm.cli.render import console, print_explanations, print_instance, print_plan

__all__ = ["explain", "plan", "show"]


def explain(
    ctx: typer.Context,
    atom: Annotated[str, typer.Argument(help="The package, as emerge takes it.")],
    profile: Annotated[list[str], typer.Option("--profile", "-p",
                                               help="A profile; repeat for several.")],
) -> None:
    """For each profile: its build key, the stored binaries, and why each fits or not."""
    print_explanations(call(ctx, lambda client: client.explain(atom, profile)))


def plan(
    ctx: typer.Context,
    profile: Annotated[list[str] | None, typer.Option(
        "--profile", "-p", help="A profile to plan; repeat [default: every profile].")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
    enqueue: Annotated[bool, typer.Option(help="Queue the missing builds.")] = False,
    jobs: Annotated[int, typer.Option(help="Profiles to resolve at once.")] = 1,
) -> None:
    """Which builds the fleet's worlds need, how many are shared, and what splits them."""
    cli: CliContext = ctx.obj
    with cli.client() as client, console.status("resolving every world with Portage..."):
        result = client.plan(profile or [], jobs=jobs, enqueue=enqueue)
    if as_json:
        print(result.model_dump_json(indent=2))
    else:
        print_plan(result)


def show(
    ctx: typer.Context,
    instance: Annotated[str, typer.Argument(help="SHA-256 (8+ leading digits) or PATH.")],
) -> None:
    """A stored binary: its key, everything the key was made of, what CPU it needs."""
    print_instance(call(ctx, lambda client: client.get_instance(instance)))
