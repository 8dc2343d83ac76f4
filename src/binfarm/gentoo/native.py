"""-march=native and -mtune=native written out for a profile's CPU.

`native` names the CPU of whatever machine compiles: a worker or, worse, a distcc host,
which compiles such units locally anyway (distcc keeps them off the network). A profile is
a machine type, so the farm resolves `native` once, for the CPU the profile declares: a
-march name becomes that name, a CPU flag list becomes the x86-64 baseline plus each
extension, and -mtune=native becomes that CPU or `generic`. A profile written with
`native` then has the same flags, and the same build keys, as one written out by hand.
"""

from __future__ import annotations

from collections.abc import Mapping

from binfarm.gentoo.protocol import ProfileInfo
from binfarm.gentoo.toolchain import CpuSpec, isa_of_flags

__all__ = ["FLAG_VARIABLES", "expand_native", "native_variables"]

FLAG_VARIABLES = ("CFLAGS", "CXXFLAGS", "FFLAGS", "FCFLAGS")
_NATIVE = ("-march=native", "-mtune=native", "-mcpu=native")
_BASELINE = "x86-64"


def native_variables(info: ProfileInfo) -> dict[str, str]:
    """The flag variables whose value names `native`."""
    values = {"CFLAGS": info.cflags, "CXXFLAGS": info.cxxflags, "FFLAGS": info.fflags,
              "FCFLAGS": info.fcflags}
    return {name: value for name, value in values.items()
            if any(flag in value.split() for flag in _NATIVE)}


def expand_native(values: Mapping[str, str], cpu: CpuSpec) -> dict[str, str]:
    """Each value with its `native` flags replaced by the CPU's own."""
    if " " in cpu.spec:  # a list of CPU flags
        baseline = isa_of_flags(f"-march={_BASELINE}")
        march = [f"-march={_BASELINE}", *(f"-m{ext}" for ext in sorted(cpu.features - baseline))]
        tune = "generic"
    else:
        march = [f"-march={cpu.spec}"]
        tune = "generic" if cpu.spec.startswith(_BASELINE) else cpu.spec
    out = {}
    for name, value in values.items():
        flags: list[str] = []
        for flag in value.split():
            if flag == "-march=native":
                flags += march
            elif flag in ("-mtune=native", "-mcpu=native"):
                flags.append(f"-mtune={tune}")
            else:
                flags.append(flag)
        out[name] = " ".join(flags)
    return out
