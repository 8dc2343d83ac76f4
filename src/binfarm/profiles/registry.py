"""The farm's profiles: a copy of each user's tree, checked by Portage before it is kept.

A profile is added whole or not at all: the tree is unpacked and evaluated by Portage in
a staging directory, and only a tree Portage accepted is renamed into place and recorded.
Its CPU is what its machines can run: given as a level, -march name or flag list, or, by
default, exactly what its own compiler flags and CPU_FLAGS_X86 need. A CPU that cannot run
what the profile's own flags produce is refused.
"""

from __future__ import annotations

import configparser
import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from binfarm.db.tables import profiles
from binfarm.errors import Conflict, InvalidInput, found
from binfarm.gentoo.configroot import NodeLayer, write_node
from binfarm.gentoo.native import expand_native, native_variables
from binfarm.gentoo.pool import PortageHelper
from binfarm.gentoo.protocol import ProfileInfo
from binfarm.gentoo.toolchain import CpuSpec, cpu_spec, required_isa
from binfarm.profiles.archive import drop_machine_local, tree_digest, unpack_tree
from binfarm.profiles.model import MakeProfileRef, check_profile_name
from binfarm.store.catalog import Viewer

__all__ = ["Profile", "ProfileRegistry"]


_OWN_FLAGS = "its own flags"


@dataclass(frozen=True)
class Profile:
    name: str
    make_profile: MakeProfileRef | None
    info: ProfileInfo
    tree: Path
    node: Path
    cpu_spec: str
    cpu_features: frozenset[str]
    exact_flags: bool
    tree_digest: str | None
    base: str | None
    world: tuple[str, ...]
    # Its flags with -march=native written out for its CPU (gentoo/native.py), read by
    # every node of the profile after its own make.conf.
    flag_overrides: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: Any, root: Path) -> Profile:
        ref = MakeProfileRef.parse(row.make_profile) if row.make_profile else None
        return cls(row.name, ref, ProfileInfo.model_validate(row.info), root / row.name / "tree",
                   root / row.name / "node", row.cpu_spec or _OWN_FLAGS,
                   frozenset(row.cpu_features or ()), bool(row.exact_flags), row.tree_digest,
                   row.base, tuple(row.world or ()), dict(row.flag_overrides or {}))

    @property
    def viewer(self) -> Viewer:
        return Viewer(chost=self.info.chost, cpu_label=self.cpu_spec,
                      cpu_features=self.cpu_features, cflags=self.info.cflags,
                      exact_flags=self.exact_flags)


class ProfileRegistry:
    """Profiles under `root`/<name>/{tree,node}; `node` is the farm's own view for queries."""

    def __init__(self, engine: Engine, root: Path, helper: PortageHelper,
                 clock: Callable[[], float]) -> None:
        self.engine = engine
        self.root = root
        self.helper = helper
        self.clock = clock
        root.mkdir(parents=True, exist_ok=True)
        self._nodes_lock = threading.Lock()
        self._written: dict[str, NodeLayer] = {}

    def add(self, name: str, packed_tree: bytes, make_profile: MakeProfileRef | None,
            layer: NodeLayer, *, max_bytes: int, cpu: str | None = None,
            exact_flags: bool = False, base: str | None = None) -> Profile:
        """Check the tree with Portage and keep it; InvalidInput with Portage's complaint."""
        check_profile_name(name)
        if self.find(name) is not None:
            raise Conflict(f"profile {name!r} already exists")
        staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=self.root))
        try:
            unpack_tree(packed_tree, staging / "tree", max_bytes=max_bytes)
            drop_machine_local(staging / "tree")
            _check_repositories(staging / "tree", make_profile, layer.repositories)
            info, spec, overrides = self._evaluate_for_cpu(staging / "tree", staging / "node",
                                                           make_profile, layer, cpu)
            final = self.root / name
            staging.rename(final)
            try:
                with self.engine.begin() as conn:
                    now = self.clock()
                    conn.execute(insert(profiles).values(
                        name=name, make_profile=str(make_profile) if make_profile else None,
                        info=info.model_dump(), cpu_spec=spec.spec,
                        cpu_features=sorted(spec.features), exact_flags=exact_flags,
                        flag_overrides=overrides,
                        tree_digest=tree_digest(final / "tree", make_profile), base=base,
                        created_at=now, updated_at=now))
            except IntegrityError as exc:
                shutil.rmtree(final, ignore_errors=True)
                raise Conflict(f"profile {name!r} already exists") from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return self.get(name)

    def replace_tree(self, name: str, packed_tree: bytes, make_profile: MakeProfileRef | None,
                     layer: NodeLayer, *, max_bytes: int) -> Profile:
        """Give a profile a new tree, checked by Portage first; the old one stays on error."""
        profile = self.get(name)
        staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=self.root))
        try:
            unpack_tree(packed_tree, staging / "tree", max_bytes=max_bytes)
            drop_machine_local(staging / "tree")
            _check_repositories(staging / "tree", make_profile, layer.repositories)
            info, _spec, overrides = self._evaluate_for_cpu(
                staging / "tree", staging / "node", make_profile, layer,
                None if profile.cpu_spec == _OWN_FLAGS else profile.cpu_spec)
            digest = tree_digest(staging / "tree", make_profile)
            with self._nodes_lock:
                old = self.root / f".{name}-old"
                shutil.rmtree(old, ignore_errors=True)
                (self.root / name).rename(old)
                staging.rename(self.root / name)
                shutil.rmtree(old, ignore_errors=True)
                for node in [n for n in self._written if Path(n).parent.name == name]:
                    self._written.pop(node)
            with self.engine.begin() as conn:
                conn.execute(update(profiles).where(profiles.c.name == name).values(
                    make_profile=str(make_profile) if make_profile else None,
                    info=info.model_dump(), tree_digest=digest, flag_overrides=overrides,
                    updated_at=self.clock()))
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return self.get(name)

    def set_world(self, name: str, atoms: list[str]) -> Profile:
        self.get(name)
        with self.engine.begin() as conn:
            conn.execute(update(profiles).where(profiles.c.name == name)
                         .values(world=sorted(set(atoms)), updated_at=self.clock()))
        return self.get(name)

    def find_by_digest(self, digest: str, among: set[str] | None = None) -> Profile | None:
        """A profile whose stored tree is exactly this one (one of `among`, if given)."""
        query = select(profiles).where(profiles.c.tree_digest == digest)
        if among is not None:
            query = query.where(profiles.c.name.in_(sorted(among)))
        with self.engine.connect() as conn:
            row = conn.execute(query.order_by(profiles.c.name).limit(1)).first()
        return Profile.from_row(row, self.root) if row else None

    def set_cpu(self, name: str, cpu: str | None, layer: NodeLayer,
                exact_flags: bool | None = None) -> Profile:
        """Change what the profile's machines can run; refused if its own flags need more.
        A profile written with -march=native gets its flags written out for the new CPU."""
        profile = self.get(name)
        values: dict[str, Any] = {"updated_at": self.clock()}
        if profile.flag_overrides or native_variables(profile.info):
            scratch = Path(tempfile.mkdtemp(prefix=f".{name}-cpu-", dir=self.root))
            try:
                info, spec, overrides = self._evaluate_for_cpu(
                    profile.tree, scratch / "node", profile.make_profile, layer, cpu)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
            values.update(info=info.model_dump(), flag_overrides=overrides)
            with self._nodes_lock:  # the nodes are written again with the new flags
                for node in [n for n in self._written if Path(n).parent.name == name]:
                    self._written.pop(node)
        else:
            spec = _checked_cpu(profile.info, cpu)
        values.update(cpu_spec=spec.spec, cpu_features=sorted(spec.features))
        if exact_flags is not None:
            values["exact_flags"] = exact_flags
        with self.engine.begin() as conn:
            conn.execute(update(profiles).where(profiles.c.name == name).values(**values))
        return self.get(name)

    def find(self, name: str) -> Profile | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(profiles).where(profiles.c.name == name)).first()
        return Profile.from_row(row, self.root) if row else None

    def get(self, name: str) -> Profile:
        return found(self.find(name), f"no profile {name!r}")

    def list(self) -> list[Profile]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(profiles).order_by(profiles.c.name))
            return [Profile.from_row(row, self.root) for row in rows]

    def query_node(self, profile: Profile, layer: NodeLayer, variant: str = "") -> Path:
        """The farm's own node for `profile`, written again only when the farm's layer
        changed (a repository was added), and never by two requests at once. A `variant`
        (a plan's pinned repositories) gets a node of its own beside it."""
        node = profile.node.with_name(f"node-{variant}") if variant else profile.node
        if profile.flag_overrides:
            layer = replace(layer, extra={**layer.extra, **profile.flag_overrides})
        with self._nodes_lock:
            if self._written.get(str(node)) != layer:
                write_node(node, profile.tree, profile.make_profile, layer)
                self._written[str(node)] = layer
        return node

    def _evaluate_for_cpu(self, tree: Path, node: Path, make_profile: MakeProfileRef | None,
                          layer: NodeLayer, cpu: str | None
                          ) -> tuple[ProfileInfo, CpuSpec, dict[str, str]]:
        """The profile's settings, the CPU it declares, and its -march=native flags
        written out for that CPU (refused without one: `native` would mean the CPU of
        whichever worker or distcc host compiles)."""
        info = self._evaluate(tree, node, make_profile, layer)
        native = native_variables(info)
        if not native:
            return info, _checked_cpu(info, cpu), {}
        if cpu is None:
            raise InvalidInput(
                f"the profile's flags name -march=native ({', '.join(sorted(native))}): give "
                "its CPU with --cpu (a -march name such as znver3, or the machine's CPU "
                "flags), so the farm can write them out; every worker and distcc host then "
                "compiles for that CPU rather than its own")
        overrides = expand_native(native, cpu_spec(cpu))
        info = self._evaluate(tree, node, make_profile,
                              replace(layer, extra={**layer.extra, **overrides}))
        return info, _checked_cpu(info, cpu), overrides

    def _evaluate(self, tree: Path, node: Path, make_profile: MakeProfileRef | None,
                  layer: NodeLayer) -> ProfileInfo:
        try:
            write_node(node, tree, make_profile, layer)
        except OSError as exc:
            raise InvalidInput(f"cannot use the profile tree: {exc}") from exc
        return self.helper.inspect_profile(node)


def _checked_cpu(info: ProfileInfo, cpu: str | None) -> CpuSpec:
    own = required_isa(info.flag_values, frozenset(info.cpu_flags_x86))
    if cpu is None:
        return CpuSpec(_OWN_FLAGS, own)
    spec = cpu_spec(cpu)
    missing = sorted(own - spec.features)
    if missing:
        raise InvalidInput(
            f"the profile's own flags (CFLAGS {info.cflags!r}, CPU_FLAGS_X86 "
            f"{' '.join(info.cpu_flags_x86)!r}) need {', '.join(missing)}, which its CPU "
            f"({spec.spec}) does not have"
        )
    return spec


def _check_repositories(tree: Path, ref: MakeProfileRef | None,
                        repositories: Mapping[str, Path]) -> None:
    """Refuse a tree whose make.profile or repos.conf names a repository the farm does not
    have, saying how to add it (and where it already is on this machine, if it is)."""
    named = _repos_conf_locations(tree)
    wanted = {ref.repo} if ref is not None else set()
    missing = sorted((wanted | set(named)) - set(repositories))
    if not missing:
        return
    hints = []
    for name in missing:
        where = named.get(name)
        if where is not None and (Path(where) / "profiles" / "repo_name").is_file():
            hints.append(f"binfarm repo add {name} {where}  (repos.conf puts it there, and "
                         "it exists on the farm's machine)")
        else:
            hints.append(f"binfarm repo add {name} PATH")
    what = (f"make.profile points into repository {ref.repo!r}, which this farm does not "
            "have" if ref is not None and ref.repo in missing else
            f"repos.conf names {', '.join(repr(m) for m in missing)}, which this farm does "
            "not have")
    known = ", ".join(sorted(repositories)) or "none"
    raise InvalidInput(f"{what} (it has: {known}); add it with: " + "; ".join(hints))


def _repos_conf_locations(tree: Path) -> dict[str, str | None]:
    """Each repository a tree's repos.conf names, with the location it gives (if any)."""
    conf = tree / "repos.conf"
    files = [conf] if conf.is_file() else sorted(p for p in conf.rglob("*") if p.is_file())
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    for path in files:
        try:
            parser.read_string(path.read_text(errors="replace"), source=str(path))
        except configparser.Error as exc:
            raise InvalidInput(f"{path.relative_to(tree)}: not a repos.conf file: {exc}") from exc
    return {name: parser[name].get("location") for name in parser.sections()}
