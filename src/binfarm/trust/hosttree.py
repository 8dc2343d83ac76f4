"""What a fleet machine may send as its configuration (`client register`, `client update`).

A host's tree may set USE, compiler flags, keywords, masks and licences, and the
make.conf variables below; it may name only repositories the farm has; its package.env
may point only at env/ files, and its profile/ may hold data (package.provided, masks,
USE forcing) and a make.defaults under make.conf's rules, but no `parent`. It may carry
its base profile's build hooks (bashrc, env/, patches/, profile/bashrc) unchanged, but
never add or change one: those run code in every build.
Everything is a regular file or a directory. Anything else is refused, naming the file,
before Portage reads the tree, so Portage never sources a host's file and its complaints
never quote a file from outside the tree.
"""

from __future__ import annotations

import configparser
import re
import shlex
import string
from collections.abc import Callable, Iterator, Set
from pathlib import Path
from typing import Final

from binfarm.errors import InvalidInput
from binfarm.keys.hooks import HOOK_PATHS
from binfarm.trust.grammar import (
    FLAG_VARIABLES,
    REQUEST_FEATURES,
    check_features,
    check_flags,
    check_makeopts,
    check_tokens,
)

__all__ = ["HOST_FILES", "MACHINE_LOCAL", "check_host_tree", "make_conf_assignments"]

# Files whose lines are atoms and flags: Portage reads them as data.
_ATOM_FILES: Final = frozenset({
    "package.use", "package.accept_keywords", "package.keywords", "package.mask",
    "package.unmask", "package.license", "package.properties", "package.accept_restrict",
})
HOST_FILES: Final = _ATOM_FILES | {"make.conf", "repos.conf", "package.env", *HOOK_PATHS}

_TOKEN_VARIABLES: Final = frozenset({
    "USE", "CPU_FLAGS_X86", "ACCEPT_KEYWORDS", "ACCEPT_LICENSE", "ACCEPT_PROPERTIES",
    "ACCEPT_RESTRICT", "CHOST", "ABI_X86", "L10N", "LINGUAS", "VIDEO_CARDS", "INPUT_DEVICES",
    "PYTHON_TARGETS", "PYTHON_SINGLE_TARGET", "RUBY_TARGETS", "LUA_TARGETS",
    "LUA_SINGLE_TARGET", "PHP_TARGETS", "POSTGRES_TARGETS", "LLVM_TARGETS", "LLVM_SLOT",
    "GRUB_PLATFORMS", "APACHE2_MODULES", "APACHE2_MPMS", "NGINX_MODULES_HTTP",
    "NGINX_MODULES_STREAM", "NGINX_MODULES_MAIL", "QEMU_SOFTMMU_TARGETS", "QEMU_USER_TARGETS",
    "ALSA_CARDS", "AMDGPU_TARGETS", "CAMERAS", "LCD_DEVICES", "SANE_BACKENDS",
    "OFFICE_IMPLEMENTATION", "XTABLES_ADDONS", "GPSD_PROTOCOLS", "COLLECTD_PLUGINS",
})
# A machine's own settings: accepted, and without effect on a build, since the farm's layer
# sets its own value for each one (gentoo/configroot.py).
MACHINE_LOCAL: Final = frozenset({
    "DISTDIR", "PKGDIR", "PORTDIR", "PORTAGE_TMPDIR", "PORTAGE_LOGDIR", "GENTOO_MIRRORS",
    "PORTAGE_BINHOST", "EMERGE_DEFAULT_OPTS", "PORTAGE_ELOG_CLASSES", "PORTAGE_ELOG_SYSTEM",
    "PORTAGE_USERNAME", "PORTAGE_GRPNAME", "LC_MESSAGES", "LANG", "NOCOLOR", "CLEAN_DELAY",
    "EMERGE_WARNING_DELAY", "PORTAGE_NICENESS", "BINPKG_FORMAT", "BINPKG_COMPRESS",
    # Where and how the machine verifies signatures: the farm's layer sets its own.
    "BINPKG_GPG_VERIFY_GPG_HOME", "PORTAGE_TRUST_HELPER", "GPG_VERIFY_USER_DROP",
    "GPG_VERIFY_GROUP_DROP",
})
# FEATURES that act only on the machine that runs emerge: the farm's layer sets its own.
_LOCAL_FEATURES: Final = frozenset({
    "sandbox", "usersandbox", "userpriv", "userfetch", "usersync", "pid-sandbox",
    "ipc-sandbox", "network-sandbox", "mount-sandbox", "network-sandbox-proxy", "news",
    "parallel-fetch", "parallel-install", "candy", "clean-logs", "buildpkg", "getbinpkg",
    "binpkg-multi-instance", "binpkg-logs", "binpkg-request-signature", "binpkg-signing",
    "fail-clean", "unmerge-orphans", "preserve-libs", "protect-owned", "merge-sync",
    "split-log", "split-elog", "strict", "xattr", "unknown-features-warn",
    "config-protect-if-modified",
})
_HOST_FEATURES: Final = REQUEST_FEATURES | _LOCAL_FEATURES
_CHECKS: Final[dict[str, Callable[[str], str]]] = {
    **{name: (lambda value, name=name: check_flags(name, value))
       for name in (*FLAG_VARIABLES, "COMMON_FLAGS")},
    **{name: (lambda value, name=name: check_tokens(name, value)) for name in _TOKEN_VARIABLES},
    "MAKEOPTS": check_makeopts,
    "FEATURES": lambda value: check_features(value, _HOST_FEATURES),
}
_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_REFERENCE: Final = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$[A-Za-z_][A-Za-z0-9_]*")
_WHY: Final = {
    "bashrc": "it runs in every phase of every build",
    "env": "package.env sources it into builds",
    "patches": "it is applied to the sources",
}
# A user profile (profile/): its data files as a host's own (package.provided, masks,
# USE forcing); make.defaults under make.conf's rules; its bashrc as a hook. `parent` is
# refused: it would make any directory on the farm a profile, with its bashrc.
_PROFILE_DATA: Final = frozenset({
    "package.provided", "package.use", "package.use.mask", "package.use.force",
    "package.use.stable.mask", "package.use.stable.force", "use.mask", "use.force",
    "use.stable.mask", "use.stable.force", "package.mask", "package.unmask",
    "package.accept_keywords", "package.keywords", "packages",
})


def make_conf_assignments(text: str, where: str) -> Iterator[tuple[str, str]]:
    """(NAME, value) for each assignment, lexed as Portage's getconfig lexes make.conf;
    `source` and anything that is not `NAME=value` are refused."""
    lexer = shlex.shlex(text, posix=True)
    lexer.wordchars = string.digits + string.ascii_letters + r"~!@#$%*_\:;?,./-+{}"
    lexer.quotes = "\"'"
    try:
        while (name := lexer.get_token()) is not None:
            if name == "export":
                name = lexer.get_token() or ""
            if name == "source":
                raise InvalidInput(f"{where}, line {lexer.lineno}: `source` is not allowed in "
                                   "a host's configuration")
            if not _NAME.fullmatch(name) or lexer.get_token() != "=":
                raise InvalidInput(f"{where}, line {lexer.lineno}: expected NAME=\"value\"")
            value = lexer.get_token()
            if value is None:
                raise InvalidInput(f"{where}, line {lexer.lineno}: {name}= has no value")
            yield name, value
    except ValueError as exc:  # shlex: an unbalanced quote
        raise InvalidInput(f"{where}: {exc}") from exc


def check_host_tree(tree: Path, *, repositories: Set[str], base: Path | None) -> None:
    """Refuse a host's unpacked tree unless everything in it is allowed; `base` is the tree
    of the profile the host derives from (its hooks may be carried unchanged)."""
    for path in sorted(tree.rglob("*")):
        rel = path.relative_to(tree)
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            raise InvalidInput(f"{rel}: a host's configuration holds only regular files and "
                               "directories")
        top = rel.parts[0]
        if top not in HOST_FILES:
            raise InvalidInput(
                f"{rel}: a host's configuration may hold only "
                f"{', '.join(sorted(HOST_FILES - set(HOOK_PATHS)))} (and its base profile's "
                "hooks unchanged); other files belong in a profile the admin adds")
        if not path.is_file():
            continue
        if top == "profile":
            _check_profile_file(path, rel, base)
        elif top in _WHY:
            _check_hook(path, rel, base)
        elif top == "make.conf":
            _check_make_conf(path.read_text(errors="replace"), str(rel))
        elif top == "repos.conf":
            _check_repos_conf(path.read_text(errors="replace"), str(rel), repositories)
        elif top == "package.env":
            _check_package_env(path.read_text(errors="replace"), str(rel), tree)


def _check_profile_file(path: Path, rel: Path, base: Path | None) -> None:
    name = rel.parts[1] if len(rel.parts) > 1 else ""
    if name == "bashrc":
        _check_hook(path, rel, base, why="a user profile's bashrc runs in every build")
    elif name == "make.defaults":
        _check_make_conf(path.read_text(errors="replace"), str(rel))
    elif name not in _PROFILE_DATA or len(rel.parts) > 3:
        raise InvalidInput(f"{rel}: a host's profile/ may hold only make.defaults and "
                           f"{', '.join(sorted(_PROFILE_DATA))} (no parent, no bashrc of "
                           "its own)")


def _check_hook(path: Path, rel: Path, base: Path | None, why: str = "") -> None:
    same = base is not None and (base / rel).is_file() and \
        (base / rel).read_bytes() == path.read_bytes()
    if not same:
        raise InvalidInput(f"{rel}: a host may not add or change a build hook "
                           f"({why or _WHY[rel.parts[0]]}); only its base profile's, unchanged "
                           f"({'register with --profile BASE' if base is None else 'it differs'}"
                           "). Ask the farm's admin to put it in a profile")


def _check_make_conf(text: str, where: str) -> None:
    for name, value in make_conf_assignments(text, where):
        if name in MACHINE_LOCAL:
            continue
        check = _CHECKS.get(name)
        if check is None:
            raise InvalidInput(
                f"{where}: {name} may not be set by a host (it may set USE and its "
                "USE_EXPAND variables, the compiler flags, MAKEOPTS, FEATURES, CHOST, "
                "ACCEPT_KEYWORDS and ACCEPT_LICENSE)")
        check(_REFERENCE.sub(" ", value))


def _check_repos_conf(text: str, where: str, repositories: Set[str]) -> None:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text, source=where)
    except configparser.Error as exc:
        raise InvalidInput(f"{where}: not a repos.conf file: {exc}") from exc
    unknown = sorted(set(parser.sections()) - set(repositories))
    if unknown:
        raise InvalidInput(f"{where}: {', '.join(unknown)} is not a repository of this farm "
                           f"(it has {', '.join(sorted(repositories)) or 'none'}); a host "
                           "names only those")


def _check_package_env(text: str, where: str, tree: Path) -> None:
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split("#", 1)[0].split()
        for name in words[1:]:
            if "/" in name or name.startswith(".") or not (tree / "env" / name).is_file():
                raise InvalidInput(f"{where}, line {number}: {name!r} is not a file in env/")
