"""`binfarm request|builds|log`: ask for builds, watch them, read their logs."""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from binfarm.api.client import FarmClient
from binfarm.api.models import BuildOut
from binfarm.cli.context import CliContext
from binfarm.cli.render import STATE_STYLES, console, log_tail, print_builds

__all__ = ["list_builds", "request", "show_log"]

_FINAL = {"succeeded", "failed", "cancelled"}
_POLL_S = 1.0


def request(
    ctx: typer.Context,
    atoms: Annotated[list[str], typer.Argument(help="Atoms to build, as emerge takes them.")],
    profile: Annotated[str, typer.Option("--profile", "-p", help="Profile to build for.")],
    wait: Annotated[bool, typer.Option(help="Wait for the builds and show progress.")] = False,
) -> None:
    """Queue builds of ATOMS for a profile (joining identical builds already queued)."""
    cli: CliContext = ctx.obj
    with cli.client() as client:
        builds = client.request_builds(profile, atoms)
        for b in builds:
            note = " (already built: no new build)" if b.state == "succeeded" else ""
            console.print(f"build {b.id}: {b.cpv} for {b.profile} [{STATE_STYLES[b.state]}]"
                          f"{b.state}[/]{note}")
        if not wait:
            return
        final = _wait(client, [b.id for b in builds])
        failed = [b for b in final if b.state != "succeeded"]
        for b in final:
            style = STATE_STYLES[b.state]
            packages = ", ".join(p.path.rsplit("/", 1)[-1] for p in b.packages)
            console.print(f"build {b.id}: {b.cpv} [{style}]{b.state}[/] {packages}")
        for b in failed:
            console.print(f"[bold red]build {b.id} of {b.cpv} failed:[/] {b.error or ''}")
            console.print(log_tail(client.read_log(b.id).decode(errors="replace")),
                          markup=False, highlight=False)
            console.print(f"(the whole log: binfarm log {b.id})")
    if failed:
        raise typer.Exit(1)


def list_builds(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="Show at most this many, newest first.")] = 50,
) -> None:
    """The farm's builds, newest first."""
    cli: CliContext = ctx.obj
    with cli.client() as client:
        print_builds(client.list_builds(limit))


def show_log(
    ctx: typer.Context,
    build_id: Annotated[int, typer.Argument(help="The build's id.")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Follow a running build.")] = False,
) -> None:
    """Print a build's log."""
    cli: CliContext = ctx.obj
    with cli.client() as client:
        offset = 0
        while True:
            chunk = client.read_log(build_id, offset)
            sys.stdout.buffer.write(chunk)
            sys.stdout.flush()
            offset += len(chunk)
            if not follow or client.get_build(build_id).state in _FINAL:
                if follow:
                    sys.stdout.buffer.write(client.read_log(build_id, offset))
                return
            time.sleep(_POLL_S)


def _wait(client: FarmClient, build_ids: list[int]) -> list[BuildOut]:
    """Poll until every build is final, with a line of progress per build."""
    latest: dict[int, BuildOut] = {}
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        tasks = {bid: progress.add_task(f"build {bid}", total=None) for bid in build_ids}
        while True:
            for bid in build_ids:
                build = latest[bid] = client.get_build(bid)
                last = _last_line(client, build) if build.state == "running" else ""
                progress.update(tasks[bid], description=(
                    f"build {bid} {build.cpv} [{STATE_STYLES[build.state]}]{build.state}[/]"
                    f" {last}"))
            if all(b.state in _FINAL for b in latest.values()):
                return [latest[bid] for bid in build_ids]
            time.sleep(_POLL_S)


def _last_line(client: FarmClient, build: BuildOut) -> str:
    tail = client.read_log(build.id, max(build.log_bytes - 400, 0)).decode(errors="replace")
    lines = [line for line in tail.splitlines() if line.strip()]
    return f"[dim]{lines[-1][:80]}[/]" if lines else ""
