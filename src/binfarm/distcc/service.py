"""CompileHosts: the farm's use cases for distcc hosts (server side).

Adding a host probes it first: one that runs any compiler is refused and nothing is kept;
one the farm cannot reach is kept as down (it may come up); one whose gcc is not the
workers' is kept as mismatched. Hosts are probed again every `probe_interval_s` and on
demand; only up hosts that are not draining are leased.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

from binfarm.distcc.model import HostState, SlotGrant, in_networks, parse_host
from binfarm.distcc.probe import ProbeResult, compiler_names, local_compiler, probe, read_stats
from binfarm.distcc.registry import DistccHost, DistccRegistry
from binfarm.errors import Conflict, InvalidInput
from binfarm.settings import DistccSettings

__all__ = ["Added", "CompileHosts"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Added:
    host: DistccHost
    warnings: tuple[str, ...]


class CompileHosts:
    def __init__(self, registry: DistccRegistry, settings: DistccSettings,
                 workers_compilers: Callable[[], set[str]]) -> None:
        """`workers_compilers`: the gcc of every registered worker (hosts must match)."""
        self.registry = registry
        self.settings = settings
        self.workers_compilers = workers_compilers
        self._probing = threading.Lock()

    def add(self, text: str, slots: int) -> Added:
        if not 1 <= slots <= 256:
            raise InvalidInput("--slots must be between 1 and 256 (at most distccd's --jobs)")
        host = parse_host(text)
        if self.registry.find(host.name) is not None:
            raise Conflict(f"distcc host {host.name} is already registered")
        result = probe(host, compiler_names(), timeout_s=self.settings.probe_timeout_s)
        if result.insecure:
            raise InvalidInput(f"refused {host.name}: {result.reason}; start distccd with "
                               "--allow and without --enable-tcp-insecure")
        warnings = self._trust_warnings(host.address)
        state, reason = self._judge(result)
        added = self.registry.add(host, slots, state=state, reason=reason,
                                  compiler=result.compiler, compilers=result.compilers,
                                  warning=" ".join(warnings) or None)
        self.registry.record_stats(host.name, read_stats(host))
        log.info("distcc host added host=%s slots=%s state=%s", host.name, slots, state)
        return Added(self.registry.get(added.name), warnings)

    def _trust_warnings(self, address: str) -> tuple[str, ...]:
        try:
            ips = {info[4][0] for info in socket.getaddrinfo(address, None)}
        except OSError:
            return (f"{address} does not resolve here",)
        outside = sorted(ip for ip in ips if not in_networks(ip, self.settings.trusted_networks))
        if not outside:
            return ()
        return (f"{', '.join(outside)} is not in a network the farm was told is trusted "
                "(distcc.trusted_networks): distcc sends sources and objects in clear and "
                "trusts the objects it gets back",)

    def _judge(self, result: ProbeResult) -> tuple[HostState, str | None]:
        if not result.up:
            return HostState.DOWN, result.reason
        wanted = self.workers_compilers() or {c for c in (local_compiler(),) if c}
        if result.compiler not in wanted:
            return HostState.MISMATCHED, (f"its gcc is {result.compiler}; the workers' is "
                                          f"{', '.join(sorted(wanted)) or 'unknown'}")
        return HostState.UP, None

    def probe(self, name: str | None = None) -> list[DistccHost]:
        """Probe one host or all of them, now; their stats pages too."""
        hosts = [self.registry.get(name)] if name else self.registry.list()
        names = compiler_names()
        with self._probing:
            for host in hosts:
                address = parse_host(host.name)
                result = probe(address, names, timeout_s=self.settings.probe_timeout_s)
                state, reason = self._judge(result)
                if state != host.state:
                    log.warning("distcc host %s is now %s%s", host.name, state,
                                f": {reason}" if reason else "")
                self.registry.record_probe(host.name, state=state, reason=reason,
                                           compiler=result.compiler, compilers=result.compilers)
                self.registry.record_stats(host.name, read_stats(address))
        return [self.registry.get(h.name) for h in hosts]

    def run(self, stop: threading.Event) -> None:
        """Probe every host every `probe_interval_s` until `stop` (a thread of `serve`)."""
        while not stop.wait(self.settings.probe_interval_s):
            try:
                if self.registry.list():
                    self.probe()
            except Exception:  # a probe round must never end the thread
                log.exception("distcc probe round failed")

    def why_none(self, compiler: str | None) -> str:
        """Why a build of a worker with `compiler` got no slot."""
        hosts = self.registry.list()
        if not hosts:
            return "the farm has no distcc hosts"
        if compiler is None:
            return "the worker did not say which gcc it runs"
        usable = [h for h in hosts if h.usable]
        if not usable:
            return "no distcc host is up: " + "; ".join(
                f"{h.name} {'draining' if h.draining else h.state}"
                f"{f' ({h.reason})' if h.reason and not h.draining else ''}" for h in hosts)
        if not any(h.compiler == compiler for h in usable):
            return f"no up distcc host runs this worker's gcc ({compiler})"
        return "every slot of the up distcc hosts is leased to other builds"

    def lease(self, build: int, worker: str, want: int, compiler: str | None) -> list[SlotGrant]:
        if compiler is None or want < 1:
            return []
        return self.registry.lease(build, worker, min(want, self.settings.max_slots_per_build),
                                   compiler)
