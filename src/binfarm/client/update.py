"""`client update`: have the farm build what Portage would compile here, then install it.

Portage is asked what `emerge ARGS` would merge with the farm's binhost; whatever it
would compile is requested from the farm (after sending the machine's configuration, so
the farm builds what this machine asked for), waited for, and then emerge runs with the
binhost. A farm that cannot be reached leaves Portage to compile locally, unless
`binary_only` says to change nothing instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from binfarm.api.client import FarmClient
from binfarm.api.models import BuildOut
from binfarm.client.binrepos import write_binrepos
from binfarm.client.canary import CheckResult, newly_installed, run_check
from binfarm.client.emerge import BINHOST_OPTIONS, pretend, run_emerge
from binfarm.client.machine import ClientState, Machine
from binfarm.errors import BinfarmError, Unavailable
from binfarm.profiles.archive import MACHINE_LOCAL_FILES, find_make_profile, pack_tree

__all__ = ["UpdateReporter", "UpdateResult", "update"]

_EMERGE_TIMEOUT_S = 24 * 3600.0
_POLL_S = 1.0


class UpdateReporter:
    """Hooks for progress; the CLI renders them (resolvelib's BaseReporter)."""

    def farm_unreachable(self, error: BinfarmError) -> None: ...

    def requesting(self, cpvs: Sequence[str]) -> None: ...

    def progress(self, builds: Sequence[BuildOut]) -> None: ...

    def running_emerge(self, args: Sequence[str]) -> None: ...

    def checked(self, result: CheckResult) -> None: ...


@dataclass(frozen=True)
class UpdateResult:
    returncode: int
    requested: tuple[str, ...]
    failed_builds: tuple[BuildOut, ...]
    used_farm: bool


def update(machine: Machine, state: ClientState, args: Sequence[str], *, binary_only: bool,
           make_client: Callable[[ClientState], FarmClient],
           reporter: UpdateReporter | None = None,
           check: Path | None = None) -> UpdateResult:
    reporter = reporter or UpdateReporter()
    try:
        with make_client(state) as client:
            client.health()
            _send_config(client, machine, state)
            plan = pretend(args, timeout_s=_EMERGE_TIMEOUT_S)
            failed: list[BuildOut] = []
            if plan.compile:
                reporter.requesting(plan.compile)
                builds = client.request_builds(state.profile, [f"={c}" for c in plan.compile],
                                               requester=state.host)
                done = client.wait_for_builds((b.id for b in builds), poll_s=_POLL_S,
                                              progress=reporter.progress)
                failed = [b for b in done if b.state != "succeeded"]
            # The options the pretend used; --binary-only turns --usepkg into --usepkgonly.
            options = ["--usepkgonly" if binary_only and o == "--usepkg" else o
                       for o in BINHOST_OPTIONS]
            reporter.running_emerge([*options, *args])
            before = machine.binpkg_md5s()
            returncode = run_emerge([*options, *args], timeout_s=_EMERGE_TIMEOUT_S)
            result = "succeeded" if returncode == 0 else "failed"
            after = machine.binpkg_md5s()
            client.report_host(state.host, result, machine.installed(), after)
            installed = newly_installed(before, after)
            if check is not None and returncode == 0 and installed:
                checked = run_check(check, sorted(installed))
                reporter.checked(checked)
                client.report_canary(state.host, installed, checked.verdict, checked.output)
            return UpdateResult(returncode, plan.compile, tuple(failed), used_farm=True)
    except Unavailable as exc:
        reporter.farm_unreachable(exc)
        if binary_only:
            raise Unavailable(f"the farm at {state.server} cannot be reached and "
                              "--binary-only forbids compiling here: nothing was changed",
                              detail=str(exc)) from exc
        reporter.running_emerge(list(args))
        returncode = run_emerge(list(args), timeout_s=_EMERGE_TIMEOUT_S)
        return UpdateResult(returncode, (), (), used_farm=False)


def _send_config(client: FarmClient, machine: Machine, state: ClientState) -> None:
    """The farm follows this machine's configuration; a new profile (or channel) means a
    new binhost."""
    ref = find_make_profile(machine.config_dir)
    host = client.update_host_config(state.host, pack_tree(machine.config_dir, MACHINE_LOCAL_FILES),
                                     str(ref) if ref else None)
    if (host.profile, host.channel) != (state.profile, state.channel):
        state.profile, state.channel = host.profile, host.channel
        write_binrepos(machine.config_dir, state.binhost(),
                       Path(state.ca_cert) if state.ca_cert else None)
        machine.save_state(state)

