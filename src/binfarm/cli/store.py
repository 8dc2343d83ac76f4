"""`binfarm gc`, `pin`, `unpin`, `pins` and `store du`: what the store keeps, and why."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated

import typer

from binfarm.api.models import GcDecisionOut, GcIn, UsageRowOut
from binfarm.cli.context import call
from binfarm.cli.render import Table, console, markup_safe, size_text, when

__all__ = ["app", "collect_garbage", "list_pins", "pin", "unpin"]

app = typer.Typer(help="The package store: its usage.", no_args_is_help=True)

_PERIOD = "30m, 24h, 7d, 2w or seconds"


def collect_garbage(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Say, per profile, what each rule keeps and what would go.")] = False,
    grace: Annotated[str, typer.Option(help=f"Nothing stored within this goes ({_PERIOD}).")
                     ] = "2d",
    generations: Annotated[str, typer.Option(
        help="What a channel's index listed within this stays.")] = "7d",
    hosts: Annotated[str, typer.Option(
        help="What a host reported installed within this stays.")] = "30d",
    keep: Annotated[int, typer.Option(
        help="Of the rest, the newest this many of each package version and USE stay.")] = 1,
) -> None:
    """Delete from the store the packages nothing needs: not what a channel lists now or
    listed recently, not what a host installed, not what is pinned, nothing young."""
    request = GcIn(dry_run=dry_run, grace=grace, generations=generations, hosts=hosts,
                   keep=keep)
    done = call(ctx, lambda client: client.collect_garbage(request))
    by_profile: dict[str, list[GcDecisionOut]] = defaultdict(list)
    for decision in done.decisions:
        by_profile[decision.instance.profile].append(decision)
    for profile, decisions in sorted(by_profile.items()):
        table = Table("rule", "instances", "size", title=f"built for {profile}",
                      title_justify="left")
        rules: dict[str, list[GcDecisionOut]] = defaultdict(list)
        for decision in decisions:
            rules[f"keeps: {decision.rule}" if decision.kept else "deletes"].append(decision)
        for rule, chosen in sorted(rules.items()):
            table.add_row(rule, str(len(chosen)), size_text(sum(d.instance.size for d in chosen)))
        console.print(table)
        for decision in rules.get("deletes", []):
            console.print(f"  {'would delete' if dry_run else 'deleted'} "
                          f"{decision.instance.path}: {markup_safe(decision.why)}",
                          highlight=False)
    doomed = sum(not d.kept for d in done.decisions)
    verb = "would free" if dry_run else "freed"
    console.print(f"{verb} {size_text(done.freed_bytes)}: {doomed} instance"
                  f"{'' if doomed == 1 else 's'}, {done.strays} stray file"
                  f"{'' if done.strays == 1 else 's'}"
                  + (f"; finished an interrupted collection of {done.finished}"
                     if done.finished else ""), highlight=False)


def pin(ctx: typer.Context,
        ref: Annotated[str, typer.Argument(help="A SHA-256 (8+ hex digits) or a PATH.")],
        reason: Annotated[str, typer.Option(help="Why, for `binfarm pins`.")] = "") -> None:
    """Keep an instance in the store whatever `binfarm gc`'s rules say."""
    pinned = call(ctx, lambda client: client.pin(ref, reason))
    console.print(f"pinned {pinned.instance.cpv} ({pinned.instance.path})", highlight=False)


def unpin(ctx: typer.Context,
          ref: Annotated[str, typer.Argument(help="A SHA-256 (8+ hex digits) or a PATH.")],
          ) -> None:
    """Let `binfarm gc`'s rules decide for an instance again."""
    call(ctx, lambda client: client.unpin(ref))
    console.print(f"unpinned {ref}", highlight=False)


def list_pins(ctx: typer.Context) -> None:
    """The pinned instances: by whom, when, why."""
    table = Table("when", "package", "instance", "by", "why")
    for p in call(ctx, lambda client: client.pins()):
        table.add_row(when(p.at), p.instance.cpv, p.instance.path, p.actor,
                      markup_safe(p.reason))
    console.print(table)


def _usage_table(title: str, rows: list[UsageRowOut]) -> Table:
    table = Table(title, "instances", "size", title_justify="left")
    for row in rows:
        table.add_row(row.name, str(row.instances), size_text(row.bytes))
    return table


@app.command("du")
def disk_usage(ctx: typer.Context,
               top: Annotated[int, typer.Option(help="Packages shown, largest first.")] = 20,
               ) -> None:
    """The store's usage by profile (that built), by package and by channel (listed)."""
    usage = call(ctx, lambda client: client.store_usage())
    console.print(_usage_table("profile", usage.by_profile))
    console.print(_usage_table("package", usage.by_package[:top]))
    console.print(_usage_table("channel", usage.by_channel))
    console.print(f"on disk: {size_text(usage.disk_bytes)}", highlight=False)
