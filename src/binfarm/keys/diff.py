"""Why two sets of key inputs differ, in words an admin acts on."""

from __future__ import annotations

from binfarm.keys.inputs import KeyInputs

__all__ = ["differences"]


def differences(wanted: KeyInputs, have: KeyInputs) -> list[str]:
    """What separates a stored instance (`have`) from what a profile wants (`wanted`)."""
    out = []
    if wanted.cpv != have.cpv:
        out.append(f"a different version: {have.cpv}, the profile wants {wanted.cpv}")
    if wanted.for_root != have.for_root:
        out.append(f"built for {have.target}, the profile builds for {wanted.target}")
    if wanted.chost != have.chost:
        out.append(f"CHOST {have.chost}, the profile has {wanted.chost}")
    extra, missing = set(have.use) - set(wanted.use), set(wanted.use) - set(have.use)
    if extra or missing:
        changes = [f"+{u}" for u in sorted(missing)] + [f"-{u}" for u in sorted(extra)]
        out.append(f"USE differs: the profile wants {' '.join(changes)}")
    for name in ("cflags", "cxxflags", "fflags", "fcflags", "ldflags"):
        if getattr(wanted, name) != getattr(have, name):
            out.append(f"{name.upper()} differ: built with {getattr(have, name)!r}, the "
                       f"profile uses {getattr(wanted, name)!r}")
    if wanted.features != have.features:
        out.append(f"FEATURES differ: built with {' '.join(have.features) or 'none'}, the "
                   f"profile uses {' '.join(wanted.features) or 'none'}")
    if wanted.hooks != have.hooks:
        out.append("the profile's build hooks (bashrc, env/, patches/, profile/) differ")
    if wanted.ebuild_sha256 != have.ebuild_sha256:
        out.append("the ebuild changed since this binary was built")
    have_ec, want_ec = dict(have.eclasses), dict(wanted.eclasses)
    for name in sorted(set(have_ec) | set(want_ec)):
        if have_ec.get(name) != want_ec.get(name):
            out.append(f"eclass {name} changed since this binary was built")
    have_slots, want_slots = _slots(have.slot_deps), _slots(wanted.slot_deps)
    for cp in sorted(set(have_slots) | set(want_slots)):
        before, now = have_slots.get(cp, "none"), want_slots.get(cp, "none")
        if before != now:
            out.append(f"dependency {cp} subslot changed: built against {before}, now {now}")
    return out


def _slots(slot_deps: tuple[str, ...]) -> dict[str, str]:
    return dict(dep.rsplit(":", 1) for dep in slot_deps)  # type: ignore[misc]
