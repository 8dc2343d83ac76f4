"""`binfarm promote|withdraw|rollback|history`, `profile rollout` and `host channel`: the
testing and stable channels of a profile."""

from __future__ import annotations

from typing import Annotated

import typer

from binfarm.api.client import FarmClient
from binfarm.api.models import RolloutRuleOut
from binfarm.cli.context import call
from binfarm.cli.render import Table, console, markup_safe, when
from binfarm.rollout.channels import Channel

__all__ = ["history", "promote", "rollback", "rollout_rule", "set_host_channel", "withdraw"]

_REF_HELP = ("An atom (cat/pn or cat/pn-version: testing's current instances of it), a "
             "SHA-256 (8+ hex digits) or a PATH.")


def promote(ctx: typer.Context, profile: str,
            ref: Annotated[str, typer.Argument(help=_REF_HELP)]) -> None:
    """Promote instances from the profile's testing channel to its stable one."""
    promoted = call(ctx, lambda client: client.promote(profile, ref))
    for i in promoted:
        console.print(f"promoted {i.cpv} ({i.path}) to {profile}'s stable channel",
                      highlight=False)
    if not promoted:
        console.print(f"{ref} is in {profile}'s stable channel already", highlight=False)


def withdraw(ctx: typer.Context, profile: str,
             ref: Annotated[str, typer.Argument(help=_REF_HELP)],
             reason: Annotated[str, typer.Option(help="Why, for the history.")] = "") -> None:
    """Take instances out of both channels of the profile (a bad build)."""
    for i in call(ctx, lambda client: client.withdraw(profile, ref, reason)):
        console.print(f"withdrew {i.cpv} ({i.path}) from {profile}", highlight=False)


def rollback(ctx: typer.Context, profile: str, atom: str) -> None:
    """Serve the previous promoted instance of ATOM as the stable channel's newest again;
    machines go back with `binfarm client update` (emerge -uDN --getbinpkgonly)."""
    for pair in call(ctx, lambda client: client.rollback(profile, atom)):
        console.print(f"{pair.withdrawn.cpv}: withdrew {pair.withdrawn.path}; stable serves "
                      f"{pair.served.path} again", highlight=False)


def history(ctx: typer.Context, profile: str,
            atom: Annotated[str | None, typer.Argument(help="Only this package.")] = None,
            ) -> None:
    """Every promotion, withdrawal and rollback of the profile: when, by whom, why."""
    events = call(ctx, lambda client: client.rollout_history(profile, atom))
    table = Table("when", "action", "package", "instance", "by", "why")
    for e in events:
        table.add_row(when(e.at), e.action, e.instance.cpv, e.instance.path, e.actor,
                      markup_safe(e.reason))
    console.print(table)


def rollout_rule(
    ctx: typer.Context, profile: str,
    soak: Annotated[str | None, typer.Option(
        help="Time in testing before stable: 30m, 24h, 7d; 0: no wait.")] = None,
    canaries: Annotated[int | None, typer.Option(
        help="Testing hosts whose health check must pass first; 0: none.")] = None,
    tests: Annotated[bool | None, typer.Option(
        "--tests/--no-tests",
        help="A test run (FEATURES=test) of each instance must pass first.")] = None,
) -> None:
    """Show or set when the profile's new instances are promoted from testing to stable
    (with none of the options, as they land), and what testing holds that waits."""
    def change(client: FarmClient) -> RolloutRuleOut:
        rule = client.rollout_rule(profile)
        if soak is None and canaries is None and tests is None:
            return rule
        return client.set_rollout_rule(profile, soak if soak is not None else f"{rule.soak_s}s",
                                       rule.canaries if canaries is None else canaries,
                                       rule.tests if tests is None else tests)

    rule = call(ctx, change)
    console.print(f"{profile}: new instances land in testing; {rule.describe}",
                  highlight=False)
    if rule.pending:
        table = Table("package", "instance", "waits for")
        for p in rule.pending:
            table.add_row(p.instance.cpv, p.instance.path,
                          "; ".join(p.waits_for) or "nothing: promoted at the next look")
        console.print(table)


def set_host_channel(ctx: typer.Context, name: str, channel: Channel) -> None:
    """Put a host into its profile's testing (canary) or stable channel; it follows on its
    next `binfarm client update`."""
    host = call(ctx, lambda client: client.set_host_channel(name, channel))
    console.print(f"host {host.name} installs from {host.profile}'s {host.channel} channel",
                  highlight=False)
