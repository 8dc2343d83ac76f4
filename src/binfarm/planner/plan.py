"""The fleet plan from resolved worlds (pure): distinct builds, sharing, what splits them.

Input: for each profile, Portage's merge list for a fresh machine (world + @system), each
package with its build key. Output: the numbers an admin plans with, the matrix of what
profiles share, and the settings that split the most packages between two profiles
("USE=nls splits 3 packages between desktop and laptop") - what to align to share more.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import combinations

from binfarm.keys.inputs import KeyInputs

__all__ = ["FleetPlan", "PlannedPackage", "Split", "summarize"]


@dataclass(frozen=True)
class PlannedPackage:
    profile: str
    cpv: str
    key: str
    inputs: KeyInputs
    deps: tuple[str, ...]


@dataclass(frozen=True)
class Split:
    setting: str
    profiles: tuple[str, str]
    packages: int

    def __str__(self) -> str:
        return (f"{self.setting} splits {self.packages} package"
                f"{'s' if self.packages != 1 else ''} between {self.profiles[0]} and "
                f"{self.profiles[1]}")


@dataclass(frozen=True)
class FleetPlan:
    packages: dict[str, list[PlannedPackage]]
    stored: frozenset[str]
    distinct: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        keys = frozenset(p.key for pkgs in self.packages.values() for p in pkgs)
        object.__setattr__(self, "distinct", keys)

    @property
    def to_build(self) -> frozenset[str]:
        return self.distinct - self.stored

    @property
    def sharing_ratio(self) -> float:
        """(profile, package) pairs per distinct build: 1.0 shares nothing."""
        pairs = sum(len(pkgs) for pkgs in self.packages.values())
        return pairs / len(self.distinct) if self.distinct else 1.0

    def matrix(self) -> dict[str, dict[str, int]]:
        """For each two profiles, how many builds (keys) they share."""
        keys = {name: {p.key for p in pkgs} for name, pkgs in self.packages.items()}
        return {a: {b: len(keys[a] & keys[b]) for b in keys} for a in keys}

    def splits(self, limit: int = 10) -> list[Split]:
        """The settings that split the most packages between two profiles."""
        counts: Counter[tuple[str, str, str]] = Counter()
        by_profile = {name: {p.cpv: p for p in pkgs} for name, pkgs in self.packages.items()}
        for a, b in combinations(sorted(by_profile), 2):
            for cpv in by_profile[a].keys() & by_profile[b].keys():
                pa, pb = by_profile[a][cpv], by_profile[b][cpv]
                if pa.key != pb.key:
                    for setting in _settings_between(pa.inputs, pb.inputs):
                        counts[(setting, a, b)] += 1
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        return [Split(setting, (a, b), n) for (setting, a, b), n in ranked[:limit]]


def summarize(plan: FleetPlan) -> dict[str, object]:
    """The plan as `binfarm plan --json` prints it."""
    return {
        "profiles": {
            name: {"packages": len(pkgs),
                   "stored": sum(p.key in plan.stored for p in pkgs),
                   "to_build": sum(p.key not in plan.stored for p in pkgs)}
            for name, pkgs in sorted(plan.packages.items())
        },
        "distinct_builds": len(plan.distinct),
        "stored": len(plan.distinct & plan.stored),
        "to_build": len(plan.to_build),
        "sharing_ratio": round(plan.sharing_ratio, 3),
        "matrix": plan.matrix(),
        "splits": [str(s) for s in plan.splits()],
    }


def _settings_between(a: KeyInputs, b: KeyInputs) -> list[str]:
    settings = [f"USE={flag}" for flag in sorted(set(a.use) ^ set(b.use))]
    for name in ("cflags", "cxxflags", "fflags", "ldflags"):
        if getattr(a, name) != getattr(b, name):
            settings.append(f"{name.upper()} ({getattr(a, name)!r} vs {getattr(b, name)!r})")
    if a.features != b.features:
        settings.append("FEATURES")
    if a.slot_deps != b.slot_deps:
        settings.append("dependency subslots")
    return settings
