"""KeyInputs: everything that changes a binary, in canonical form, and the BuildKey of it.

The same KeyInputs come from two places that must agree: Portage's prediction for a
(package version, profile) before a build, and a stored binary package's own metadata
after it. Flags that change no code (-pipe, warnings, diagnostics) are dropped so they do
not split keys; flag order is kept, since a later -O overrides an earlier one.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["OUTPUT_FEATURES", "KeyInputs", "compute_key", "normalize_flags", "target_name"]

# FEATURES that change what ends up in the package.
OUTPUT_FEATURES: Final = frozenset({
    "binpkg-docompress", "binpkg-dostrip", "compressdebug", "installsources", "nostrip",
    "splitdebug",
})
_NO_CODE_FLAGS: Final = re.compile(
    r"^(-pipe|-W(?!l,|a,|p,)[^,]*|-fdiagnostics-.*|-fmessage-length=.*|-fno-diagnostics-.*|"
    r"-frecord-gcc-switches|-fno-record-gcc-switches)$"
)
_KEY_VERSION: Final = 1


def target_name(for_root: bool) -> str:
    """What a binary is built for, in words: / or a prefix."""
    return "/ (a chroot root)" if for_root else "a prefix"


def normalize_flags(flags: str) -> str:
    """Compiler flags with those that change no code removed, whitespace folded."""
    return " ".join(f for f in flags.split() if not _NO_CODE_FLAGS.match(f))


@dataclass(frozen=True)
class KeyInputs:
    cpv: str
    repo: str
    chost: str
    use: tuple[str, ...]
    cflags: str
    cxxflags: str
    fflags: str
    ldflags: str
    features: tuple[str, ...]
    ebuild_sha256: str
    eclasses: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    slot_deps: tuple[str, ...] = field(default_factory=tuple)
    # Built for / (EPREFIX empty, in a chroot root) rather than for a prefix: paths are
    # compiled in, so the two never share a binary.
    for_root: bool = False
    fcflags: str = ""
    # Digest of the profile's build hooks (bashrc, env/, package.env, patches/, profile/): code that
    # runs in the build, so a profile with them never shares a binary with one without.
    hooks: str = ""

    @classmethod
    def build(cls, *, cpv: str, repo: str, chost: str, use: Iterable[str],
              iuse: Iterable[str], flags: Mapping[str, str], features: Iterable[str],
              ebuild_sha256: str, eclasses: Mapping[str, str],
              slot_deps: Iterable[str], for_root: bool = False, hooks: str = "") -> KeyInputs:
        """Canonical inputs: USE filtered by IUSE, flags normalized, everything sorted."""
        names = {flag.lstrip("+-") for flag in iuse}
        return cls(
            cpv=cpv, repo=repo, chost=chost,
            use=tuple(sorted(set(use) & names)),
            cflags=normalize_flags(flags.get("CFLAGS", "")),
            cxxflags=normalize_flags(flags.get("CXXFLAGS", "")),
            fflags=normalize_flags(flags.get("FFLAGS", "")),
            ldflags=normalize_flags(flags.get("LDFLAGS", "")),
            fcflags=normalize_flags(flags.get("FCFLAGS", "")),
            features=tuple(sorted(set(features) & OUTPUT_FEATURES)),
            ebuild_sha256=ebuild_sha256,
            eclasses=tuple(sorted(eclasses.items())),
            slot_deps=tuple(sorted(set(slot_deps))),
            for_root=for_root,
            hooks=hooks,
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> KeyInputs:
        return cls(
            **{**data, "use": tuple(data["use"]), "features": tuple(data["features"]),
               "eclasses": tuple((n, h) for n, h in data["eclasses"]),
               "slot_deps": tuple(data["slot_deps"]),
               "for_root": bool(data.get("for_root", False)),
               "fcflags": data.get("fcflags", ""), "hooks": data.get("hooks", "")}
        )

    def to_json(self) -> dict[str, Any]:
        # By hand: dataclasses.asdict deep-copies, and the planner calls this for thousands.
        # Later fields only when set: keys stay what they were before the fields existed.
        extra: dict[str, Any] = {"for_root": True} if self.for_root else {}
        extra |= {name: value for name, value in (("fcflags", self.fcflags),
                                                  ("hooks", self.hooks)) if value}
        return {**extra, "cpv": self.cpv, "repo": self.repo, "chost": self.chost,
                "use": list(self.use), "cflags": self.cflags, "cxxflags": self.cxxflags,
                "fflags": self.fflags, "ldflags": self.ldflags, "features": list(self.features),
                "ebuild_sha256": self.ebuild_sha256,
                "eclasses": [list(pair) for pair in self.eclasses],
                "slot_deps": list(self.slot_deps)}

    @property
    def flag_values(self) -> tuple[str, ...]:
        """Each compiler flag variable on its own: a later -march in one does not cancel
        an earlier one in another, so what a CPU needs is the union over them."""
        return (self.cflags, self.cxxflags, self.fflags, self.fcflags, self.ldflags)

    @property
    def target(self) -> str:
        return target_name(self.for_root)

    def cpu_flags(self, prefix: str = "cpu_flags_x86_") -> frozenset[str]:
        """The CPU_FLAGS_X86 values enabled in USE (cpu_flags_x86_avx2 -> avx2)."""
        return frozenset(u[len(prefix):] for u in self.use if u.startswith(prefix))


def compute_key(inputs: KeyInputs | Mapping[str, Any]) -> str:
    """The BuildKey: SHA-256 of the canonical JSON of the inputs (or of their to_json())."""
    data = inputs.to_json() if isinstance(inputs, KeyInputs) else inputs
    payload = json.dumps({"v": _KEY_VERSION, **data}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()
