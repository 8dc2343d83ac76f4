"""Write a Portage node: a prefix that is also its own configuration root.

A node's etc/portage is the profile's tree exactly as the user wrote it, plus one last
layer that the farm owns: make.conf/zzzz-binfarm-node and repos.conf/zzzz-binfarm-node.conf
hold what belongs to this machine rather than to the profile (DISTDIR, PKGDIR, temporary
directories, the FEATURES a farm needs, repository locations, mirrors). Portage reads
directory layers in name order, so the farm's layer is read last and the user's stay intact.
"""

from __future__ import annotations

import os
import pwd
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from binfarm.files import swap_in
from binfarm.profiles.model import MakeProfileRef
from binfarm.signing.trust import trust_farm_keys_only

__all__ = [
    "FARM_FEATURES",
    "NodeLayer",
    "link_toolchain",
    "node_env",
    "pkgdir",
    "remove_node",
    "wget_commands",
    "write_bare_node",
    "write_config",
    "write_node",
]

LAYER_NAME = "zzzz-binfarm-node"
# Sandboxes need a portage user and cost ~1 s a package. A worker never signs (it holds
# no key): the farm signs each package after upload.
FARM_FEATURES = (
    "-sandbox -usersandbox -userpriv -userfetch -usersync -pid-sandbox -ipc-sandbox "
    "-network-sandbox -binpkg-signing -binpkg-request-signature -gpg-keepalive -news "
    "-qa-unresolved-soname-deps buildpkg binpkg-multi-instance"
)
# The tool names Portage and ebuilds ask for by CHOST, mapped to what Debian installs.
_CHOST_TOOLS = ("gcc", "g++", "cc", "c++", "cpp", "ar", "as", "ld", "nm", "ranlib",
                "strip", "objcopy", "objdump", "readelf", "pkg-config")
_SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class NodeLayer:
    """What this machine adds to a profile to build with it."""

    distdir: Path
    repositories: Mapping[str, Path]
    mirrors: tuple[str, ...] = ()
    extra: Mapping[str, str] = field(default_factory=dict)
    # The farm's binhost for this profile: a build root installs dependencies from it,
    # verifying them against the farm's public keys (armored).
    binhost: str | None = None
    farm_keys: bytes = b""
    # The CA an https farm is checked against, as the node sees the file.
    ca_file: Path | None = None
    # Where Portage keeps the binhost's files it fetched [default: EPREFIX/var/cache/binhost].
    binhost_cache: Path | None = None


def pkgdir(node: Path) -> Path:
    return node / "var/cache/binpkgs"


def node_env(node: Path) -> dict[str, str]:
    """The whole environment of a Portage process for `node`; nothing is inherited."""
    return {
        "PATH": f"{node / 'bin'}:{Path(sys.executable).parent}:{_SYSTEM_PATH}",
        "PORTAGE_CONFIGROOT": str(node),
        "PORTAGE_OVERRIDE_EPREFIX": str(node),
        "HOME": str(node / "var/tmp"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "NOCOLOR": "true",
        "TERM": "dumb",
    }


def write_node(
    node: Path, tree: Path, make_profile: MakeProfileRef | None, layer: NodeLayer
) -> None:
    """Make `node` a prefix whose etc/portage is `tree` plus the farm's layer.

    The previous etc/portage is replaced whole; the rest of the prefix (installed
    packages, PKGDIR) is kept, so a build root accumulates its dependencies.
    """
    write_config(node / "etc" / "portage", tree, make_profile, layer,
                 portage_user=_user_exists("portage"))
    _link_portage_data(node)
    for sub in ("var/tmp", "var/log/portage", "var/cache/binpkgs", "bin"):
        (node / sub).mkdir(parents=True, exist_ok=True)
    _link_tool(node / "bin" / "gtar", "tar")


def wget_commands(ca_file: Path | None) -> dict[str, str]:
    """FETCHCOMMAND and RESUMECOMMAND that check an https server against `ca_file` (none
    when it is None: Portage's own, with the system's CAs)."""
    if ca_file is None:
        return {}
    wget = f"wget -t 3 -T 60 --ca-certificate={ca_file}"
    return {"FETCHCOMMAND": f'{wget} -O "${{DISTDIR}}/${{FILE}}" "${{URI}}"',
            "RESUMECOMMAND": f'{wget} -c -O "${{DISTDIR}}/${{FILE}}" "${{URI}}"'}


def write_bare_node(node: Path) -> Path:
    """A node with no profile and no repository: enough for Portage to read and sign a
    binary package it did not build."""
    (node / "etc" / "portage").mkdir(parents=True, exist_ok=True)
    _link_portage_data(node)
    return node


def write_config(
    target: Path, tree: Path, make_profile: MakeProfileRef | None, layer: NodeLayer, *,
    portage_user: bool,
) -> None:
    """Replace the directory `target` (an etc/portage) with `tree` plus the farm's layer;
    without a `portage_user` in the root, Portage runs as root."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.new")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(tree, staging, symlinks=True)
    for name in ("make.conf", "repos.conf", "binrepos.conf"):
        _as_directory(staging / name)
    if make_profile is not None:
        location = layer.repositories.get(make_profile.repo)
        if location is None:
            raise KeyError(make_profile.repo)
        (staging / "make.profile").unlink(missing_ok=True)
        (staging / "make.profile").symlink_to(location / "profiles" / make_profile.path)
    # The layer holds the build root's farm credential (mirror and binhost URIs): 0600.
    _write_private(staging / "make.conf" / LAYER_NAME, _make_conf_layer(layer, portage_user))
    (staging / "repos.conf" / f"{LAYER_NAME}.conf").write_text(_repos_conf_layer(layer))
    if layer.binhost:
        fetch = "".join(f"{name.lower()} = {command}\n"
                        for name, command in wget_commands(layer.ca_file).items())
        _write_private(staging / "binrepos.conf" / f"{LAYER_NAME}.conf",
                       f"[binfarm-farm]\npriority = 100\nsync-uri = {layer.binhost}\n"
                       f"verify-signature = true\n{fetch}" + (
                           f"location = {layer.binhost_cache}\n" if layer.binhost_cache else ""))
        trust_farm_keys_only(staging / "gnupg", layer.farm_keys)
    swap_in(staging, target)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def link_toolchain(node: Path, chost: str) -> list[str]:
    """Give `node` the CHOST-prefixed tools Portage asks for; return the names missing."""
    missing = []
    for tool in _CHOST_TOOLS:
        name = f"{chost}-{tool}"
        if shutil.which(name, path=_SYSTEM_PATH):
            continue
        if not _link_tool(node / "bin" / name, tool) and tool in ("gcc", "cc"):
            missing.append(name)
    return missing


def _link_tool(link: Path, tool: str) -> bool:
    found = shutil.which(tool, path=_SYSTEM_PATH)
    if found is None:
        return False
    link.unlink(missing_ok=True)
    link.symlink_to(found)
    return True


def _as_directory(path: Path) -> None:
    """Turn a file-shaped make.conf/repos.conf into a directory so a layer can follow it."""
    if path.is_dir():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() or path.is_symlink():
        content = path.read_bytes()
        path.unlink()
        path.mkdir()
        (path / f"00-{path.name}").write_bytes(content)
    else:
        path.mkdir()


def _make_conf_layer(layer: NodeLayer, portage_user: bool) -> str:
    values = {
        "DISTDIR": str(layer.distdir),
        "PKGDIR": "${EPREFIX}/var/cache/binpkgs",
        "PORTAGE_TMPDIR": "${EPREFIX}/var/tmp",
        "PORTAGE_LOGDIR": "${EPREFIX}/var/log/portage",
        "FEATURES": f"${{FEATURES}} {FARM_FEATURES}",
        "NOCOLOR": "true",
        # A profile's own binhosts, emerge options and log commands never reach a build.
        "PORTAGE_BINHOST": "",
        "EMERGE_DEFAULT_OPTS": "",
        "PORTAGE_ELOG_SYSTEM": "save",
        # A farm node never runs a trust helper (getuto): the farm writes its keyring.
        "PORTAGE_TRUST_HELPER": "",
    }
    if not portage_user:
        values.update(PORTAGE_USERNAME="root", PORTAGE_GRPNAME="root")
    if layer.binhost:
        values.update({
            # The farm's keys, in a directory private to the worker: gpg reads them as
            # root rather than as nobody.
            "BINPKG_GPG_VERIFY_GPG_HOME": "${EPREFIX}/etc/portage/gnupg",
            "GPG_VERIFY_USER_DROP": "",
            "GPG_VERIFY_GROUP_DROP": "",
        })
    # Quoted for make.conf: Portage expands ${DISTDIR} when it runs the command, not here.
    values.update({name: command.replace('"', '\\"').replace("${", "\\${")
                   for name, command in wget_commands(layer.ca_file).items()})
    if layer.mirrors:
        values["GENTOO_MIRRORS"] = " ".join([*layer.mirrors, "${GENTOO_MIRRORS}"])
    values.update(layer.extra)
    lines = ["# Written by binfarm: this machine's settings, read after the profile's own."]
    lines += [f'{key}="{value}"' for key, value in values.items()]
    return "\n".join(lines) + "\n"


def _repos_conf_layer(layer: NodeLayer) -> str:
    lines = ["# Written by binfarm: where this machine keeps the farm's repositories."]
    for name, location in sorted(layer.repositories.items()):
        lines += ["", f"[{name}]", f"location = {location}"]
    return "\n".join(lines) + "\n"


def _link_portage_data(node: Path) -> None:
    # make.globals and the default sets only: the wheel's repos.conf would add a bogus
    # [gentoo] and its binrepos.conf forces signature checks.
    data = Path(sys.prefix) / "share/portage/config"
    target = node / "share/portage/config"
    target.mkdir(parents=True, exist_ok=True)
    for name in ("make.globals", "sets"):
        link = target / name
        if not link.is_symlink():
            link.symlink_to(data / name)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def remove_node(node: Path) -> None:
    if node.exists():
        shutil.rmtree(node)

