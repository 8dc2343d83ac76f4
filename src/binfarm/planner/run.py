"""Plan the fleet with Portage, and enqueue what is missing in dependency order.

Each profile's world (+ @system) is resolved by Portage's own resolver, as `emerge -pe`
would, in a helper process per profile (`jobs` at once). Enqueuing follows each profile's
merge order: a build waits for the builds of its dependencies (`after`), and build roots
install those dependencies from the farm's own binaries, so none is compiled twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from binfarm.errors import InvalidInput
from binfarm.farm import Farm
from binfarm.gentoo.toolchain import isa_of_inputs
from binfarm.planner.plan import FleetPlan, PlannedPackage
from binfarm.profiles.registry import Profile
from binfarm.queue.service import Build, Requester

__all__ = ["enqueue_plan", "plan_fleet"]

log = logging.getLogger(__name__)


def plan_fleet(farm: Farm, profile_names: list[str] | None = None, *, jobs: int = 1,
               progress: Callable[[str], None] = lambda _name: None) -> FleetPlan:
    """Resolve every named profile (all profiles when none are named)."""
    profiles = ([farm.profiles.get(n) for n in profile_names] if profile_names
                else farm.profiles.list())
    if not profiles:
        raise InvalidInput("there is no profile to plan")
    def resolve(profile: Profile) -> list[PlannedPackage]:
        node = farm.profiles.query_node(profile, farm.node_layer(profile.name))
        builds = farm.helper.plan(node, [*profile.world, "@system"])
        progress(profile.name)
        return [PlannedPackage(profile.name, b.cpv, b.key, b.inputs, b.deps) for b in builds]

    with ThreadPoolExecutor(max(1, jobs)) as pool:
        resolved = dict(zip([p.name for p in profiles], pool.map(resolve, profiles),
                            strict=True))
    keys = {p.key for packages in resolved.values() for p in packages}
    return FleetPlan(resolved, frozenset(farm.catalog.stored_keys(keys)))


def enqueue_plan(farm: Farm, plan: FleetPlan, requester: Requester) -> list[Build]:
    """Queue every build the plan still needs, each after the builds it depends on, all
    pinned to a snapshot of the repositories as they are now."""
    snapshots = {name: str(farm.repositories.snapshot(name, farm.data_dir / "snapshots"))
                 for name in farm.repositories.locations()}
    build_of: dict[str, int] = {}
    queued: list[Build] = []
    for name, packages in sorted(plan.packages.items()):
        profile = farm.profiles.get(name)
        key_of = {p.cpv: p.key for p in packages}
        for package in packages:  # Portage's merge order: dependencies come first
            if package.key in plan.stored or package.key in build_of:
                continue
            inputs = package.inputs
            after = tuple(build_of[key_of[dep]] for dep in package.deps
                          if key_of.get(dep) in build_of)
            build = farm.queue.request(
                profile=profile.name, atom=f"={package.cpv}", cpv=package.cpv,
                key=package.key, env={}, priority=0, requester=requester, after=after,
                repositories=snapshots,
                required_isa=isa_of_inputs(inputs))
            build_of[package.key] = build.id
            queued.append(build)
    log.info("plan enqueued builds=%s", len(queued))
    farm.wake_workers()
    return queued
