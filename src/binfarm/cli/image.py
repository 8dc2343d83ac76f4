"""`binfarm image build`: a root filesystem for a profile from the farm's binaries only."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from binfarm.api.models import BuildOut
from binfarm.cli.context import CliContext
from binfarm.cli.render import STATE_STYLES, Table, console, markup_safe
from binfarm.errors import InvalidInput
from binfarm.images.assemble import STRIPPABLE, ImageReporter, ImageSpec
from binfarm.images.service import ImageOutput, OutputKind, build_image

__all__ = ["app"]

app = typer.Typer(help="Images: root filesystems assembled from the farm's binaries.",
                  no_args_is_help=True)


class _Reporter(ImageReporter):
    def requesting(self, cpvs: Sequence[str]) -> None:
        console.print(f"no binary yet of {len(cpvs)} package(s); asking the farm to build "
                      f"them: {' '.join(cpvs)}", highlight=False)

    def progress(self, builds: Sequence[BuildOut]) -> None:
        states = " ".join(f"{b.cpv}:[{STATE_STYLES[b.state]}]{b.state}[/]" for b in builds)
        console.print(f"  {states}", highlight=False)

    def installing(self, atoms: Sequence[str]) -> None:
        console.print(f"installing from binaries only: {' '.join(atoms)}", highlight=False)


@app.command("build")
def build(
    ctx: typer.Context,
    profile: Annotated[str, typer.Argument(help="The profile the image is for.")],
    atoms: Annotated[list[str] | None, typer.Argument(
        help="Packages the image holds (with their runtime dependencies).")] = None,
    world: Annotated[bool, typer.Option(help="Add the profile's world.")] = False,
    out: Annotated[Path | None, typer.Option(help="Write the root as a directory.")] = None,
    tar: Annotated[Path | None, typer.Option(help="Write the root as a tar file.")] = None,
    oci: Annotated[Path | None, typer.Option(help="Write an OCI image layout.")] = None,
    tag: Annotated[str, typer.Option(help="The OCI image's tag.")] = "latest",
    cmd: Annotated[str | None, typer.Option(
        help="The OCI image's command (split on spaces).")] = None,
    entrypoint: Annotated[str | None, typer.Option(
        help="The OCI image's entrypoint (split on spaces).")] = None,
    strip: Annotated[str, typer.Option(
        help=f"Keep out, comma-separated: {', '.join(STRIPPABLE)}.")] = "",
    with_portage: Annotated[bool, typer.Option(help="Put Portage in the image.")] = False,
    with_toolchain: Annotated[bool, typer.Option(
        help="Allow a compiler in the image.")] = False,
    pkgdb: Annotated[bool, typer.Option(
        help="Keep the package database (var/db/pkg), for `ROOT=... emerge -u` later.")
    ] = True,
    request: Annotated[bool, typer.Option(
        help="Have the farm build what has no binary yet, first.")] = True,
) -> None:
    """Assemble an image with stock `emerge --usepkgonly` into an empty ROOT (EPREFIX
    empty): no compiler and no Portage unless asked. Prints the packages it holds and
    writes them, with the image's size and digest, to <output>.manifest.json."""
    cli: CliContext = ctx.obj
    outputs = [(kind, path) for kind, path in ((OutputKind.DIRECTORY, out),
                                               (OutputKind.TAR, tar), (OutputKind.OCI, oci))
               if path is not None]
    if len(outputs) != 1:
        raise InvalidInput("give one of --out DIR, --tar FILE or --oci DIR")
    kind, path = outputs[0]
    spec = ImageSpec(profile, tuple(atoms or ()), world=world,
                     strip=frozenset(s.strip() for s in strip.split(",") if s.strip()),
                     with_portage=with_portage, with_toolchain=with_toolchain, pkgdb=pkgdb,
                     request_missing=request)
    output = ImageOutput(kind, path.absolute(), tag=tag,
                         cmd=tuple(cmd.split()) if cmd else (),
                         entrypoint=tuple(entrypoint.split()) if entrypoint else ())
    with cli.client() as client:
        written = build_image(client, spec, output, token=cli.resolved_token(),
                              reporter=_Reporter())
    table = Table("package", "instance", "binary MD5")
    for package in written.manifest["packages"]:  # type: ignore[attr-defined]
        table.add_row(package["cpv"], str(package["build_id"]), package["binpkg_md5"] or "")
    console.print(table)
    summary = written.manifest
    digest = summary.get("oci_manifest") or summary.get("tar_sha256")
    console.print(f"image {markup_safe(str(output.path))}: {summary['bytes']:,} bytes of files"
                  + (f", {digest}" if digest else "")
                  + f"; manifest {markup_safe(str(output.manifest))}", highlight=False)
