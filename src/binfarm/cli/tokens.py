"""`binfarm token create|list|revoke`: who may talk to the farm, and as what."""

from __future__ import annotations

from typing import Annotated

import typer

from binfarm.cli.context import call
from binfarm.cli.render import Table, console

__all__ = ["app"]

app = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)


@app.command("create")
def create(
    ctx: typer.Context,
    role: Annotated[str, typer.Option(
        help="admin, viewer (reads all), worker, client (one profile), enroll (registers "
             "one machine for a profile, once) or binhost (reads one profile's binhost).")],
    profile: Annotated[str | None, typer.Option(help="The profile a client token is for.")
                       ] = None,
    name: Annotated[str | None, typer.Option(help="A name to know it by [default: ROLE].")
                    ] = None,
    network: Annotated[list[str] | None, typer.Option(
        help="A network (CIDR) it may be used from; repeatable [default: anywhere].")] = None,
) -> None:
    """Create a token; the token itself is the last line printed (it is shown only once)."""
    token_name = name or (f"{role}-{profile}" if profile else role)
    token = call(ctx, lambda client: client.create_token(token_name, role, profile,
                                                         network or []))
    console.print(f"created {token.role} token {token.id} ({token.name})"
                  f"{f' for profile {token.profile}' if token.profile else ''}")
    print(token.secret)


@app.command("list")
def list_tokens(ctx: typer.Context) -> None:
    """Every token, without its secret."""
    tokens = call(ctx, lambda client: client.list_tokens())
    table = Table("id", "name", "role", "profile", "networks", "state")
    for t in tokens:
        table.add_row(str(t.id), t.name, t.role, t.profile or "", " ".join(t.networks),
                      "revoked" if t.revoked_at else "active")
    console.print(table)


@app.command("revoke")
def revoke(ctx: typer.Context,
           token: Annotated[str, typer.Argument(help="The token's name or id.")]) -> None:
    """Revoke a token: it stops working at once."""
    revoked = call(ctx, lambda client: client.revoke_token(token))
    console.print(f"revoked token {revoked.id} ({revoked.name})")
