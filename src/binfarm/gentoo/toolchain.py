"""Ask gcc itself which instruction-set extensions compiler flags enable.

`gcc -Q --help=target <flags>` prints every -m option with its state after -march and
-m<feature> flags are applied, so -march=haswell, -march=x86-64-v3 -mno-avx2 and
-march=native (resolved on this machine) all come out as one set of extension names.
"""

from __future__ import annotations

import functools
import re
import subprocess
from collections.abc import Iterable
from typing import Final

from binfarm.errors import InvalidInput, Unavailable
from binfarm.keys.cpu import ISA_EXTENSIONS, features_from_cpu_flags
from binfarm.keys.inputs import KeyInputs

__all__ = ["CpuSpec", "cpu_spec", "isa_of_flags", "isa_of_inputs", "required_isa"]

_OPTION: Final = re.compile(r"^\s+-m([a-z0-9.-]+)\s+\[enabled\]\s*$", re.MULTILINE)
_TIMEOUT_S: Final = 30.0
_BASELINE: Final = "-march=x86-64"


@functools.lru_cache(maxsize=1024)
def isa_of_flags(flags: str, gcc: str = "gcc") -> frozenset[str]:
    """The extensions gcc enables for `flags` (only -m and -march options are passed)."""
    relevant = [f for f in flags.split() if f.startswith(("-m", "-march="))]
    try:
        done = subprocess.run([gcc, "-Q", "--help=target", *relevant], capture_output=True,
                              text=True, timeout=_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Unavailable(f"cannot ask {gcc} about {flags!r}: {exc}") from exc
    if done.returncode != 0:
        raise InvalidInput(f"gcc refuses {' '.join(relevant)!r}: {done.stderr.strip()}")
    return frozenset(m for m in _OPTION.findall(done.stdout) if m in ISA_EXTENSIONS)


def required_isa(flag_values: Iterable[str], cpu_flags: frozenset[str]) -> frozenset[str]:
    """What a binary built with these flag variables (CFLAGS, CXXFLAGS, ... each on its own)
    and these CPU_FLAGS_X86 needs from a CPU: the union of what each variable enables."""
    needs = features_from_cpu_flags(cpu_flags)
    for flags in flag_values:
        needs |= isa_of_flags(flags)
    return needs


def isa_of_inputs(inputs: KeyInputs) -> frozenset[str]:
    """What a binary with these key inputs needs from a CPU."""
    return required_isa(inputs.flag_values, inputs.cpu_flags())


class CpuSpec:
    """A CPU as a profile declares it, with the extension set gcc gives it."""

    def __init__(self, spec: str, features: frozenset[str]) -> None:
        self.spec = spec
        self.features = features

    def __repr__(self) -> str:
        return f"CpuSpec({self.spec!r})"


def cpu_spec(spec: str) -> CpuSpec:
    """Parse `--cpu`: an x86-64 level, a gcc -march name, or a list of CPU flags.

    A list (from /proc/cpuinfo or cpuid2cpuflags, with or without its "CPU_FLAGS_X86:"
    label) is whatever has spaces or commas; it always includes the x86-64 baseline.
    """
    text = spec.strip()
    if not text:
        raise InvalidInput("--cpu needs an x86-64 level, a -march name or a list of CPU flags")
    if ":" in text:
        text = text.split(":", 1)[1]
    words = text.replace(",", " ").split()
    if len(words) > 1:
        return CpuSpec(" ".join(words), features_from_cpu_flags(words) | isa_of_flags(_BASELINE))
    try:
        return CpuSpec(words[0], isa_of_flags(f"-march={words[0]}"))
    except InvalidInput as exc:
        raise InvalidInput(f"unknown CPU {words[0]!r}: not an x86-64 level or a gcc -march "
                           "name (give a list of CPU flags with spaces)") from exc
