"""`binfarm client register|sync|update` on a fleet machine, and `binfarm hosts`."""

from __future__ import annotations

import base64
import socket
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from binfarm.api.client import FarmClient, tls_context
from binfarm.api.models import BuildOut
from binfarm.cli.context import CliContext, call
from binfarm.cli.render import STATE_STYLES, Table, console
from binfarm.client.binrepos import write_binrepos
from binfarm.client.canary import CheckResult
from binfarm.client.keys import trust_farm
from binfarm.client.machine import ClientState, Machine
from binfarm.client.sync import apply_sync, plan_sync
from binfarm.client.update import UpdateReporter, update
from binfarm.errors import BinfarmError, InvalidInput
from binfarm.gentoo.toolchain import cpu_spec
from binfarm.profiles.archive import MACHINE_LOCAL_FILES, find_make_profile, pack_tree
from binfarm.rollout.channels import Channel
from binfarm.settings import ClientEnvironment
from binfarm.worker.machine import local_arch, local_cpu_features

__all__ = ["app", "list_hosts"]

app = typer.Typer(help="This machine's side: register with a farm, sync, update.",
                  no_args_is_help=True)


def _machine() -> Machine:
    return Machine.from_environment(ClientEnvironment())


@app.command("register")
def register(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="This host's name [default: its host name].")
                    ] = "",
    config: Annotated[Path | None, typer.Option(
        help="Its Portage configuration [default: $PORTAGE_CONFIGROOT/etc/portage].")] = None,
    profile: Annotated[str | None, typer.Option(
        help="The farm profile this machine is a kind of (its shared 01* files come from "
             "there).")] = None,
    cpu: Annotated[str | None, typer.Option(
        help="This machine's CPU [default: /proc/cpuinfo].")] = None,
    server: Annotated[str | None, typer.Option(help="URL of the farm.")] = None,
    token: Annotated[str | None, typer.Option(help="A token that may register hosts.")] = None,
    ca_cert: Annotated[Path | None, typer.Option(
        help="CA certificate (PEM) of an https farm whose CA the system does not know; "
             "copied to etc/portage/binfarm-ca.pem for Portage.")] = None,
    channel: Annotated[Channel, typer.Option(
        help="Install from the profile's testing channel (a canary) or its stable one.")
    ] = Channel.STABLE,
) -> None:
    """Send this machine's configuration and CPU to the farm, point Portage at its
    binhost (binrepos.conf, with the host's own credentials, signatures verified) and
    trust the farm's signing keys (in Portage's keyring, as getuto does)."""
    cli: CliContext = ctx.obj
    machine = _machine()
    config_dir = config or machine.config_dir
    features = cpu_spec(cpu).features if cpu else local_cpu_features()
    ref = find_make_profile(config_dir)
    url = server or cli.server
    ca = ca_cert or cli.ca_cert
    with FarmClient(url, token or cli.resolved_token(), verify=tls_context(ca)) as client:
        registered = client.register_host(name or socket.gethostname(),
                                          pack_tree(config_dir, MACHINE_LOCAL_FILES),
                                          str(ref) if ref else None, arch=local_arch(),
                                          cpu_features=sorted(features), base=profile,
                                          channel=channel)
        trusted = trust_farm(client, machine)
    host = registered.host
    portage_ca = _install_ca(ca, config_dir) if ca else None
    state = ClientState(url, host.name, host.profile, registered.token,
                        ca_cert=str(portage_ca) if portage_ca else None, channel=host.channel)
    written = write_binrepos(config_dir, state.binhost(), portage_ca)
    machine.save_state(state)
    console.print(f"registered [bold]{host.name}[/] as profile [bold]{host.profile}[/]; "
                  f"Portage's binhost entry is in {written}; it trusts the farm's "
                  f"key{'s' if len(trusted) > 1 else ''} {', '.join(trusted)}")


def _install_ca(ca: Path, config_dir: Path) -> Path:
    try:
        pem = ca.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read --ca-cert {ca}: {exc.strerror}") from exc
    if b"-----BEGIN CERTIFICATE-----" not in pem:
        raise InvalidInput(f"--ca-cert {ca} holds no PEM certificate")
    target = config_dir / "binfarm-ca.pem"
    target.write_bytes(pem)
    return target.absolute()


@app.command("sync")
def sync(ctx: typer.Context,
         dry_run: Annotated[bool, typer.Option(help="Show the changes, write nothing.")] = False,
         ) -> None:
    """Write the farm's shared (01*) configuration files here, never over this machine's
    own, and trust the farm's current signing keys (dropping retired ones)."""
    machine = _machine()
    state = machine.load_state()
    with state.client() as client:
        shared = {f.path: base64.b64decode(f.content_b64)
                  for f in client.shared_layer(state.host)}
        if not dry_run:
            trusted = trust_farm(client, machine)
            console.print(f"trusting the farm's keys {', '.join(trusted)}")
    changes = plan_sync(machine.config_dir, shared, state.synced)
    if not changes:
        console.print("the shared configuration is up to date")
    for change in changes:
        if change.action == "keep-own":
            console.print(f"[yellow]kept this machine's own {change.path}[/] (the farm's "
                          "differs:)")
        else:
            console.print(f"[green]{change.action}[/] {change.path}")
        console.print(change.diff, markup=False, highlight=False)
    if not dry_run:
        apply_sync(machine.config_dir, changes, state.synced)
        machine.save_state(state)


@app.command("update", context_settings={"allow_extra_args": True,
                                         "ignore_unknown_options": True})
def update_command(
    ctx: typer.Context,
    binary_only: Annotated[bool, typer.Option(
        "--binary-only", help="Never compile here: fail if the farm cannot provide.")] = False,
    server: Annotated[str | None, typer.Option(help="Use this farm URL this time.")] = None,
    check: Annotated[Path | None, typer.Option(
        help="A health check run as `SCRIPT CPV...` with what was installed; its verdict "
             "goes to the farm (on a testing host it gates promotion to stable).")] = None,
) -> None:
    """Have the farm build whatever `emerge ARGS` would compile here (default -uDN @world),
    then install it as binaries; compile locally only if the farm is unreachable."""
    machine = _machine()
    state = machine.load_state()
    if server:
        state.server = server
    args = ctx.args or ["-uDN", "@world"]
    result = update(machine, state, args, binary_only=binary_only,
                    make_client=lambda s: s.client(), reporter=_Reporter(),
                    check=check.absolute() if check else None)
    for build in result.failed_builds:
        console.print(f"[bold red]the farm could not build {build.cpv}[/] (build {build.id}: "
                      f"{build.error}); `binfarm log {build.id}` shows why")
    if result.returncode != 0:
        raise typer.Exit(result.returncode)


@app.command("report")
def report(
    cpvs: Annotated[list[str], typer.Argument(help="Installed packages (cat/pf).")],
    bad: Annotated[bool, typer.Option("--bad/--good", help="The verdict.")] = False,
    output: Annotated[str, typer.Option(help="Evidence, for the farm's history.")] = "",
) -> None:
    """Tell the farm by hand how the installed binaries of CPVS behave here: --bad
    withdraws them from the profile's channels."""
    machine = _machine()
    state = machine.load_state()
    installed = machine.binpkg_md5s()
    if missing := [c for c in cpvs if c not in installed]:
        raise InvalidInput(f"not installed here from a binary: {', '.join(missing)}")
    with state.client() as client:
        reported = client.report_canary(state.host, {c: installed[c] for c in cpvs},
                                        "failed" if bad else "passed", output)
    for i in reported:
        console.print(f"reported {i.cpv} ({i.path}) {'bad' if bad else 'good'}",
                      highlight=False)


def list_hosts(ctx: typer.Context) -> None:
    """The machines installing from the farm: profile, last report, what is out of date."""
    hosts = call(ctx, lambda client: client.list_hosts())
    table = Table("host", "profile", "last report", "installed", "out of date")
    now = time.time()
    for h in hosts:
        report = (f"{h.last_result} {now - h.last_report_at:.0f} s ago" if h.last_report_at
                  else "never")
        table.add_row(h.name, h.profile, report, str(len(h.installed)),
                      "\n".join(h.out_of_date) or "-")
    console.print(table)


def move_host(ctx: typer.Context, name: str, profile: str) -> None:
    """Put a host into another existing profile (a host never moves itself)."""
    host = call(ctx, lambda client: client.move_host(name, profile))
    console.print(f"host {host.name} is now in profile {host.profile}")


class _Reporter(UpdateReporter):
    def checked(self, result: CheckResult) -> None:
        style = "green" if result.passed else "bold red"
        console.print(f"health check [{style}]{result.verdict}[/]; told the farm",
                      highlight=False)

    def farm_unreachable(self, error: BinfarmError) -> None:
        console.print(f"[bold yellow]the farm cannot be reached[/] ({error.message}); "
                      "Portage compiles here instead", highlight=False)

    def requesting(self, cpvs: Sequence[str]) -> None:
        console.print(f"asking the farm to build {len(cpvs)} package(s): {' '.join(cpvs)}")

    def progress(self, builds: Sequence[BuildOut]) -> None:
        states = " ".join(f"{b.cpv}:[{STATE_STYLES[b.state]}]{b.state}[/]" for b in builds)
        console.print(f"  {states}", highlight=False)

    def running_emerge(self, args: Sequence[str]) -> None:
        console.print(f"running emerge {' '.join(args)}")
