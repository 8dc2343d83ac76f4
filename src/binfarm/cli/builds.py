"""`binfarm request|builds|log`: ask for builds, watch them, read their logs."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from typing import Annotated

import typer
from rich.live import Live
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from binfarm.api.client import FarmClient
from binfarm.api.models import FINAL_STATES, BuildOut
from binfarm.cli.context import CliContext, call
from binfarm.cli.render import (
    STATE_STYLES,
    console,
    log_tail,
    markup_safe,
    print_builds,
    queue_view,
    timings_table,
    workers_table,
)
from binfarm.errors import InvalidInput

__all__ = ["cancel", "list_builds", "list_workers", "priority", "request", "requeue", "show_log",
           "watch"]

_POLL_S = 0.25  # `--wait` ends at most this long after its builds
_TAIL_BYTES = 64 << 10  # what `request --wait` shows of a failed build's log


def request(
    ctx: typer.Context,
    atoms: Annotated[list[str], typer.Argument(help="Atoms to build, as emerge takes them.")],
    profile: Annotated[str, typer.Option("--profile", "-p", help="Profile to build for.")],
    wait: Annotated[bool, typer.Option(help="Wait for the builds and show progress.")] = False,
    env: Annotated[list[str] | None, typer.Option(
        "--env", "-E", help="VAR=VALUE for the build (USE, CFLAGS, FEATURES, MAKEOPTS, ...); "
        "repeatable.")] = None,
    priority: Annotated[int, typer.Option(help="Higher goes first (-100 to 100).")] = 0,
    then: Annotated[str | None, typer.Option(
        help="Run `SCRIPT STATUS BUILD_ID` here when each build ends (implies --wait).")
    ] = None,
    webhook: Annotated[str | None, typer.Option(
        help="URL the farm POSTs a JSON notice to when each build ends.")] = None,
    requester: Annotated[str | None, typer.Option(
        help="Who asks [default: this host's name].")] = None,
) -> None:
    """Queue builds of ATOMS for a profile (joining identical builds already queued)."""
    cli: CliContext = ctx.obj
    overrides = _parse_env(env or [])
    with cli.client() as client:
        builds = client.request_builds(profile, atoms, env=overrides, priority=priority,
                                       requester=requester or socket.gethostname(),
                                       webhook=webhook)
        for b in builds:
            note = " (already built: no new build)" if b.state == "succeeded" else ""
            console.print(f"build {b.id}: {b.cpv} for {b.profile} [{STATE_STYLES[b.state]}]"
                          f"{b.state}[/]{note}")
            if b.stuck:
                console.print(f"[bold yellow]warning:[/] build {b.id} will wait until a worker "
                              f"that can run it registers: {markup_safe(b.waiting or '')}")
        if not wait and then is None:
            return
        final = _wait(client, [b.id for b in builds])
        for b in final if then else []:
            subprocess.run([then, b.state, str(b.id)], check=False)
        failed = [b for b in final if b.state != "succeeded"]
        for b in final:
            style = STATE_STYLES[b.state]
            packages = ", ".join(p.path.rsplit("/", 1)[-1] for p in b.packages)
            console.print(f"build {b.id}: {b.cpv} [{style}]{b.state}[/] {markup_safe(packages)}")
        for b in failed:
            console.print(f"[bold red]build {b.id} of {b.cpv} failed:[/] "
                          f"{markup_safe(b.error or '')}")
            end = client.read_log(b.id, max(b.log_bytes - _TAIL_BYTES, 0))
            console.print(log_tail(end.decode(errors="replace")),
                          markup=False, highlight=False)
            console.print(f"(the whole log: binfarm log {b.id})")
    if failed:
        raise typer.Exit(1)


def list_builds(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="Show at most this many, newest first.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per build.")] = False,
) -> None:
    """The farm's builds, newest first."""
    builds = call(ctx, lambda client: client.list_builds(limit if not as_json else 10_000))
    if not as_json:
        print_builds(builds)
        return
    for b in builds:
        print(json.dumps({"id": b.id, "package": b.cpv, "profile": b.profile, "state": b.state,
                          "worker": b.worker, "requesters": b.requesters,
                          "priority": b.priority, "attempts": b.attempts, "env": b.env,
                          "waiting": b.waiting}))


BuildIdArg = Annotated[int, typer.Argument(help="The build's id.")]


def cancel(ctx: typer.Context, build_id: BuildIdArg) -> None:
    """Cancel a queued or running build."""
    _print_state(call(ctx, lambda client: client.cancel(build_id)))


def requeue(ctx: typer.Context, build_id: BuildIdArg) -> None:
    """Queue a failed or cancelled build again (admin)."""
    _print_state(call(ctx, lambda client: client.requeue(build_id)))


def priority(ctx: typer.Context, build_id: BuildIdArg,
             value: Annotated[int, typer.Argument(help="-100 to 100; higher goes first.",
                                                  min=-100, max=100)]) -> None:
    """Move a queued build up or down the queue (admin)."""
    b = call(ctx, lambda client: client.set_priority(build_id, value))
    _print_state(b, f", priority {b.priority}")


def _print_state(b: BuildOut, more: str = "") -> None:
    console.print(f"build {b.id}: {b.cpv} [{STATE_STYLES[b.state]}]{b.state}[/]{more}")


def watch(
    ctx: typer.Context,
    interval: Annotated[float, typer.Option(help="Seconds between refreshes.")] = 1.0,
    iterations: Annotated[int, typer.Option(help="Stop after this many refreshes; 0: never.")
                          ] = 0,
) -> None:
    """A live view of the queue and the workers."""
    cli: CliContext = ctx.obj
    with cli.client() as client, Live(console=console, auto_refresh=False) as live:
        shown = 0
        while True:
            active = client.list_builds(200, states=["queued", "running"])
            live.update(queue_view(active, client.list_workers()), refresh=True)
            shown += 1
            if iterations and shown >= iterations:
                return
            time.sleep(interval)


def list_workers(ctx: typer.Context) -> None:
    """The workers: what they run, when last seen, whether benched."""
    console.print(workers_table(call(ctx, lambda client: client.list_workers())))


def _parse_env(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise InvalidInput(f"--env wants VAR=VALUE, not {pair!r}")
        out[name] = value
    return out


def show_log(
    ctx: typer.Context,
    build_id: Annotated[int, typer.Argument(help="The build's id.")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Follow a running build.")] = False,
    timings: Annotated[bool, typer.Option(
        "--timings", help="Print where the build's time went instead.")] = False,
) -> None:
    """Print a build's log (or with --timings, where its time went)."""
    cli: CliContext = ctx.obj
    with cli.client() as client:
        if timings:
            console.print(timings_table(client.get_build(build_id)))
            return
        offset = 0

        def drain() -> None:  # the farm answers a bounded range at a time
            nonlocal offset
            while chunk := client.read_log(build_id, offset):
                sys.stdout.buffer.write(chunk)
                sys.stdout.flush()
                offset += len(chunk)

        while True:
            drain()
            if not follow or client.get_build(build_id).state in FINAL_STATES:
                if follow:
                    drain()
                return
            time.sleep(_POLL_S)


def _wait(client: FarmClient, build_ids: list[int]) -> list[BuildOut]:
    """Poll until every build is final, with a line of progress per build."""
    said: dict[int, str | None] = {}
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        tasks = {bid: progress.add_task(f"build {bid}", total=None) for bid in build_ids}

        def show(builds: list[BuildOut]) -> None:
            for build in builds:
                if build.waiting != said.get(build.id) and build.waiting:
                    progress.console.print(f"build {build.id} waits: "
                                           f"{markup_safe(build.waiting)}")
                said[build.id] = build.waiting
                last = (_last_line(client, build) if build.state == "running"
                        else f"[dim]{markup_safe(build.waiting or '')}[/]")
                progress.update(tasks[build.id], description=(
                    f"build {build.id} {build.cpv} [{STATE_STYLES[build.state]}]{build.state}"
                    f"[/] {last}"))

        return client.wait_for_builds(build_ids, poll_s=_POLL_S, progress=show)


def _last_line(client: FarmClient, build: BuildOut) -> str:
    tail = client.read_log(build.id, max(build.log_bytes - 400, 0)).decode(errors="replace")
    lines = [line for line in tail.splitlines() if line.strip()]
    return f"[dim]{lines[-1][:80]}[/]" if lines else ""
