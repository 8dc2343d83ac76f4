"""`binfarm key show|export|import|rotate|retire`: the keys that sign the farm's packages."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from binfarm.cli.context import call
from binfarm.cli.render import Table, console, when
from binfarm.errors import InvalidInput

__all__ = ["app"]

app = typer.Typer(help="The farm's signing keys: show, export, import, rotate, retire.",
                  no_args_is_help=True)


@app.command("show")
def show(ctx: typer.Context) -> None:
    """Every signing key: fingerprint, state, algorithm, when it was made."""
    keys = call(ctx, lambda client: client.signing_keys())
    table = Table("fingerprint", "state", "algorithm", "created", "user id")
    for k in keys:
        table.add_row(k.fingerprint, k.state, k.algorithm, when(k.created), k.uid)
    console.print(table)


@app.command("export")
def export(ctx: typer.Context,
           output: Annotated[Path | None, typer.Option(
               "--output", "-o", help="Write to this file [default: standard output].")] = None,
           ) -> None:
    """The armored public keys clients trust (the signing key and those not retired)."""
    armored = call(ctx, lambda client: client.public_keys())
    if output is None:
        sys.stdout.buffer.write(armored)
    else:
        output.write_bytes(armored)


@app.command("import")
def import_key(ctx: typer.Context,
               file: Annotated[Path, typer.Argument(help="An armored secret key (gpg --armor "
                                                         "--export-secret-keys KEY).")]) -> None:
    """Make a secret key the signing key; the previous one stays trusted until retired."""
    try:
        armored = file.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {file}: {exc.strerror}") from exc
    key = call(ctx, lambda client: client.import_key(armored))
    console.print(f"imported {key.fingerprint}: it signs new packages")


@app.command("rotate")
def rotate(ctx: typer.Context) -> None:
    """Make a new signing key. Run `binfarm client sync` on the machines, then retire the
    old key: until then they trust both."""
    key = call(ctx, lambda client: client.rotate_key())
    console.print(f"new signing key {key.fingerprint}; the previous one stays trusted until "
                  "`binfarm key retire` (machines pick the new one up with `binfarm client "
                  "sync`)")


@app.command("retire")
def retire(ctx: typer.Context,
           fingerprint: Annotated[str, typer.Argument(help="The key (16+ hex digits).")]) -> None:
    """Sign again what the key signed, with the signing key, and retire it."""
    done = call(ctx, lambda client: client.retire_key(fingerprint))
    console.print(f"retired {done.key.fingerprint}; {done.resigned} packages signed again")
    for failure in done.failed:
        console.print(f"  left the index: {failure}", markup=False)
