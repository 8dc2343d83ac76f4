"""CPU capability as sets of x86 instruction-set extensions, named as gcc's -m options.

A profile's CPU and an instance's requirement are both such sets; gcc itself turns a
-march or an x86-64 level into its set (gentoo/toolchain.py). Here: the vocabulary,
CPU_FLAGS_X86 and /proc/cpuinfo names translated into it, and the fit test.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

__all__ = ["ISA_EXTENSIONS", "Fit", "check_fit", "features_from_cpu_flags"]

# x86 instruction-set extensions as gcc's -m<name> options spell them.
ISA_EXTENSIONS: Final = frozenset(
    [
        "3dnow",
        "3dnowa",
        "abm",
        "adx",
        "aes",
        "amx-bf16",
        "amx-int8",
        "amx-tile",
        "avx",
        "avx2",
        "avx512bf16",
        "avx512bitalg",
        "avx512bw",
        "avx512cd",
        "avx512dq",
        "avx512er",
        "avx512f",
        "avx512fp16",
        "avx512ifma",
        "avx512pf",
        "avx512vbmi",
        "avx512vbmi2",
        "avx512vl",
        "avx512vnni",
        "avx512vp2intersect",
        "avx512vpopcntdq",
        "avxvnni",
        "bmi",
        "bmi2",
        "cldemote",
        "clflushopt",
        "clwb",
        "clzero",
        "crc32",
        "cx16",
        "enqcmd",
        "f16c",
        "fma",
        "fma4",
        "fsgsbase",
        "fxsr",
        "gfni",
        "hle",
        "kl",
        "lwp",
        "lzcnt",
        "mmx",
        "movbe",
        "movdir64b",
        "movdiri",
        "mwaitx",
        "pclmul",
        "pconfig",
        "pku",
        "popcnt",
        "prefetchwt1",
        "prfchw",
        "ptwrite",
        "rdpid",
        "rdrnd",
        "rdseed",
        "rtm",
        "sahf",
        "serialize",
        "sgx",
        "sha",
        "shstk",
        "sse",
        "sse2",
        "sse3",
        "sse4",
        "sse4.1",
        "sse4.2",
        "sse4a",
        "ssse3",
        "tbm",
        "tsxldtrk",
        "uintr",
        "vaes",
        "vpclmulqdq",
        "waitpkg",
        "wbnoinvd",
        "widekl",
        "xop",
        "xsave",
        "xsavec",
        "xsaveopt",
        "xsaves",
    ]
)

# CPU_FLAGS_X86 (cpuid2cpuflags) and /proc/cpuinfo names that gcc spells differently.
_ALIASES: Final = {
    "pni": "sse3",
    "sse4_1": "sse4.1",
    "sse4_2": "sse4.2",
    "lahf_lm": "sahf",
    "pclmulqdq": "pclmul",
    "rdrand": "rdrnd",
    "fma3": "fma",
    "bmi1": "bmi",
    "sha_ni": "sha",
    "3dnowprefetch": "prfchw",
    "avx_vnni": "avxvnni",
    "ospke": "pku",
    "cx8": "",
    "avx512_vnni": "avx512vnni",
    "avx512_bf16": "avx512bf16",
    "avx512_vbmi2": "avx512vbmi2",
    "avx512_bitalg": "avx512bitalg",
    "avx512_vpopcntdq": "avx512vpopcntdq",
    "avx512_fp16": "avx512fp16",
    "avx512vbmi": "avx512vbmi",
    "mmxext": "",
}


# What a flag brings with it that a flag list does not name: CRC32 is part of SSE4.2,
# gcc's -msse4 is SSE4.1 + SSE4.2, and every x86-64 CPU with SSE4.2 has CMPXCHG16B and
# LAHF/SAHF in 64-bit mode (cpuid2cpuflags, unlike /proc/cpuinfo, never lists those);
# /proc/cpuinfo calls LZCNT "abm" on AMD and Intel alike.
_IMPLIED: Final = {
    "sse4.2": frozenset({"crc32", "cx16", "sahf"}),
    "abm": frozenset({"lzcnt", "popcnt"}),
}
_SSE4: Final = frozenset({"sse4.1", "sse4.2"})


def features_from_cpu_flags(names: Iterable[str]) -> frozenset[str]:
    """gcc's names for CPU_FLAGS_X86 or /proc/cpuinfo flags; unknown names are left out."""
    out = set()
    for name in names:
        canonical = _ALIASES.get(name.lower(), name.lower())
        if canonical in ISA_EXTENSIONS:
            out.add(canonical)
    for flag, implied in _IMPLIED.items():
        if flag in out:
            out |= implied
    if out >= _SSE4:
        out.add("sse4")
    return frozenset(out)


@dataclass(frozen=True)
class Fit:
    """Whether a binary may go to a machine, and if not, every reason why."""

    ok: bool
    reasons: tuple[str, ...] = ()


def check_fit(
    *,
    binary_chost: str,
    binary_needs: frozenset[str],
    host_chost: str,
    host_has: frozenset[str],
    host_label: str,
) -> Fit:
    reasons = []
    if binary_chost != host_chost:
        reasons.append(f"built for CHOST {binary_chost}, the profile is {host_chost}")
    missing = sorted(binary_needs - host_has)
    if missing:
        reasons.append(
            f"needs {', '.join(missing)}, which the profile's CPU ({host_label}) does not have"
        )
    return Fit(not reasons, tuple(reasons))
