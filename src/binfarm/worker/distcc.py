"""A build on leased distcc slots: lease them, point the root's emerge at them, watch what
its distcc clients compile, and say in the build's log where its compile units ran.

The slots are the farm's to hand out (it is the one scheduler of every host's slots); they
return when the build ends, dies or loses its lease. With none leased the build compiles
here, and its log says why.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from binfarm.api.client import FarmClient
from binfarm.api.models import DistccTask
from binfarm.distcc.client import MASQUERADE, StateWatch, write_masquerade
from binfarm.distcc.model import SlotGrant, build_env, summarize_log
from binfarm.errors import BinfarmError
from binfarm.gentoo.emerge import EmergeTarget, PrefixTarget
from binfarm.roots.sandbox import DISTCC_DIR_IN_ROOT, Bind, ChrootTarget
from binfarm.worker.buildroot import say

__all__ = ["DistccBuild", "start_distcc"]


@dataclass
class DistccBuild:
    target: EmergeTarget
    env: dict[str, str]
    host_dir: Path  # the build's DISTCC_DIR as this machine sees it
    watch: StateWatch

    def tasks(self) -> list[DistccTask]:
        return self.watch.tasks()

    def finish(self, log: BinaryIO) -> None:
        """Stop watching and write where the compile units ran."""
        self.watch.stop()
        client_log = self.host_dir / "client.log"
        text = client_log.read_text(errors="replace") if client_log.exists() else ""
        say(log, summarize_log(text).describe())
        shutil.rmtree(self.host_dir, ignore_errors=True)


def start_distcc(client: FarmClient, worker: str, build_id: int, target: EmergeTarget,
                 chost: str, log: BinaryIO, *, want: int) -> DistccBuild | None:
    """Lease slots for the build and set its root up to use them; None: compile here."""
    local = os.cpu_count() or 1
    if isinstance(target, PrefixTarget):
        masquerade, host_dir = target.node / MASQUERADE, target.node / "var/tmp/distcc"
        in_root, distcc = str(host_dir), "distcc"
    elif isinstance(target, ChrootTarget):
        if not any((layer / "usr/bin/distcc").exists()
                    for layer in target.sandbox.overlay.lower):
            say(log, "distcc: compiling locally: this chroot root has no distcc "
                      "(/usr/bin/distcc)")
            return None
        scratch = target.pkgdir.parent
        masquerade, host_dir = scratch / "distcc-bin", scratch / "distcc"
        in_root, distcc = DISTCC_DIR_IN_ROOT, "/usr/bin/distcc"
    else:
        return None
    if not write_masquerade(masquerade, chost, distcc):
        say(log, "distcc: compiling locally: this worker has no gcc to send")
        return None
    try:
        lease = client.lease_distcc(build_id, worker, want)
    except BinfarmError as exc:
        say(log, f"distcc: compiling locally: no slots leased ({exc})")
        return None
    if not lease.grants:
        say(log, f"distcc: compiling locally: {lease.reason}")
        return None
    grants = [SlotGrant(**g.model_dump()) for g in lease.grants]
    shutil.rmtree(host_dir, ignore_errors=True)  # a killed build's locks and backoff
    host_dir.mkdir(parents=True)
    env = build_env(grants, local, in_root, f"{in_root}/client.log")
    if isinstance(target, ChrootTarget):
        sandbox = target.sandbox
        target = replace(target, sandbox=replace(
            sandbox, build_network=True,
            binds=(*sandbox.binds, Bind(masquerade, f"/{MASQUERADE}"),
                   Bind(host_dir, DISTCC_DIR_IN_ROOT, writable=True))))
        say(log, "distcc: the build keeps the network, to reach the distcc hosts")
    say(log, f"distcc: compiling on {', '.join(f'{g.host} ({g.slots} slots)' for g in grants)}"
              f"; DISTCC_HOSTS={env['DISTCC_HOSTS']!r} MAKEOPTS={env['MAKEOPTS']!r}")
    return DistccBuild(target, env, host_dir, StateWatch(host_dir).start())
