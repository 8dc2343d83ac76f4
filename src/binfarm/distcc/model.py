"""distcc's own formats, read and written: host specs, the client's log, its state files.

Pure: no I/O. The client's log (DISTCC_LOG, default level) ends each compile with
"compile FILE on HOST completed ok" (HOST "localhost" when it ran here), the state files
are `struct dcc_task_state` (distcc src/state.h), one per running distcc client.
"""

from __future__ import annotations

import ipaddress
import re
import struct
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from binfarm.errors import InvalidInput

__all__ = ["DEFAULT_PORT", "ClientSummary", "HostAddress", "HostState", "SlotGrant", "Task",
           "build_env", "decode_state", "in_networks", "parse_host", "summarize_log"]

DEFAULT_PORT = 3632
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$")
# struct dcc_task_state on LP64: struct_size, magic, cpid, file[128], host[128], slot,
# curr_phase, next: 296 bytes, no padding.
_STATE = struct.Struct("=QQQ128s128siiQ")
_MAGIC = 0x44494800  # "DIH\0"
_PHASES = ("startup", "blocked", "connect", "preprocess", "send", "compile", "receive", "done")
_DONE = re.compile(r"^distcc\[(\d+)\] compile \S+ on (\S+?)(?::\d+)?(?:/\d+)? completed ok",
                   re.M)
_FAILED = re.compile(r"^distcc\[\d+\] .*(?:failed to distribute|"
                     r"remote compilation of .* failed)", re.M)


class HostState(StrEnum):
    UP = "up"
    DOWN = "down"
    MISMATCHED = "mismatched"  # its gcc is not the workers'


@dataclass(frozen=True)
class HostAddress:
    address: str
    port: int

    @property
    def name(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}"


def parse_host(text: str) -> HostAddress:
    """HOST, HOST:PORT, IPv6 in brackets; a name or an address, as distcc takes them."""
    value = text.strip()
    port = DEFAULT_PORT
    if value.startswith("["):
        address, _, rest = value[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise InvalidInput(f"bad distcc host {text!r}: want HOST[:PORT]")
            port = _port(rest[1:], text)
    elif value.count(":") == 1:
        address, port_text = value.split(":")
        port = _port(port_text, text)
    else:
        address = value
    try:
        address = str(ipaddress.ip_address(address))
    except ValueError:
        if not _NAME.match(address):
            raise InvalidInput(f"bad distcc host {text!r}: want HOST[:PORT]") from None
    return HostAddress(address, port)


def _port(text: str, whole: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise InvalidInput(f"bad port in distcc host {whole!r}")
    return int(text)


def in_networks(address: str, networks: Iterable[str]) -> bool:
    """Whether `address` (an IP; names are resolved by the caller) is in one of the CIDRs."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in networks)


@dataclass(frozen=True)
class SlotGrant:
    """Slots of one host leased to a build."""

    host: str  # HOST:PORT as registered
    address: str
    port: int
    slots: int


def build_env(grants: Sequence[SlotGrant], local_slots: int, distcc_dir: str,
              log_file: str) -> dict[str, str]:
    """What a build's emerge needs to compile on the leased slots and nowhere else:
    the hosts with their slot counts, make's jobs sized to them (no load limit: the hosts'
    compiles are not this machine's load, and distcc's own locks bound what runs here),
    a DISTCC_DIR of the build's own (its slot locks and backoff are the build's) and a log
    that says where each unit compiled."""
    hosts = " ".join(f"{g.address if ':' not in g.address else f'[{g.address}]'}:{g.port}"
                     f"/{g.slots}" for g in grants)
    jobs = sum(g.slots for g in grants) + local_slots
    return {"FEATURES": "distcc", "DISTCC_HOSTS": f"--localslots={local_slots} {hosts}",
            "MAKEOPTS": f"-j{jobs}", "DISTCC_DIR": distcc_dir, "DISTCC_LOG": log_file}


@dataclass(frozen=True)
class ClientSummary:
    remote: Counter[str]
    local: int
    failed: int  # units a host did not compile (they compiled here instead)

    @property
    def total(self) -> int:
        return sum(self.remote.values()) + self.local

    def describe(self) -> str:
        if not self.total:
            return "distcc: no compile unit went through distcc"
        hosts = ", ".join(f"{h} {n}" for h, n in sorted(self.remote.items()))
        text = (f"distcc: {sum(self.remote.values())} of {self.total} compile units ran "
                f"remotely{f' ({hosts})' if hosts else ''}, {self.local} locally")
        return text + (f"; {self.failed} fell back to a local compile" if self.failed else "")


def summarize_log(text: str) -> ClientSummary:
    """Where each compile of a build ran, from its distcc client log."""
    last: dict[str, str] = {}
    for match in _DONE.finditer(text):  # a fallback's local run comes after its failure
        last[match.group(1)] = match.group(2)
    remote = Counter(host for host in last.values() if host != "localhost")
    local = sum(1 for host in last.values() if host == "localhost")
    return ClientSummary(remote, local, len(_FAILED.findall(text)))


@dataclass(frozen=True)
class Task:
    """One compile in flight, as distccmon-text shows it."""

    pid: int
    file: str
    host: str
    slot: int
    phase: str


def decode_state(data: bytes) -> Task | None:
    """A state file's task, or None when it is not one (wrong size or magic) or done."""
    if len(data) != _STATE.size:
        return None
    size, magic, pid, file_, host, slot, phase, _next = _STATE.unpack(data)
    if size != _STATE.size or magic != _MAGIC or not 0 <= phase < len(_PHASES):
        return None
    if _PHASES[phase] == "done":
        return None
    return Task(pid, _cstring(file_), _cstring(host), slot, _PHASES[phase])


def _cstring(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode(errors="replace")
