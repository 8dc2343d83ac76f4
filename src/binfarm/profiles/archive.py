"""Move a profile tree between machines as a tar.gz, safely.

Packing (on the admin's machine) turns make.profile into a `repo:path` reference, since
the symlink means nothing on the farm. Unpacking (on the farm) accepts only regular files,
directories and symlinks that stay inside the tree, within size limits.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
from pathlib import Path
from typing import Final

from binfarm.errors import InvalidInput
from binfarm.profiles.model import MakeProfileRef

__all__ = ["MACHINE_LOCAL_FILES", "drop_machine_local", "find_make_profile", "pack_tree",
           "tree_digest", "unpack_tree"]

_MAX_MEMBERS: Final = 10_000
# A machine's own, never a profile's: binrepos.conf holds the machine's farm credentials,
# gnupg/ the keyring it verifies packages in (getuto's, with its local key's passphrase),
# binfarm-ca.pem the CA of an https farm.
MACHINE_LOCAL_FILES: Final = frozenset({"binrepos.conf", "gnupg", "binfarm-ca.pem"})


def find_make_profile(config_dir: Path) -> MakeProfileRef | None:
    """The repo:path a make.profile symlink points at, or None when it is not a symlink.

    The repository is found by its profiles/repo_name when the target exists here, and
    otherwise by Gentoo's convention that a repository's directory is named for it.
    """
    link = config_dir / "make.profile"
    if not link.is_symlink():
        return None
    target = Path(os.path.normpath(link.parent / os.readlink(link)))
    parts = target.parts
    if "profiles" not in parts:
        raise InvalidInput(
            f"{link} points at {target}, which is not inside a repository's profiles/"
        )
    cut = len(parts) - 1 - parts[::-1].index("profiles")
    repo_dir = Path(*parts[:cut])
    name_file = repo_dir / "profiles" / "repo_name"
    repo = name_file.read_text().strip() if name_file.is_file() else repo_dir.name
    return MakeProfileRef(repo, "/".join(parts[cut + 1 :]))


def pack_tree(config_dir: Path, exclude: frozenset[str] = frozenset()) -> bytes:
    """A tar.gz of `config_dir`, leaving out a make.profile symlink and the top-level
    names in `exclude` (a machine's binrepos.conf holds its credentials).

    Other symlinks are stored as what they point at: they mean nothing on the farm.
    """
    if not config_dir.is_dir():
        raise InvalidInput(f"{config_dir} is not a directory")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", dereference=True) as tar:
        for path in sorted(config_dir.rglob("*")):
            rel = path.relative_to(config_dir)
            if (rel == Path("make.profile") and path.is_symlink()) or rel.parts[0] in exclude:
                continue
            tar.add(path, arcname=str(rel), recursive=False)
    return buffer.getvalue()


def drop_machine_local(tree: Path) -> None:
    """Remove what belongs to the sending machine from a received tree: the farm never
    keeps a machine's binrepos.conf credentials, and writes its own."""
    for name in MACHINE_LOCAL_FILES:
        path = tree / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def tree_digest(tree: Path, make_profile: MakeProfileRef | None) -> str:
    """A digest of a stored tree's files and its make.profile: equal trees, equal digests."""
    digest = hashlib.sha256(f"make.profile={make_profile}\n".encode())
    for path in sorted(p for p in tree.rglob("*") if p.is_file()):
        content = path.read_bytes()
        digest.update(f"{path.relative_to(tree)}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()


def unpack_tree(data: bytes, dest: Path, *, max_bytes: int) -> None:
    """Extract a packed tree into the empty directory `dest`; raise InvalidInput if unsafe."""
    try:
        tar = tarfile.open(fileobj=io.BytesIO(data), mode="r:*")  # noqa: SIM115 (closed below)
    except tarfile.TarError as exc:
        raise InvalidInput(f"the profile tree is not a tar archive: {exc}") from exc
    with tar:
        # Counted as each header is read: a member past the limit is refused before its
        # data is decompressed (a 4 GiB gzip bomb costs milliseconds).
        members, total = [], 0
        try:
            while (member := tar.next()) is not None:
                if len(members) >= _MAX_MEMBERS:
                    raise InvalidInput(f"the profile tree has more than {_MAX_MEMBERS} entries")
                if not (member.isfile() or member.isdir() or member.issym()):
                    raise InvalidInput(f"{member.name}: only files, directories and symlinks "
                                       "allowed")
                total += member.size
                if total > max_bytes:
                    raise InvalidInput(f"the profile tree is larger than {max_bytes} bytes")
                members.append(member)
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise InvalidInput(f"the profile tree is not a readable tar archive: {exc}") from exc
        try:
            tar.extractall(dest, members=members, filter="data")
        except (tarfile.TarError, OSError) as exc:
            raise InvalidInput(f"unsafe or broken profile tree: {exc}") from exc
