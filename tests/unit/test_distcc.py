"""distcc's formats as binfarm reads and writes them."""

from __future__ import annotations

import struct

import pytest

from binfarm.distcc.model import (
    SlotGrant,
    build_env,
    decode_state,
    in_networks,
    parse_host,
    summarize_log,
)
from binfarm.errors import InvalidInput
from binfarm.gentoo.native import expand_native
from binfarm.gentoo.toolchain import cpu_spec, isa_of_flags

# A build's client log as distcc 3.4 writes it at its default level (trimmed).
CLIENT_LOG = """\
distcc[10] exec on 10.0.0.1:3632/2: x86_64-linux-gnu-gcc -O2 -c a.c -o a.o
distcc[10] compile a.c on 10.0.0.1:3632/2 completed ok
distcc[11] compile b.c on 10.0.0.2:3632/2 completed ok
distcc[12] ERROR: compile c.c on 10.0.0.2:3632/2 failed with exit code 110
distcc[12] (dcc_build_somewhere) Warning: remote compilation of 'c.c' failed, retrying locally
distcc[12] compile c.c on localhost completed ok
distcc[13] exec on localhost: x86_64-linux-gnu-gcc -O2 -o prog a.o b.o c.o
distcc[13] compile (null) on localhost completed ok
distcc[14] compile d.c on 10.0.0.1:3632/2 completed ok
"""


def test_host_forms() -> None:
    assert parse_host("10.0.0.1").name == "10.0.0.1:3632"
    assert parse_host("build1.lan:4000").name == "build1.lan:4000"
    assert parse_host("[fd00::1]:4000").name == "[fd00::1]:4000"
    for bad in ("a b", "host:0", "host:x", "[fd00::1]x", "-host"):
        with pytest.raises(InvalidInput):
            parse_host(bad)


def test_trusted_networks() -> None:
    assert in_networks("10.1.2.3", ["10.1.0.0/16"])
    assert not in_networks("10.2.2.3", ["10.1.0.0/16"])
    assert not in_networks("name.lan", ["0.0.0.0/0"])


def test_where_each_unit_compiled() -> None:
    summary = summarize_log(CLIENT_LOG)
    assert dict(summary.remote) == {"10.0.0.1": 2, "10.0.0.2": 1}
    assert (summary.local, summary.failed, summary.total) == (2, 1, 5)
    assert summary.describe() == ("distcc: 3 of 5 compile units ran remotely (10.0.0.1 2, "
                                  "10.0.0.2 1), 2 locally; 1 fell back to a local compile")
    assert summarize_log("").describe() == "distcc: no compile unit went through distcc"


def test_build_environment_names_the_leased_slots() -> None:
    env = build_env([SlotGrant("h1:3632", "10.0.0.1", 3632, 3),
                     SlotGrant("h2:4000", "fd00::2", 4000, 2)], 2, "/d", "/d/client.log")
    assert env["DISTCC_HOSTS"] == "--localslots=2 10.0.0.1:3632/3 [fd00::2]:4000/2"
    assert env["MAKEOPTS"] == "-j7"
    assert (env["FEATURES"], env["DISTCC_DIR"], env["DISTCC_LOG"]) == \
        ("distcc", "/d", "/d/client.log")


def _state(phase: int, magic: int = 0x44494800, size: int = 296) -> bytes:
    return struct.pack("=QQQ128s128siiQ", size, magic, 42, b"u001.c", b"10.0.0.1", 1, phase, 0)


def test_state_files() -> None:
    task = decode_state(_state(5))
    assert task is not None
    assert (task.pid, task.file, task.host, task.slot, task.phase) == \
        (42, "u001.c", "10.0.0.1", 1, "compile")
    assert decode_state(_state(7)) is None  # done
    assert decode_state(_state(5, magic=1)) is None
    assert decode_state(_state(5)[:-8]) is None


def test_march_native_written_out_for_the_profiles_cpu() -> None:
    values = {"CFLAGS": "-O2 -march=native -mtune=native -pipe", "CXXFLAGS": "-march=native"}
    assert expand_native(values, cpu_spec("znver3")) == {
        "CFLAGS": "-O2 -march=znver3 -mtune=znver3 -pipe", "CXXFLAGS": "-march=znver3"}
    assert expand_native(values, cpu_spec("x86-64-v2"))["CFLAGS"] == \
        "-O2 -march=x86-64-v2 -mtune=generic -pipe"
    listed = expand_native({"CFLAGS": "-march=native"}, cpu_spec("sse4_2 avx2 popcnt"))
    flags = listed["CFLAGS"].split()
    assert flags[0] == "-march=x86-64" and {"-mavx2", "-msse4.2", "-mpopcnt"} <= set(flags)
    # What gcc makes of the written-out flags is that CPU's extension set.
    assert isa_of_flags(listed["CFLAGS"]) >= {"avx2", "sse4.2", "popcnt"}
