"""Assemble a root filesystem for a profile from the farm's binaries only.

The image's Portage is this machine's, configured as the profile (its tree, the farm's
binhost and keys, the repositories where the farm says they are) and pointed at an empty
ROOT with EPREFIX empty: EROOT is the image's `/`, and binaries built in a prefix are
relocated to it as Portage merges them. First `emerge --pretend --usepkg` says what has
no binary yet; the farm is asked to build that, through its queue; then stock
`emerge --usepkgonly --binpkg-respect-use=y --with-bdeps=n` installs the packages named
(never @system: a real profile's holds the toolchain and Portage). Every emerge runs in
bubblewrap with the host read-only and only the image's work directory writable.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from binfarm.api.checkout import checkout_profile
from binfarm.api.client import FarmClient, binhost_uri
from binfarm.api.models import BuildOut
from binfarm.client.emerge import Plan, parse_plan
from binfarm.errors import InvalidInput, Unavailable
from binfarm.gentoo.configroot import NodeLayer, pkgdir, write_node
from binfarm.gentoo.emerge import BuildResult, PrefixTarget, run_emerge
from binfarm.keys.cpv import cp_of
from binfarm.roots.sandbox import missing_sandbox_tools

__all__ = ["STRIPPABLE", "Assembled", "ImageReporter", "ImageSpec", "InstalledPackage",
           "assemble"]

_EMERGE_TIMEOUT_S: Final = 24 * 3600.0
_OPTIONS: Final = ("--getbinpkg", "--binpkg-respect-use=y", "--with-bdeps=n", "--buildpkg=n",
                   "--verbose")
# What `--strip` keeps out, as INSTALL_MASK entries (paths, or file-name patterns).
STRIPPABLE: Final[Mapping[str, tuple[str, ...]]] = {
    "docs": ("/usr/share/doc", "/usr/share/man", "/usr/share/info", "/usr/share/gtk-doc"),
    "headers": ("/usr/include",),
    "static": ("*.a", "*.la"),
}
# Packages an image holds only when asked: a compiler and Portage are what an image from
# binaries exists to leave out.
_TOOLCHAIN: Final = frozenset({"sys-devel/gcc", "sys-devel/binutils", "sys-devel/clang",
                               "llvm-core/clang", "sys-devel/llvm", "llvm-core/llvm"})
_PORTAGE: Final = "sys-apps/portage"
# The image's own Portage state, dropped by --no-pkgdb (kubler does the same).
_PKGDB: Final = ("var/db/pkg", "var/cache/edb", "var/lib/portage")
# What this machine's Portage kept while assembling (the binhost's index, env-update's
# library path times under the work directory's name): not the image's.
_BUILDER_STATE: Final = ("var/cache/edb/binhost", "var/cache/edb/mtimedb")
_VDB_DIR_MTIME: Final = "#dir_mtime="
_CONTENTS_MTIME: Final = re.compile(r" \d+$", re.M)


@dataclass(frozen=True)
class ImageSpec:
    profile: str
    atoms: tuple[str, ...] = ()
    world: bool = False
    strip: frozenset[str] = frozenset()
    with_portage: bool = False
    with_toolchain: bool = False
    pkgdb: bool = True
    request_missing: bool = True

    def __post_init__(self) -> None:
        if unknown := sorted(self.strip - STRIPPABLE.keys()):
            raise InvalidInput(f"--strip knows {', '.join(sorted(STRIPPABLE))}, not "
                               f"{', '.join(unknown)}")


@dataclass(frozen=True)
class InstalledPackage:
    cpv: str
    build_id: int | None
    binpkg_md5: str | None
    build_time: int


@dataclass(frozen=True)
class Assembled:
    root: Path
    arch: str
    atoms: tuple[str, ...]
    packages: tuple[InstalledPackage, ...]
    # Every file's mtime: the newest BUILD_TIME among the packages.
    epoch: int
    requested: tuple[BuildOut, ...] = field(default=())


class ImageReporter:
    """Hooks for progress; the CLI renders them."""

    def requesting(self, cpvs: Sequence[str]) -> None: ...

    def progress(self, builds: Sequence[BuildOut]) -> None: ...

    def installing(self, atoms: Sequence[str]) -> None: ...


@dataclass(frozen=True)
class _ImageTarget(PrefixTarget):
    """The node's emerge into ROOT = the image with EPREFIX empty, in bubblewrap with only
    `writable` writable."""

    root: Path
    writable: Path

    def command(self, argv: Sequence[str],
                env: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
        # Temporary files go to the work directory too: /tmp stays the host's, read-only
        # (a tmpfs over it would hide a Python or Portage installed under /tmp).
        temporary = self.writable / "tmp"
        temporary.mkdir(exist_ok=True)
        command, command_env = super().command(argv, {"EPREFIX": "", "ROOT": str(self.root),
                                                      "TMPDIR": str(temporary), **env})
        sandbox = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
                   "--bind", str(self.writable), str(self.writable), "--die-with-parent", "--"]
        return [*sandbox, *command], command_env


def assemble(client: FarmClient, spec: ImageSpec, work: Path, *, token: str | None,
             reporter: ImageReporter | None = None) -> Assembled:
    """Build the image of `spec` in `work/root` (`work` is writable scratch, removed by the
    caller); `token` is the one the farm's binhost is read with."""
    reporter = reporter or ImageReporter()
    if missing := missing_sandbox_tools():
        raise Unavailable(f"building an image needs {', '.join(missing)} (install bubblewrap)")
    profile = checkout_profile(client, spec.profile, work / "tree")
    atoms = _atoms(spec, profile.out.world)
    node, root = work / "node", work / "root"
    root.mkdir(parents=True)
    write_node(node, profile.tree, profile.make_profile, NodeLayer(
        distdir=node / "distfiles", repositories=profile.repositories,
        binhost=binhost_uri(client.base_url, spec.profile, "image", token),
        binhost_cache=pkgdir(node) / "binhost", farm_keys=client.public_keys(),
        extra=_absolute_paths(node, spec.strip)))
    target = _ImageTarget(node, root, work)
    log = work / "emerge.log"
    plan = _pretend(target, atoms, log)
    _refuse_unwanted(plan, spec)
    requested: tuple[BuildOut, ...] = ()
    if plan.compile:
        if not spec.request_missing:
            raise InvalidInput(f"profile {spec.profile!r} has no binary yet of: "
                               f"{', '.join(plan.compile)} (without --no-request, the farm "
                               "is asked to build them first)")
        reporter.requesting(plan.compile)
        builds = client.request_builds(spec.profile, [f"={c}" for c in plan.compile],
                                       requester="binfarm image")
        requested = tuple(client.wait_for_builds((b.id for b in builds),
                                                 progress=reporter.progress))
        if failed := [b for b in requested if b.state != "succeeded"]:
            raise InvalidInput("the farm could not build what the image needs: " + "; ".join(
                f"build {b.id} of {b.cpv} {b.state}" + (f": {b.error}" if b.error else "")
                for b in failed))
    reporter.installing(atoms)
    _check(_emerge(target, ["--usepkgonly", *_OPTIONS, *atoms], log), log,
           "installing the image's packages")
    packages = _inventory(root)
    for relative in (*_BUILDER_STATE, *(() if spec.pkgdb else _PKGDB)):
        path = root / relative
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    epoch = max((p.build_time for p in packages), default=0)
    _settle(root, epoch)
    return Assembled(root, profile.out.arch, atoms, packages, epoch, requested)


def _atoms(spec: ImageSpec, world: Sequence[str]) -> tuple[str, ...]:
    if spec.world and not world:
        raise InvalidInput(f"profile {spec.profile!r} has no world yet: name the packages, or "
                           f"set its world with `binfarm profile world {spec.profile}`")
    atoms = [*(world if spec.world else ()), *spec.atoms,
             *((_PORTAGE,) if spec.with_portage else ())]
    if not atoms:
        raise InvalidInput("name the packages the image holds, or give --world")
    bad = [a for a in atoms if not a or a.startswith(("-", "@")) or any(c.isspace() for c in a)]
    if bad:
        raise InvalidInput(f"not package atoms: {', '.join(map(repr, bad))} (sets such as "
                           "@system hold the toolchain: name the packages)")
    return tuple(dict.fromkeys(atoms))


def _absolute_paths(node: Path, strip: frozenset[str]) -> dict[str, str]:
    """With EPREFIX empty, the layer's ${EPREFIX}-relative paths would be the host's own."""
    values = {"PKGDIR": str(pkgdir(node)), "PORTAGE_TMPDIR": str(node / "var/tmp"),
              "PORTAGE_LOGDIR": str(node / "var/log/portage"),
              "BINPKG_GPG_VERIFY_GPG_HOME": str(node / "etc/portage/gnupg")}
    if strip:
        values["INSTALL_MASK"] = " ".join(p for kind in sorted(strip) for p in STRIPPABLE[kind])
    return values


def _pretend(target: _ImageTarget, atoms: Sequence[str], log: Path) -> Plan:
    result = _emerge(target, ["--pretend", "--usepkg", *_OPTIONS, *atoms], log)
    text = log.read_text(errors="replace")
    if not result.ok:
        raise InvalidInput(f"Portage cannot install {' '.join(atoms)} for this profile:",
                           detail=_tail(text))
    return parse_plan(text)


def _emerge(target: _ImageTarget, args: Sequence[str], log: Path) -> BuildResult:
    with open(log, "wb") as handle:
        return run_emerge(target, args, handle, timeout_s=_EMERGE_TIMEOUT_S)


def _check(result: BuildResult, log: Path, doing: str) -> None:
    if not result.ok:
        raise InvalidInput(f"emerge failed {doing} (status {result.returncode}):",
                           detail=_tail(log.read_text(errors="replace")))


def _refuse_unwanted(plan: Plan, spec: ImageSpec) -> None:
    cpvs = [*plan.compile, *plan.binary]
    unwanted = [c for c in cpvs if (cp_of(c) in _TOOLCHAIN and not spec.with_toolchain)
                or (cp_of(c) == _PORTAGE and not spec.with_portage)]
    if unwanted:
        raise InvalidInput(f"the image would hold {', '.join(unwanted)}: a compiler or "
                           "Portage goes in only with --with-toolchain or --with-portage "
                           "(`emerge -pvt` in a machine of the profile shows what pulls "
                           "them in)")


def _inventory(root: Path) -> tuple[InstalledPackage, ...]:
    """What the package database says was installed, and from which binary."""
    packages = []
    for entry in sorted((root / "var/db/pkg").glob("*/*")):
        if not entry.is_dir() or entry.name.startswith("-"):
            continue
        build_id = _read(entry / "BUILD_ID")
        packages.append(InstalledPackage(f"{entry.parent.name}/{entry.name}",
                                         int(build_id) if build_id else None,
                                         _read(entry / "BINPKGMD5"),
                                         int(_read(entry / "BUILD_TIME") or 0)))
    return tuple(packages)


def _settle(root: Path, epoch: int) -> None:
    """Give every entry the mtime `epoch`, so the same binaries make the same image. The
    package database says so too: CONTENTS records each file's mtime (unmerge leaves a
    file whose mtime differs), and its cache each directory's."""
    for contents in root.glob("var/db/pkg/*/*/CONTENTS"):
        contents.write_text("".join(
            _CONTENTS_MTIME.sub(f" {epoch}", line) if line.startswith(("obj ", "sym ")) else line
            for line in contents.read_text().splitlines(keepends=True)))
    for metadata in root.glob("var/db/pkg/*/*/metadata"):
        lines = metadata.read_text().splitlines(keepends=True)
        if lines and lines[-1].startswith(_VDB_DIR_MTIME):
            lines[-1] = f"{_VDB_DIR_MTIME}{epoch * 1_000_000_000}\n"
            metadata.write_text("".join(lines))
    for top, dirs, files in os.walk(root, topdown=False):
        for name in [*files, *dirs]:
            os.utime(Path(top) / name, (epoch, epoch), follow_symlinks=False)
    os.utime(root, (epoch, epoch))


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def _tail(text: str) -> str:
    lines = [line for line in text.splitlines() if not line.startswith(">>> binfarm:")]
    return "\n".join(lines[-40:])
