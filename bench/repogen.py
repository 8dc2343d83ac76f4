"""Generate a large ebuild repository with a valid md5-cache, for benchmarks.

Packages live in a few categories, each with 1-3 versions, IUSE drawn from a small
vocabulary (USE_EXPAND cpu_flags_x86_* included), dependencies on earlier packages (some
with := on libraries that have subslots), and a couple of inherited eclasses. The cache
is written directly in md5-dict form (the _md5_ of every ebuild and eclass is real), so
Portage trusts it exactly as it trusts egencache's.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from pathlib import Path

__all__ = ["GeneratedRepo", "generate_repo"]

REPO_NAME = "benchrepo"
_FLAGS = ["nls", "ssl", "gtk", "qt5", "debug", "doc", "ipv6", "zstd", "lto", "caps",
          "cpu_flags_x86_avx2", "cpu_flags_x86_sse4_2"]
_ECLASSES = {"bench-base": "bench_base() { :; }\n", "bench-lib": "bench_lib() { :; }\n"}
_MAKE_DEFAULTS = """ARCH="amd64"
CHOST="x86_64-pc-linux-gnu"
ACCEPT_KEYWORDS="amd64"
CFLAGS="-O2 -pipe"
CXXFLAGS="${CFLAGS}"
ABI="amd64"
DEFAULT_ABI="amd64"
ELIBC="glibc"
KERNEL="linux"
USERLAND="GNU"
USE_EXPAND="CPU_FLAGS_X86 ELIBC KERNEL USERLAND"
USE_EXPAND_HIDDEN="ELIBC KERNEL USERLAND"
USE_EXPAND_IMPLICIT="ARCH ELIBC KERNEL USERLAND"
USE_EXPAND_UNPREFIXED="ARCH"
USE_EXPAND_VALUES_ARCH="amd64"
USE_EXPAND_VALUES_ELIBC="glibc"
USE_EXPAND_VALUES_KERNEL="linux"
USE_EXPAND_VALUES_USERLAND="GNU"
IUSE_IMPLICIT="prefix prefix-guest prefix-stack"
PROFILE_ONLY_VARIABLES="ARCH ELIBC KERNEL USERLAND"
"""


@dataclass(frozen=True)
class GeneratedRepo:
    location: Path
    cpvs: list[str]
    world: list[str]


def generate_repo(location: Path, versions: int, *, seed: int = 1,
                  world_size: int = 0, system_size: int = 0) -> GeneratedRepo:
    """Write a repository of about `versions` package versions under `location`, its
    profile's @system `system_size` of the first thousand packages (a real @system is
    about 40 atoms whose closure is a few hundred packages)."""
    rng = random.Random(seed)
    _write_skeleton(location)
    eclass_md5 = {name: hashlib.md5(body.encode()).hexdigest() for name, body in
                  _ECLASSES.items()}
    cpvs: list[str] = []
    libs: list[str] = []
    packages: list[str] = []
    n = 0
    while len(cpvs) < versions:
        category = f"bench-{n % 20:02d}"
        pn = f"pkg{n:05d}"
        cp = f"{category}/{pn}"
        is_lib = n % 7 == 0
        iuse = sorted(rng.sample(_FLAGS, rng.randint(0, 5)))
        deps = _deps(rng, packages, libs, iuse)
        inherits = ["bench-base"] + (["bench-lib"] if is_lib else [])
        for v in range(rng.randint(1, 3)):
            pv = f"{1 + v}.{rng.randint(0, 9)}"
            slot = f"0/{pv}" if is_lib else "0"
            _write_ebuild(location, cp, pn, pv, slot, iuse, deps, inherits, eclass_md5)
            cpvs.append(f"{cp}-{pv}")
        packages.append(cp)
        if is_lib:
            libs.append(cp)
        n += 1
    world = rng.sample(packages, min(world_size, len(packages))) if world_size else []
    system = random.Random(seed + 1).sample(packages[:1000], min(system_size, len(packages)))
    (location / "profiles" / "base" / "packages").write_text(
        "".join(f"*{cp}\n" for cp in sorted(system)))
    categories = sorted({cpv.split("/")[0] for cpv in cpvs})
    (location / "profiles" / "categories").write_text("\n".join(categories) + "\n")
    return GeneratedRepo(location, cpvs, world)


def _deps(rng: random.Random, packages: list[str], libs: list[str],
          iuse: list[str]) -> str:
    deps = [f">={cp}-1.0" for cp in rng.sample(packages, min(len(packages),
                                                             rng.randint(0, 4)))]
    if libs and rng.random() < 0.5:
        deps.append(f"{rng.choice(libs)}:=")
    if iuse and packages and rng.random() < 0.3:
        flag = iuse[0].lstrip("+")
        deps.append(f"{flag}? ( {rng.choice(packages)} )")
    return " ".join(deps)


def _write_ebuild(location: Path, cp: str, pn: str, pv: str, slot: str, iuse: list[str],
                  deps: str, inherits: list[str], eclass_md5: dict[str, str]) -> None:
    body = (
        "EAPI=8\n"
        f"inherit {' '.join(inherits)}\n"
        f'DESCRIPTION="Benchmark package {pn}"\n'
        'HOMEPAGE="https://example.invalid/"\n'
        'SRC_URI=""\nLICENSE="MIT"\nKEYWORDS="amd64"\n'
        f'SLOT="{slot}"\nIUSE="{" ".join(iuse)}"\n'
        f'DEPEND="{deps}"\nRDEPEND="${{DEPEND}}"\n'
    )
    directory = location / cp
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{pn}-{pv}.ebuild").write_text(body)
    cache = location / "metadata" / "md5-cache" / cp.split("/")[0]
    cache.mkdir(parents=True, exist_ok=True)
    eclasses = "\t".join(f"{name}\t{eclass_md5[name]}" for name in inherits)
    lines = [
        "DEFINED_PHASES=-", f"DEPEND={deps}" if deps else "",
        f"DESCRIPTION=Benchmark package {pn}", "EAPI=8", "HOMEPAGE=https://example.invalid/",
        f"INHERIT={' '.join(inherits)}", f"IUSE={' '.join(iuse)}" if iuse else "",
        "KEYWORDS=amd64", "LICENSE=MIT", f"RDEPEND={deps}" if deps else "", f"SLOT={slot}",
        f"_eclasses_={eclasses}", f"_md5_={hashlib.md5(body.encode()).hexdigest()}",
    ]
    (cache / f"{pn}-{pv}").write_text("\n".join(line for line in lines if line) + "\n")


def _write_skeleton(location: Path) -> None:
    for sub in ("profiles/base", "metadata", "eclass", "licenses"):
        (location / sub).mkdir(parents=True, exist_ok=True)
    (location / "profiles" / "repo_name").write_text(f"{REPO_NAME}\n")
    (location / "profiles" / "arch.list").write_text("amd64\n")
    (location / "profiles" / "base" / "make.defaults").write_text(_MAKE_DEFAULTS)
    (location / "profiles" / "base" / "eapi").write_text("5\n")
    (location / "licenses" / "MIT").write_text("MIT\n")
    (location / "metadata" / "layout.conf").write_text(
        f"repo-name = {REPO_NAME}\nmasters =\nthin-manifests = true\n"
        "cache-formats = md5-dict\nprofile-formats = portage-2\n")
    for name, body in _ECLASSES.items():
        (location / "eclass" / f"{name}.eclass").write_text(body)
