from pathlib import Path

from binfarm.keys.cpu import check_fit, features_from_cpu_flags
from binfarm.worker.machine import local_cpu_features


def test_cpuinfo_and_cpuid2cpuflags_names_become_gcc_names() -> None:
    assert features_from_cpu_flags(["pni", "sse4_1", "sse4_2", "lahf_lm", "abm", "fma3",
                                    "fpu", "vme"]) == {
        "sse3", "sse4.1", "sse4.2", "sse4", "crc32", "cx16", "sahf", "lzcnt", "popcnt", "abm",
        "fma"}
    assert features_from_cpu_flags(["avx2"]) == {"avx2"}  # nothing implied, nothing invented


def test_fit_says_every_reason() -> None:
    fit = check_fit(binary_chost="aarch64-unknown-linux-gnu", binary_needs=frozenset({"avx2"}),
                    host_chost="x86_64-pc-linux-gnu", host_has=frozenset({"sse2"}),
                    host_label="x86-64")
    assert not fit.ok
    assert fit.reasons == (
        "built for CHOST aarch64-unknown-linux-gnu, the profile is x86_64-pc-linux-gnu",
        "needs avx2, which the profile's CPU (x86-64) does not have")


def test_local_cpu_features_read_the_first_flags_line(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 abm\n\nflags\t\t: avx512f\n")
    assert local_cpu_features(cpuinfo) == {"sse2", "avx2", "abm", "lzcnt", "popcnt"}
