"""`binfarm distcc`: the compile hosts the farm schedules builds' compiles on."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Annotated

import typer
from rich.console import Group
from rich.live import Live
from rich.text import Text

from binfarm.api.models import DistccActivityOut, DistccHostOut
from binfarm.cli.context import CliContext, call
from binfarm.cli.render import Table, console, markup_safe, when

__all__ = ["app"]

app = typer.Typer(help="distcc hosts: the farm probes them and leases their slots to builds.",
                  no_args_is_help=True)

HostArg = Annotated[str, typer.Argument(help="HOST[:PORT] (port 3632 by default).")]
_STATE_STYLES = {"up": "green", "down": "bold red", "mismatched": "yellow"}


def _name(host: str) -> str:
    """The registered name (HOST:PORT) of what the user typed."""
    return host if host.rsplit(":", 1)[-1].isdigit() and not host.endswith("]") else \
        f"{host}:3632"


def _state(h: DistccHostOut) -> Text:
    text = Text(h.state, style=_STATE_STYLES.get(h.state, ""))
    if h.draining:
        text.append(" draining", style="yellow")
    return text


def _in_flight(h: DistccHostOut) -> str:
    """Jobs in flight on the host from its stats counters: accepted less finished."""
    if not h.stats:
        return "-"
    stats = {k: int(v) for k, v in h.stats.items() if v.isdigit()}
    done = sum(stats.get(f"dcc_{k}", 0) for k in (
        "compile_ok", "compile_error", "compile_timeout", "cli_disconnect", "other",
        "rej_bad_req", "rej_overload"))
    return str(max(0, stats.get("dcc_tcp_accept", 0) - done))


def _hosts_table(hosts: Iterable[DistccHostOut]) -> Table:
    table = Table("host", "state", "slots used/free", "builds", "in flight (stats)",
                  "gcc", "why")
    for h in hosts:
        table.add_row(h.name, _state(h), f"{h.used}/{max(0, h.slots - h.used)}",
                      " ".join(map(str, h.builds)) or "-", _in_flight(h), h.compiler or "-",
                      Text(h.reason or "", style="red") if h.reason else "")
    return table


def _print_host(h: DistccHostOut, warnings: Iterable[str] = ()) -> None:
    console.print(f"[bold]{markup_safe(h.name)}[/]: ", _state(h), f", {h.slots} slots "
                  f"({h.used} leased{f' to builds {h.builds}' if h.builds else ''})",
                  highlight=False)
    if h.reason:
        console.print(f"  why: {markup_safe(h.reason)}", highlight=False)
    console.print(f"  gcc: {markup_safe(h.compiler or 'unknown')}; compiles with "
                  f"{', '.join(h.compilers) or 'nothing yet'}", highlight=False)
    if h.probed_at:
        console.print(f"  probed: {when(h.probed_at)}", highlight=False)
    if h.stats:
        console.print(f"  stats ({when(h.stats_at or 0)}): {h.stats.get('dcc_compile_ok', '?')} "
                      f"compiled, {h.stats.get('dcc_compile_error', '?')} errors, "
                      f"{h.stats.get('dcc_other', '?')} refused or other, in flight "
                      f"{_in_flight(h)}, free space {h.stats.get('dcc_free_space', '?')}",
                      highlight=False)
    for warning in [*warnings, *([h.warning] if h.warning and not warnings else [])]:
        console.print(f"[yellow]warning:[/] {markup_safe(warning)}", highlight=False)


@app.command("add")
def add(ctx: typer.Context, host: HostArg,
        slots: Annotated[int, typer.Option(help="Compiles at once (at most distccd's --jobs).")]
        ) -> None:
    """Probe a host and add it (refused if it runs any compiler it is sent)."""
    added = call(ctx, lambda client: client.add_distcc_host(host, slots))
    _print_host(added.host, added.warnings)


@app.command("list")
def list_hosts(ctx: typer.Context) -> None:
    """The hosts, their state and slots."""
    console.print(_hosts_table(call(ctx, lambda client: client.distcc_hosts())))


@app.command("show")
def show(ctx: typer.Context, host: HostArg) -> None:
    """One host: state and why, gcc, last probe, stats page."""
    _print_host(call(ctx, lambda client: client.distcc_host(_name(host))))


@app.command("drain")
def drain(ctx: typer.Context, host: HostArg,
          undo: Annotated[bool, typer.Option(help="Lease its slots again.")] = False) -> None:
    """Lease no more of its slots (builds holding some keep them)."""
    _print_host(call(ctx, lambda client: client.drain_distcc_host(_name(host), undo=undo)))


@app.command("remove")
def remove(ctx: typer.Context, host: HostArg) -> None:
    """Forget a host."""
    removed = call(ctx, lambda client: client.remove_distcc_host(_name(host)))
    console.print(f"removed {markup_safe(removed.name)}", highlight=False)


@app.command("probe")
def probe(ctx: typer.Context, host: Annotated[str | None, typer.Argument(
        help="Only this host [default: all].")] = None) -> None:
    """Probe now: a real compile through distcc on each host, and its stats page."""
    hosts = call(ctx, lambda client: client.probe_distcc_hosts(_name(host) if host else None))
    console.print(_hosts_table(hosts))


@app.command("status")
def status(ctx: typer.Context) -> None:
    """Hosts up or down and why, slots used and free, the builds holding them."""
    hosts = call(ctx, lambda client: client.distcc_hosts())
    console.print(_hosts_table(hosts))
    up = [h for h in hosts if h.state == "up" and not h.draining]
    console.print(f"{len(up)} of {len(hosts)} hosts up; "
                  f"{sum(h.used for h in hosts)} of {sum(h.slots for h in up)} slots leased",
                  highlight=False)


def _top(activity: list[DistccActivityOut]) -> Table:
    """What each host compiles now, as distccmon-text shows it, with the build."""
    table = Table("build", "worker", "pid", "phase", "file", "host[slot]", box=None)
    rows = sorted(((a, t) for a in activity for t in a.tasks),
                  key=lambda at: (at[1].host, at[1].slot))
    for a, t in rows:
        table.add_row(str(a.build), a.worker, str(t.pid), t.phase, t.file,
                      f"{t.host}[{t.slot}]")
    return table


@app.command("top")
def top(
    ctx: typer.Context,
    interval: Annotated[float, typer.Option(help="Seconds between refreshes.")] = 1.0,
    iterations: Annotated[int, typer.Option(help="Stop after this many; 0: never.")] = 0,
) -> None:
    """What each host compiles now, from the workers' distcc state files."""
    cli: CliContext = ctx.obj
    with cli.client() as client, Live(console=console, auto_refresh=False) as live:
        shown = 0
        while True:
            activity = client.distcc_activity()
            busy = sum(len(a.tasks) for a in activity)
            live.update(Group(_top(activity), Text(f"{busy} compiles in flight")),
                        refresh=True)
            shown += 1
            if iterations and shown >= iterations:
                return
            time.sleep(interval)
