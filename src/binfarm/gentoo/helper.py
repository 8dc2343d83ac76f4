"""The Portage helper: a child process, and the only module that imports portage.

Portage keys global state on PORTAGE_CONFIGROOT and friends, read at import, so the parent
starts one child per config root with that environment and never imports portage itself.
Run as `python -m binfarm.gentoo.helper`: one HelperRequest on stdin, one HelperReply out.
Anything Portage writes to stderr while loading a profile (its "!!!" complaints) is kept,
and a profile it complained about is refused with those words.
"""

from __future__ import annotations

import bz2
import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from binfarm.gentoo.protocol import (
    ROOT_KIND_VAR,
    HelperReply,
    HelperRequest,
    ProfileInfo,
    Resolution,
    SigningRequest,
)
from binfarm.keys.hooks import hooks_digest
from binfarm.keys.inputs import KeyInputs, compute_key

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
            raise _Refused("invalid", _unquoted(f"{captured.getvalue()}{type(exc).__name__}: "
                                                f"{exc}")) from exc
    return settings, captured.getvalue()


_QUOTED_TOKEN = re.compile(r"(token|value) '[^\n]*?'(?= |$|\n|\))", re.IGNORECASE)


def _unquoted(message: str) -> str:
    """Portage's parse errors quote the offending text; a tree may `source` a file the
    caller must not read (/etc/shadow), so the quote is left out and only the place said."""
    return _QUOTED_TOKEN.sub(r"\1 (not shown)", message)


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
        fflags=settings.get("FFLAGS", ""),
        fcflags=settings.get("FCFLAGS", ""),
        makeopts=settings.get("MAKEOPTS", ""),
    )
    if not info.chost:
        raise _Refused("invalid", "!!! the profile sets no CHOST")
    return info.model_dump()


def resolve(root: str, atom: str) -> dict[str, Any]:
    import portage

    settings, _ = _load_config(root)
    return _best_visible(settings, portage.portdbapi(mysettings=settings), atom).model_dump()


def prepare_request(root: str, atoms: list[str]) -> dict[str, Any]:
    """For a request of several atoms, in one call: each one's resolution, the inputs of
    its build key, and which of the others it depends on (any dependency class, with its
    USE), so that the farm builds those first."""
    from portage.dep import Atom, use_reduce

    context = _KeyContext(root)
    resolved = [_best_visible(context.settings, context.portdb, atom) for atom in atoms]
    cps = [str(Atom(f"={r.cpv}").cp) for r in resolved]
    packages = []
    for index, resolution in enumerate(resolved):
        inputs = context.predict(resolution.cpv)
        needed: set[str] = set()
        for depstring in context.portdb.aux_get(resolution.cpv, list(_SLOT_DEP_VARS)):
            for token in use_reduce(depstring, uselist=list(inputs.use), flat=True):
                if token not in ("||",) and not token.startswith("!"):
                    needed.add(str(Atom(token).cp))
        packages.append({"resolution": resolution.model_dump(), "inputs": inputs.to_json(),
                         "needs": [j for j, cp in enumerate(cps)
                                   if cp in needed and j != index]})
    return {"packages": packages}


def _best_visible(settings: Any, portdb: Any, atom: str) -> Resolution:
    import portage
    from portage.dbapi.dep_expand import dep_expand
    from portage.exception import AmbiguousPackageName, InvalidAtom

    try:
        expanded = dep_expand(atom, mydb=portdb, settings=settings)
    except AmbiguousPackageName as exc:
        names = ", ".join(str(name) for name in exc.args[0])
        raise _Refused("invalid", f"{atom!r} is ambiguous: {names}") from exc
    except InvalidAtom as exc:
        raise _Refused("invalid", f"{atom!r} is not a valid atom") from exc
    best = portdb.xmatch("bestmatch-visible", expanded)
    if not best:
        if masked := portdb.xmatch("match-all", expanded):
            # As emerge says it: "masked by: ~amd64 keyword", for each version.
            why = "; ".join(f"{cpv} masked by: "
                            f"{', '.join(portage.getmaskingstatus(cpv, settings, portdb))}"
                            for cpv in masked)
            raise _Refused("invalid",
                           f"every ebuild matching {atom!r} is masked for this profile ({why})")
        raise _Refused("not_found", f"no ebuild matches {atom!r} in this profile's repositories")
    slot, repo = portdb.aux_get(best, ["SLOT", "repository"])
    return Resolution(atom=str(expanded), cpv=str(best), slot=slot, repo=repo)


def describe_binpkg(root: str, path: str, signing: SigningRequest | None) -> dict[str, Any]:
    """Return the Packages entry Portage itself writes for the binary package at `path`
    (and sign a copy of it, when asked)."""
    from portage.dbapi.bintree import binarytree
    from portage.getbinpkg import PackageIndex
    from portage.versions import _pkg_str

    settings, _ = _load_config(root)
    if signing is not None:
        _check_signable(_with_signing(settings, signing), path, resign=False)
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
        md = _binpkg_metadata(path, settings)
        ebuild = md.get(f"{md.get('PF', '')}.ebuild", b"").decode(errors="replace")
        _check_image(_image_members(settings, path),
                     setuid_ok=bool(_SETUID_HINT.search(ebuild))
                     or "fcaps" in md.get("INHERITED", "").split())
        inputs = _KeyContext(root).from_binpkg(path)
        if signing is not None:
            _sign(settings, path, signing)
        return {"entry": entry, "key_inputs": inputs.to_json()}


def sign_binpkg(root: str, path: str, signing: SigningRequest) -> dict[str, Any]:
    settings, _ = _load_config(root)
    _check_signable(_with_signing(settings, signing), path, resign=signing.resign)
    _sign(settings, path, signing)
    return {}


def _with_signing(settings: Any, signing: SigningRequest) -> Any:
    """`settings` set to sign with the farm's key and to verify in the farm's own keyring,
    as root (that keyring is private to the farm, so gpg must not drop to nobody)."""
    options = ["--pinentry-mode", "loopback", "--passphrase-file",
               signing.passphrase_file] if signing.passphrase_file else []
    settings.unlock()
    settings["BINPKG_GPG_SIGNING_GPG_HOME"] = signing.home
    settings["BINPKG_GPG_SIGNING_KEY"] = signing.key
    settings["BINPKG_GPG_SIGNING_BASE_COMMAND"] = " ".join(
        ["/usr/bin/flock", signing.lock, "/usr/bin/gpg", *options, "--sign", "--armor",
         "[PORTAGE_CONFIG]"])
    settings["BINPKG_GPG_VERIFY_GPG_HOME"] = signing.home
    settings["GPG_VERIFY_USER_DROP"] = ""
    settings["GPG_VERIFY_GROUP_DROP"] = ""
    settings.lock()
    return settings


def _check_signable(settings: Any, path: str, *, resign: bool) -> None:
    """Only a GPKG can be signed, and only one whose own Manifest matches its members; an
    upload must be unsigned (the farm signs; a worker holds no key)."""
    from portage.binpkg import get_binpkg_format
    from portage.gpkg import gpkg

    try:
        kind = get_binpkg_format(path, check_file=True)
    except Exception as exc:  # InvalidBinaryPackageFormat, OSError
        raise _Refused("invalid", "not a binary package Portage can read") from exc
    if kind != "gpkg":
        raise _Refused("invalid", "an XPAK package: the farm serves signed GPKG only, as "
                       "Portage ignores XPAK packages from binhosts it verifies "
                       "(build with BINPKG_FORMAT=gpkg)")
    stderr = io.StringIO()
    package = gpkg(settings, gpkg_file=path, verify_signature=False)
    try:
        with contextlib.redirect_stderr(stderr):
            package._verify_binpkg()
    except Exception as exc:  # DigestException, InvalidBinaryPackageFormat, ...
        raise _Refused("invalid", f"the package does not match its own Manifest: "
                       f"{str(exc).replace(path, 'the package')}") from exc
    if package.signature_exist and not resign:
        raise _Refused("invalid", "the package is signed already: workers upload unsigned "
                       "packages and the farm signs them (FEATURES=-binpkg-signing)")


def _sign(settings: Any, path: str, signing: SigningRequest) -> None:
    """Sign a copy of `path` into `signing.out` (Portage's own gpkg-sign, as an API), then
    verify the result as a client would; `settings` come from `_with_signing`."""
    from portage.gpkg import gpkg

    shutil.copyfile(path, signing.out)
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            gpkg(settings, gpkg_file=signing.out, verify_signature=signing.resign) \
                .update_signature()
            gpkg(settings, gpkg_file=signing.out, verify_signature=True)._verify_binpkg()
    except Exception as exc:
        raise _Refused("internal", f"signing failed: {type(exc).__name__}: {exc} "
                       f"{stderr.getvalue()[-1000:]}") from exc


# An ebuild that sets a setuid or setgid mode (fperms 4711, chmod u+s, install -m 2755).
_SETUID_HINT = re.compile(r"(?:fperms|chmod|-m)\s+(?:[0-7]?[2467][0-7]{3}\b|[ugoa]*[+=][rwxXt]*s)")


def _image_members(settings: Any, path: str) -> Iterator[tarfile.TarInfo]:
    """The members of a binary package's image, read as a stream (nothing is extracted)."""
    from portage.binpkg import get_binpkg_format

    if get_binpkg_format(path) == "xpak":
        with tarfile.open(path, "r|*") as image:
            yield from image
        return
    from portage.gpkg import gpkg, tar_stream_reader

    package = gpkg(settings, None, path)
    with tarfile.open(path, "r") as container:
        member, compression = package._get_inner_tarinfo(container, "image")
        with tar_stream_reader(container.extractfile(member),
                               package._get_decompression_cmd(compression)) as stream, \
                tarfile.open(mode="r|", fileobj=stream) as image:
            yield from image


def _check_image(members: Iterator[tarfile.TarInfo], *, setuid_ok: bool) -> None:
    """Refuse an image with a member outside it, a device or FIFO, or a setuid/setgid file
    its ebuild does not ask for."""
    try:
        for member in members:
            name = member.name.removeprefix("./")
            parts = name.split("/")
            targets = [member.linkname] if member.islnk() else []
            if name.startswith("/") or ".." in parts or any(
                    t.startswith("/") or ".." in t.split("/") for t in targets):
                raise _Refused("invalid", f"the image has a path outside it: {member.name!r}")
            if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
                raise _Refused("invalid", f"the image has a device or FIFO: {member.name!r}")
            if member.mode & 0o6000 and not setuid_ok:
                raise _Refused("invalid", f"the image has a setuid/setgid file its ebuild does "
                                          f"not install: {member.name!r}")
    except (tarfile.TarError, OSError) as exc:
        raise _Refused("invalid", f"cannot read the package's image: {exc}") from exc


_FLAG_VARS = ("CFLAGS", "CXXFLAGS", "FFLAGS", "FCFLAGS", "LDFLAGS")
_SLOT_DEP_VARS = ("DEPEND", "RDEPEND", "BDEPEND")
# A slot operator: `:=` or `:SLOT=` (and `:SLOT/SUBSLOT=` in a binary).
_SLOT_OPERATOR = re.compile(r":(?:[\w+][\w+.-]*(?:/[\w+.-]+)?)?=")


def _slot_operator_groups(struct: list[Any]) -> Iterator[list[Any]]:
    """The slot-operator atoms of a USE-reduced dependency structure: each alone, or the
    ones of one || group together, in the order written."""
    from portage.dep import Atom

    items = iter(struct)
    for item in items:
        if item == "||":
            group = [a for a in _flatten(next(items)) if a.slot_operator == "="]
            if group:
                yield group
        elif isinstance(item, list):
            yield from _slot_operator_groups(item)
        elif isinstance(item, Atom) and item.slot_operator == "=":
            yield [item]


def _flatten(struct: Any) -> Iterator[Any]:
    if isinstance(struct, list):
        for item in struct:
            if item != "||":
                yield from _flatten(item)
    else:
        yield struct


def _slots_by_cp(packages: list[Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for package in packages:
        out.setdefault(package.cp, []).append(f"{package.slot}/{package.sub_slot}")
    return out


class _KeyContext:
    """Portage objects and caches shared by every key computed in one helper call."""

    def __init__(self, root: str, settings: Any = None, portdb: Any = None) -> None:
        """A context of its own, or over a resolver's already loaded config and portdb."""
        import portage

        self.settings = settings if settings is not None else _load_config(root)[0]
        self.portdb = portdb if portdb is not None else \
            portage.portdbapi(mysettings=self.settings)
        self.pkgsettings = portage.config(clone=self.settings)
        # The farm's layer says when the profile builds in a chroot root (for /).
        self.for_root = self.settings.get(ROOT_KIND_VAR) == "chroot"
        self.hooks = hooks_digest(Path(root) / "etc" / "portage")
        self._files: dict[str, str] = {}
        self._slots: dict[str, str] = {}

    def file_sha256(self, path: str) -> str:
        if path not in self._files:
            with open(path, "rb") as handle:
                self._files[path] = hashlib.sha256(handle.read()).hexdigest()
        return self._files[path]

    def eclasses(self, repo: str, names: list[str]) -> dict[str, str]:
        db = self.settings.repositories[repo].eclass_db
        return {name: self.file_sha256(db.eclasses[name].location) for name in names
                if name in db.eclasses}

    def slot_deps(self, depstrings: list[str], use: list[str], *, built: bool,
                  chosen: dict[str, list[str]] | None = None) -> list[str]:
        """cat/pn:slot/subslot of each slot-operator (`:=`, `:SLOT=`) dependency, the way
        Portage records them in a binary (dep/_slot_operator.py): as built; or as the
        resolver chose (`chosen`: slot/subslot by cat/pn), else the best visible version.
        Of an || group only the first branch that is (or will be) installed counts, as
        the resolver takes the first branch it can."""
        from portage.dep import Atom, use_reduce

        out: list[str] = []
        for depstring in depstrings:
            if not _SLOT_OPERATOR.search(depstring):
                continue  # no slot operator: skip the parse (most packages)
            struct = use_reduce(depstring, uselist=use, token_class=Atom)
            for group in _slot_operator_groups(struct):
                for atom in group:
                    slot = self._slot_of(atom, built=built, chosen=chosen or {},
                                         alone=len(group) == 1)
                    if slot is not None:
                        out.append(f"{atom.cp}:{slot}")
                        break
        return out

    def _slot_of(self, atom: Any, *, built: bool, chosen: dict[str, list[str]],
                 alone: bool) -> str | None:
        if built:  # Portage wrote SLOT/SUBSLOT= where the dependency was installed
            return f"{atom.slot}/{atom.sub_slot}" if atom.sub_slot else None
        for picked in chosen.get(atom.cp, []):
            if atom.slot is None or picked.split("/")[0] == atom.slot:
                return picked
        if chosen and not alone:
            return None  # an || branch the resolver did not take: not installed
        return self._best_slot(atom)

    def _best_slot(self, atom: Any) -> str | None:
        key = str(atom)
        if key not in self._slots:
            best = self.portdb.xmatch("bestmatch-visible", atom)
            slot = self.portdb.aux_get(best, ["SLOT"])[0] if best else ""
            self._slots[key] = slot if "/" in slot or not slot else f"{slot}/{slot}"
        return self._slots[key] or None

    def predict(self, cpv: str) -> KeyInputs:
        """The inputs of a build of `cpv` with this profile, as Portage works them out."""
        keys = ["IUSE", "INHERITED", "repository", *_SLOT_DEP_VARS]
        iuse, inherited, repo, *deps = self.portdb.aux_get(cpv, keys)
        pkg = self.pkgsettings
        pkg.setcpv(cpv, mydb=self.portdb)
        use = pkg["PORTAGE_USE"].split()
        return KeyInputs.build(
            cpv=cpv, repo=repo, chost=pkg.get("CHOST", ""), use=use, iuse=iuse.split(),
            flags={name: pkg.get(name, "") for name in _FLAG_VARS}, features=pkg.features,
            ebuild_sha256=self.file_sha256(self.portdb.findname(cpv, myrepo=repo)),
            eclasses=self.eclasses(repo, inherited.split()),
            slot_deps=self.slot_deps(deps, use, built=False),
            for_root=self.for_root, hooks=self.hooks,
        )

    def predict_package(self, pkg: Any, children: list[Any]) -> KeyInputs:
        """`predict` for a package the resolver already evaluated: its USE is the
        resolver's, and a := dependency takes the subslot of the package the resolver chose
        for it (`children`); only a package that package.env touches (its own flags or
        FEATURES) pays for Portage's setcpv."""
        cpv = str(pkg.cpv)
        if self.settings._penvdict.get(pkg.cp):
            return self.predict(cpv)
        metadata = pkg._metadata
        use = list(pkg.use.enabled)
        return KeyInputs.build(
            cpv=cpv, repo=pkg.repo, chost=self.settings.get("CHOST", ""), use=use,
            iuse=metadata["IUSE"].split(),
            flags={name: self.settings.get(name, "") for name in _FLAG_VARS},
            features=self.settings.features,
            ebuild_sha256=self.file_sha256(self.portdb.findname(cpv, myrepo=pkg.repo)),
            eclasses=self.eclasses(pkg.repo, metadata["INHERITED"].split()),
            slot_deps=self.slot_deps([metadata[v] for v in _SLOT_DEP_VARS], use, built=False,
                                     chosen=_slots_by_cp(children)),
            for_root=self.for_root, hooks=self.hooks,
        )

    def from_binpkg(self, path: str) -> KeyInputs:
        """The inputs a stored binary package was built with, from its own metadata."""
        md = _binpkg_metadata(path, self.settings)
        cpv = f"{md.get('CATEGORY', '')}/{md.get('PF', '')}"
        environment = _exported(md.get("environment.bz2", b""), _FLAG_VARS)
        use = md.get("USE", "").split()
        repo = md.get("repository", "")
        ebuild = md.get(f"{md.get('PF', '')}.ebuild", b"")
        return KeyInputs.build(
            cpv=cpv, repo=repo, chost=md.get("CHOST", "").strip(), use=use,
            iuse=md.get("IUSE", "").split(),
            flags={name: md.get(name) or environment.get(name, "") for name in _FLAG_VARS},
            features=md.get("FEATURES", "").split(),
            ebuild_sha256=hashlib.sha256(ebuild if isinstance(ebuild, bytes)
                                         else ebuild.encode()).hexdigest(),
            eclasses=self.eclasses(repo, md.get("INHERITED", "").split())
            if repo in self.settings.repositories else {},
            slot_deps=self.slot_deps([md.get(v, "") for v in _SLOT_DEP_VARS], use, built=True),
            for_root=not md.get("EPREFIX", "").strip(), hooks=self.hooks,
        )


def _binpkg_metadata(path: str, settings: Any) -> dict[str, Any]:
    """A binary package's metadata files: text values as str, binary ones as bytes."""
    import portage
    from portage.binpkg import get_binpkg_format

    if get_binpkg_format(path) == "xpak":
        raw = {k.decode(): v for k, v in portage.xpak.tbz2(path).get_data().items()}
    else:
        raw = portage.gpkg.gpkg(settings, None, path).get_metadata()
    out: dict[str, Any] = {}
    for name, value in raw.items():
        if name.endswith((".bz2", ".ebuild")):
            out[name] = value if isinstance(value, bytes) else value.encode()
        else:
            out[name] = (value.decode(errors="replace") if isinstance(value, bytes)
                         else value).strip()
    return out


def _exported(environment_bz2: bytes, names: tuple[str, ...]) -> dict[str, str]:
    """Variables `declare -x`-ported in a saved ebuild environment (LDFLAGS, FFLAGS...)."""
    if not environment_bz2:
        return {}
    text = bz2.decompress(environment_bz2).decode(errors="replace")
    pattern = re.compile(rf'^declare -x ({"|".join(names)})="(.*)"$', re.MULTILINE)
    return dict(pattern.findall(text))


_STAGE3_KEYS = ("SLOT", "EAPI", "KEYWORDS", "IUSE", "DEPEND", "RDEPEND", "BDEPEND",
                "PDEPEND", "IDEPEND", "DEFINED_PHASES", "INHERITED", "LICENSE", "repository")


def _register_installed(vdb: str, cpv: str, metadata: dict[str, str], use: str) -> None:
    category, pf = cpv.split("/", 1)
    entry = os.path.join(vdb, category, pf)
    os.makedirs(entry, exist_ok=True)
    values = {name: metadata.get(name, "") for name in _STAGE3_KEYS}
    values.update(CATEGORY=category, PF=pf, COUNTER="1", USE=use, BUILD_TIME="1",
                  CONTENTS="")
    for name, value in values.items():
        with open(os.path.join(entry, name), "w", encoding="utf-8") as handle:
            handle.write(f"{value}\n")


def _resolve(config: Any, atoms: list[str], options: dict[str, Any]) -> tuple[bool, Any]:
    from _emerge.create_depgraph_params import create_depgraph_params
    from _emerge.depgraph import backtrack_depgraph

    params = create_depgraph_params(options, None)
    ok, graph, _favorites = backtrack_depgraph(config.target_config.settings, config.trees,
                                               options, params, None, atoms, None)
    return ok, graph


def _merges(nodes: Any) -> list[Any]:
    from _emerge.Package import Package

    return [task for task in nodes if isinstance(task, Package) and task.operation == "merge"
            and task.type_name == "ebuild"]


def _stand_in_stage3(load: Any) -> Any:
    """A fresh machine starts from a stage3: @system and all it pulls in, build-time
    dependencies too, each built with the USE the profile gives it. Portage resolves that
    closure itself (`emerge -e @system`), and it becomes the node's package database, so
    that Portage breaks build cycles with installed packages as it does on a real machine
    (gcc and glibc need each other; perl[berkdb] needs db, which needs autoconf, which
    needs perl). A stage3 is bootstrapped around such cycles, so they cannot be ordered
    from nothing: the closure is read from the dependency graph whether or not it could
    be ordered, after a first pass that registers the best version of each @system atom
    (which breaks the toolchain's cycle inside @system). `load` loads the configuration;
    Portage reads the package database when the resolver first needs it, so it is loaded
    again for the closure."""
    from portage._sets.profiles import PackagesSystemSet

    config = load()
    target = config.target_config
    vdb = os.path.join(target.settings["EROOT"], "var", "db", "pkg")
    shutil.rmtree(vdb, ignore_errors=True)
    portdb = target.trees["porttree"].dbapi
    system = PackagesSystemSet(target.settings._locations_manager.profiles_complex)
    for atom in sorted(system.getAtoms(), key=str):
        best = portdb.xmatch("bestmatch-visible", atom)
        if best:
            _register_installed(vdb, best, dict(zip(
                _STAGE3_KEYS, portdb.aux_get(best, list(_STAGE3_KEYS)), strict=True)), "")
    # No backtracking: it would look for USE changes that break the cycles, and a stage3
    # has the profile's USE.
    _ok, graph = _resolve(config, ["@system"], {"--pretend": True, "--emptytree": True,
                                                "--quiet": True, "--backtrack": 0})
    for pkg in _merges(graph._dynamic_config.digraph):
        _register_installed(vdb, str(pkg.cpv), dict(pkg._metadata),
                            " ".join(sorted(pkg.use.enabled)))
    return load()


def plan(root: str, atoms: list[str]) -> dict[str, Any]:
    """Everything a fresh machine of this profile merges for `atoms` (world, @system), in
    Portage's own merge order, with each package's dependencies inside the plan and the
    inputs of its build key. Portage's resolver runs as `emerge -pe` would run it, on a
    stand-in stage3 (see _stand_in_stage3)."""
    from _emerge.actions import load_emerge_config

    options: dict[str, Any] = {"--pretend": True, "--emptytree": True, "--quiet": True}
    chatter = io.StringIO()
    with contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter):
        def load() -> Any:
            return load_emerge_config(env=dict(os.environ), action=None, args=atoms,
                                      opts=options)

        config = _stand_in_stage3(load)
        target = config.target_config
        ok, graph = _resolve(config, atoms, options)
        if not ok:
            graph.display_problems()
    if not ok:
        raise _Refused("invalid", "Portage cannot resolve "
                       f"{' '.join(atoms)}:\n{chatter.getvalue()[-4000:]}")
    merges = _merges(graph.altlist())
    planned = set(merges)
    digraph = graph._dynamic_config.digraph
    context = _KeyContext(root, target.settings, target.trees["porttree"].dbapi)
    packages = []
    for task in merges:
        children = [c for c in digraph.child_nodes(task) if c in planned and c is not task]
        inputs = context.predict_package(task, children).to_json()
        packages.append({"cpv": str(task.cpv), "key": compute_key(inputs), "inputs": inputs,
                         "deps": sorted({str(child.cpv) for child in children})})
    return {"packages": packages}


def best_versions(root: str, cps: list[str]) -> dict[str, Any]:
    """The best visible version of each package (cat/pn), or "" when there is none."""
    import portage

    settings, _ = _load_config(root)
    portdb = portage.portdbapi(mysettings=settings)
    return {"best": {cp: portdb.xmatch("bestmatch-visible", cp) or "" for cp in cps}}


def key_inputs(root: str, cpvs: list[str]) -> dict[str, Any]:
    context = _KeyContext(root)
    return {"inputs": [context.predict(cpv).to_json() for cpv in cpvs]}


def _dispatch(request: HelperRequest, root: str) -> dict[str, Any]:
    if request.op == "inspect_profile":
        return inspect_profile(root)
    if request.op == "plan" and request.cpvs is not None:
        return plan(root, request.cpvs)
    if request.op == "best_versions" and request.cpvs is not None:
        return best_versions(root, request.cpvs)
    if request.op == "key_inputs" and request.cpvs is not None:
        return key_inputs(root, request.cpvs)
    if request.op == "resolve" and request.atom is not None:
        return resolve(root, request.atom)
    if request.op == "prepare_request" and request.cpvs is not None:
        return prepare_request(root, request.cpvs)
    if request.op == "describe_binpkg" and request.path is not None:
        return describe_binpkg(root, request.path, request.signing)
    if request.op == "sign_binpkg" and request.path is not None and request.signing:
        return sign_binpkg(root, request.path, request.signing)
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
    # json.dumps, not pydantic: a plan's reply holds thousands of packages.
    sys.stdout.write(json.dumps(reply.model_dump()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
