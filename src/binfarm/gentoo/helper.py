"""The Portage helper: a child process, and the only module that imports portage.

Portage keys global state on PORTAGE_CONFIGROOT and friends, read at import, so the parent
starts one child per config root with that environment and never imports portage itself.
Run as `python -m binfarm.gentoo.helper`: one HelperRequest on stdin, one HelperReply out.
Anything Portage writes to stderr while loading a profile (its "!!!" complaints) is kept,
and a profile it complained about is refused with those words.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
import tempfile
from typing import Any

from binfarm.gentoo.protocol import HelperReply, HelperRequest, ProfileInfo, Resolution

__all__ = ["main"]


class _Refused(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _load_config(root: str) -> tuple[Any, str]:
    """Import portage and evaluate the node's configuration; return it with Portage's stderr."""
    captured = io.StringIO()
    with contextlib.redirect_stderr(captured):
        try:
            import portage

            settings = portage.config(config_root=root, eprefix=root, target_root="/")
        except Exception as exc:  # Portage raises many unrelated types for a bad tree
            raise _Refused("invalid", f"{captured.getvalue()}{type(exc).__name__}: {exc}") from exc
    return settings, captured.getvalue()


def _complaints(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("!!!")]


def inspect_profile(root: str) -> dict[str, Any]:
    settings, stderr = _load_config(root)
    complaints = _complaints(stderr)
    if not settings.profiles:
        complaints.append(f"!!! no profile: {root}/etc/portage/make.profile is missing or empty")
    if complaints:
        raise _Refused("invalid", "\n".join(complaints))
    repos = settings.repositories
    info = ProfileInfo(
        chost=settings.get("CHOST", ""),
        arch=settings.get("ARCH", ""),
        cflags=settings.get("CFLAGS", ""),
        cxxflags=settings.get("CXXFLAGS", ""),
        ldflags=settings.get("LDFLAGS", ""),
        use=sorted(settings.get("USE", "").split()),
        cpu_flags_x86=sorted(settings.get("CPU_FLAGS_X86", "").split()),
        accept_keywords=settings.get("ACCEPT_KEYWORDS", ""),
        features=sorted(settings.features),
        profiles=list(settings.profiles),
        repositories={repo.name: repo.location for repo in repos},
        main_repo=repos.mainRepo().name if repos.mainRepo() else None,
    )
    if not info.chost:
        raise _Refused("invalid", "!!! the profile sets no CHOST")
    return info.model_dump()


def resolve(root: str, atom: str) -> dict[str, Any]:
    import portage
    from portage.dbapi.dep_expand import dep_expand
    from portage.exception import AmbiguousPackageName, InvalidAtom

    settings, _ = _load_config(root)
    portdb = portage.portdbapi(mysettings=settings)
    try:
        expanded = dep_expand(atom, mydb=portdb, settings=settings)
    except AmbiguousPackageName as exc:
        names = ", ".join(str(name) for name in exc.args[0])
        raise _Refused("invalid", f"{atom!r} is ambiguous: {names}") from exc
    except InvalidAtom as exc:
        raise _Refused("invalid", f"{atom!r} is not a valid atom") from exc
    best = portdb.xmatch("bestmatch-visible", expanded)
    if not best:
        if portdb.xmatch("match-all", expanded):
            raise _Refused("invalid", f"every ebuild matching {atom!r} is masked for this profile")
        raise _Refused("not_found", f"no ebuild matches {atom!r} in this profile's repositories")
    slot, repo = portdb.aux_get(best, ["SLOT", "repository"])
    return Resolution(atom=str(expanded), cpv=str(best), slot=slot, repo=repo).model_dump()


def describe_binpkg(root: str, path: str) -> dict[str, Any]:
    """Return the Packages entry Portage itself writes for the binary package at `path`."""
    from portage.dbapi.bintree import binarytree
    from portage.getbinpkg import PackageIndex
    from portage.versions import _pkg_str

    settings, _ = _load_config(root)
    with tempfile.TemporaryDirectory(prefix="describe-") as pkgdir:
        copy = os.path.join(pkgdir, "incoming")
        shutil.copyfile(path, copy)
        tree = binarytree(pkgdir=pkgdir, settings=settings)
        try:
            metadata = tree._read_metadata(copy, os.stat(copy), keys=["CATEGORY", "PF"])
        except Exception as exc:
            raise _Refused("invalid", f"not a binary package Portage can read: {exc}") from exc
        if not metadata.get("CATEGORY") or not metadata.get("PF"):
            raise _Refused("invalid", "the binary package names no CATEGORY/PF")
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            cpv = tree.inject(_pkg_str(f"{metadata['CATEGORY']}/{metadata['PF']}"), copy)
        if cpv is None:
            raise _Refused("invalid", stderr.getvalue().strip() or "Portage refused the package")
        index = PackageIndex(
            allowed_pkg_keys=None, default_header_data=None, default_pkg_data=None,
            inherited_keys=None, translated_keys=None,
        )
        with open(os.path.join(pkgdir, "Packages"), encoding="utf-8") as handle:
            index.read(handle)
        entry = dict(index.packages[0])
        for key in ("CHOST", "REPO"):
            if key not in entry and key in index.header:
                entry[key] = index.header[key]
        entry.pop("PATH", None)  # the farm chooses where it serves the file
        return {"entry": entry}


def _dispatch(request: HelperRequest, root: str) -> dict[str, Any]:
    if request.op == "inspect_profile":
        return inspect_profile(root)
    if request.op == "resolve" and request.atom is not None:
        return resolve(root, request.atom)
    if request.op == "describe_binpkg" and request.path is not None:
        return describe_binpkg(root, request.path)
    raise _Refused("invalid", f"malformed helper request: {request!r}")


def main() -> int:
    root = os.environ["PORTAGE_CONFIGROOT"]
    request = HelperRequest.model_validate_json(sys.stdin.read())
    try:
        reply = HelperReply(ok=True, result=_dispatch(request, root))
    except _Refused as exc:
        # Name files as the user knows them (make.conf/02slave), not by the farm's node path.
        message = str(exc).replace(f"{root}/etc/portage/", "")
        reply = HelperReply(ok=False, kind=exc.kind, error=message)  # type: ignore[arg-type]
    except Exception as exc:
        reply = HelperReply(ok=False, kind="internal", error=f"{type(exc).__name__}: {exc}")
    sys.stdout.write(reply.model_dump_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
