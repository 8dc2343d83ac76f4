"""The farm's parts as tables: workers, profiles, fleet machines, distcc hosts, the fleet
plan, rollout and each profile's binhost."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from binfarm.farm import Farm
from binfarm.hosts.enrollment import HostState
from binfarm.planner.plan import FleetPlan
from binfarm.planner.run import plan_fleet
from binfarm.queue.rules import BuildState
from binfarm.queue.service import Build
from binfarm.queue.waiting import Waiting
from binfarm.queue.workers import WorkerInfo, WorkerState
from binfarm.rollout.channels import Channel
from binfarm.server.deps import FarmDep
from binfarm.tokens import Token
from binfarm.units import size_text
from binfarm.web.render import REFRESH_S, ago, error_line, page, section

__all__ = ["router", "worker_states"]

_EVENTS = 50  # the rollout page's latest changes

router = APIRouter(include_in_schema=False)


def worker_states(farm: Farm, now: float) -> list[tuple[WorkerInfo, WorkerState, list[Build]]]:
    """Each worker, its state and what it builds now."""
    running: dict[str, list[Build]] = {}
    for b in farm.queue.list(10_000, states=frozenset({BuildState.RUNNING})):
        running.setdefault(b.worker or "", []).append(b)
    return [(w, w.state(now, farm.workers.offline_after_s, len(running.get(w.name, []))),
             running.get(w.name, [])) for w in farm.workers.list()]


@router.get("/workers", response_class=HTMLResponse)
def workers_page(request: Request, farm: FarmDep) -> Response:
    def build(_who: Token | None) -> dict[str, Any]:
        now = farm.clock()
        rows = []
        for w, state, building in worker_states(farm, now):
            benched = state == WorkerState.BENCHED
            until = time.strftime("%H:%M", time.localtime(w.benched_until or 0))
            rows.append({
                "worker": w.name, "state": f"benched until {until}" if benched else state.value,
                "why": (w.bench_reason or "") if benched else "",
                "slots": f"{len(building)}/{w.slots} busy",
                "building": ", ".join(f"{b.id} {b.cpv}" for b in building) or "-",
                "heartbeat": ago(now - w.last_seen_at) + " ago",
                "failures in a row": w.consecutive_failures,
                "roots": "prefix, chroot" if w.chroot else "prefix", "gcc": w.compiler or "-",
                "_bad": "state" if state in (WorkerState.BENCHED, WorkerState.OFFLINE) else ""})
        return {"title": "workers", "refresh": REFRESH_S, "sections": [section(
            "Workers", ["worker", "state", "why", "slots", "building", "heartbeat",
                        "failures in a row", "roots", "gcc"], rows,
            "No worker has registered: start one with `binfarm worker`.")]}
    return page(request, farm, "farm.html", build)


@router.get("/profiles", response_class=HTMLResponse)
def profiles_page(request: Request, farm: FarmDep) -> Response:
    def build(_who: Token | None) -> dict[str, Any]:
        rows = []
        for p in farm.profiles.list():
            root = farm.roots.find(p.name)
            rows.append({"profile": p.name, "CHOST": p.info.chost, "CFLAGS": p.info.cflags,
                         "USE": " ".join(p.info.use), "CPU": p.cpu_spec,
                         "root": f"chroot ({root.source})" if root else "prefix",
                         "world": " ".join(p.world) or "-",
                         "binhost": f"/binhost/{p.name}/Packages"})
        return {"title": "profiles", "sections": [section(
            "Profiles", ["profile", "CHOST", "CFLAGS", "USE", "CPU", "root", "world",
                         "binhost"], rows, "No profile yet: `binfarm profile add`.")]}
    return page(request, farm, "farm.html", build)


@router.get("/hosts", response_class=HTMLResponse)
def hosts_page(request: Request, farm: FarmDep) -> Response:
    def build(_who: Token | None) -> dict[str, Any]:
        now = farm.clock()
        rows = [{"host": h.name, "profile": h.profile, "channel": h.channel, "state": state,
                 "last report": ago(now - h.last_report_at) + " ago"
                 if h.last_report_at else "never",
                 "result": h.last_result or "-", "installed": len(h.installed),
                 "out of date": ", ".join(stale) or "-",
                 "_bad": "state" if state != HostState.CURRENT else ""}
                for h, state, stale in farm.enrollment.states(now)]
        return {"title": "hosts", "sections": [section(
            "Fleet machines", ["host", "profile", "channel", "state", "last report", "result",
                               "installed", "out of date"], rows,
            "No machine has registered: `binfarm client register` on one.")]}
    return page(request, farm, "farm.html", build)


@router.get("/distcc", response_class=HTMLResponse)
def distcc_page(request: Request, farm: FarmDep) -> Response:
    def build(_who: Token | None) -> dict[str, Any]:
        leased = farm.distcc_slots.leased()
        rows = []
        for h in farm.distcc_slots.list():
            mine = [s for s in leased if s.host == h.name]
            rows.append({"host": h.name, "state": h.state.value + (" draining" if h.draining
                                                                   else ""),
                         "slots used/free": f"{len(mine)}/{max(0, h.slots - len(mine))}",
                         "builds": " ".join(sorted({str(s.build) for s in mine})) or "-",
                         "gcc": h.compiler or "-", "why": h.reason or "",
                         "_bad": "state" if not h.usable else ""})
        tasks = [{"build": build_id, "worker": worker, "file": t["file"],
                  "host": f"{t['host']}[{t['slot']}]", "phase": t["phase"]}
                 for build_id, worker, _at, found in farm.distcc_slots.activity()
                 for t in found]
        return {"title": "distcc", "sections": [
            section("distcc hosts", ["host", "state", "slots used/free", "builds", "gcc",
                                      "why"], rows, "No distcc host: `binfarm distcc add`."),
            section("Compiling now", ["build", "worker", "file", "host", "phase"], tasks,
                     "Nothing is compiling on the hosts.")]}
    return page(request, farm, "farm.html", build)


@router.get("/plan", response_class=HTMLResponse)
def plan_page(request: Request, farm: FarmDep) -> Response:
    """The fleet plan as Portage resolves it (each profile's world and @system): a
    package x profile matrix whose cells say whether the binary is stored, being built,
    failed or still missing, and why; and which cells one build serves."""
    def build(_who: Token | None) -> dict[str, Any]:
        plan, planned_at = _latest_plan(request, farm)
        active: dict[str, Build] = {}
        failed: dict[str, Build] = {}
        for b in farm.queue.list(10_000):
            if b.key and b.state in (BuildState.QUEUED, BuildState.RUNNING):
                active.setdefault(b.key, b)
            elif b.key and b.state == BuildState.FAILED:
                failed.setdefault(b.key, b)
        waiting = farm.queue.waiting([b for b in active.values()
                                      if b.state == BuildState.QUEUED])
        users = Counter(p.key for packages in plan.packages.values() for p in packages)
        profiles = sorted(plan.packages)
        cells: dict[str, dict[str, str]] = {}
        bad: dict[str, list[str]] = {}
        for name in profiles:
            for package in plan.packages[name]:
                state = _plan_cell(package.key, plan.stored, active, failed, waiting)
                if users[package.key] > 1:
                    state += f"; one build for {users[package.key]} profiles"
                cells.setdefault(package.cpv, {})[name] = state
                if not state.startswith("stored"):
                    bad.setdefault(package.cpv, []).append(name)
        rows = [{"package": cpv, **{p: cells[cpv].get(p, "-") for p in profiles},
                 "_bad": bad.get(cpv, [])} for cpv in sorted(cells)]
        summary = (f"{len(plan.distinct)} distinct builds serve "
                   f"{sum(len(v) for v in plan.packages.values())} (profile, package) "
                   f"pairs ({plan.sharing_ratio:.2f} per build); {len(plan.to_build)} to "
                   f"build; resolved {ago(farm.clock() - planned_at)} ago")
        return {"title": "fleet plan", "sections": [section(
            f"Fleet plan: {summary}", ["package", *profiles], rows, "No profile to plan.")]}
    return page(request, farm, "farm.html", build)


def _latest_plan(request: Request, farm: Farm) -> tuple[FleetPlan, float]:
    """The fleet plan, resolved again only once the farm changed: each profile's
    resolution is a Portage run, and a page is looked at far more often than a repository
    or a profile changes."""
    seen = farm.changes.value
    kept = getattr(request.app.state, "binfarm_plan", None)
    if kept is None or kept[0] != seen:
        kept = (seen, plan_fleet(farm), farm.clock())
        request.app.state.binfarm_plan = kept
    return kept[1], kept[2]


def _plan_cell(key: str, stored: frozenset[str], active: dict[str, Build],
               failed: dict[str, Build], waiting: dict[int, Waiting]) -> str:
    if key in stored:
        return "stored"
    if key in active:
        b = active[key]
        if b.state == BuildState.RUNNING:
            return f"running on {b.worker} (build {b.id})"
        why = waiting.get(b.id)
        return f"queued (build {b.id})" + (f": {why.reason}" if why else "")
    if key in failed:
        return f"failed (build {failed[key].id}): {error_line(failed[key])['error_line']}"
    return "missing: not asked for yet (binfarm plan --enqueue)"


@router.get("/rollout", response_class=HTMLResponse)
def rollout_page(request: Request, farm: FarmDep) -> Response:
    """Each profile's promotion rule and channels, what testing holds that stable does
    not yet and what it waits for, and the latest promotions, withdrawals and rollbacks."""
    def build(_who: Token | None) -> dict[str, Any]:
        now = farm.clock()
        rules, pending, events = [], [], []
        for profile in farm.profiles.list():
            rule = farm.rollout.rule(profile.name)
            testing = farm.channels.listed(profile.name, Channel.TESTING)
            stable = farm.channels.listed(profile.name, Channel.STABLE)
            hosts = Counter(h.channel for h in farm.hosts.list() if h.profile == profile.name)
            rules.append({"profile": profile.name, "rule": rule.describe(),
                          "testing": len(testing), "stable": len(stable),
                          "hosts on testing": hosts.get(Channel.TESTING.value, 0),
                          "hosts on stable": hosts.get(Channel.STABLE.value, 0)})
            for p in farm.channels.pending(profile.name):
                pending.append({"profile": profile.name, "package": p.instance.cpv,
                                "instance": p.instance.sha256[:12],
                                "in testing for": ago(now - p.instance.created_at),
                                "waits for": "; ".join(p.waits_for) or "the next look",
                                "found": "; ".join(p.found) or "-"})
            names = {i.id: f"{i.cpv} {i.sha256[:12]}" for i in [*testing, *stable]}
            for e in farm.rollout.history(profile.name)[-_EVENTS:]:
                events.append({"when": time.strftime("%Y-%m-%d %H:%M", time.localtime(e.at)),
                               "profile": profile.name, "action": e.action.value,
                               "instance": names.get(e.instance, f"instance {e.instance}"),
                               "by": e.actor, "reason": e.reason or "-"})
        events.sort(key=lambda e: e["when"], reverse=True)
        return {"title": "rollout", "sections": [
            section("Channels and rules", ["profile", "rule", "testing", "stable",
                                            "hosts on testing", "hosts on stable"], rules,
                     "No profile yet."),
            section("In testing, not yet stable", ["profile", "package", "instance",
                                                    "in testing for", "waits for", "found"],
                     pending, "Nothing waits: stable lists all that testing does."),
            section("Latest changes", ["when", "profile", "action", "instance", "by",
                                        "reason"], events[:_EVENTS],
                     "No promotion, withdrawal or rollback yet.")]}
    return page(request, farm, "farm.html", build)


@router.get("/binhost", response_class=HTMLResponse)
def binhost_page(request: Request, farm: FarmDep) -> Response:
    """Each profile's binhost: what its channels list, how big, signed by which key; and
    the farm's signing keys."""
    def build(_who: Token | None) -> dict[str, Any]:
        channels = []
        for profile in farm.profiles.list():
            for channel in Channel:
                listed = farm.channels.listed(profile.name, channel)
                unsigned = sum(1 for i in listed if not i.signer)
                suffix = "" if channel == Channel.STABLE else f"/{channel.value}"
                channels.append({
                    "profile": profile.name, "channel": channel.value,
                    "packages": len(listed), "size": size_text(sum(i.size for i in listed)),
                    "signed by": ", ".join(sorted({i.signer[-16:] for i in listed
                                                   if i.signer})) or "-",
                    "unsigned": unsigned, "index": f"/binhost/{profile.name}{suffix}/Packages",
                    "_bad": "unsigned" if unsigned else ""})
        keys = [{"key": k.fingerprint, "state": k.state.value, "uid": k.uid,
                 "since": time.strftime("%Y-%m-%d", time.localtime(k.added_at))}
                for k in farm.signing_keys.list()]
        return {"title": "binhost", "sections": [
            section("Channels", ["profile", "channel", "packages", "size", "signed by",
                                  "unsigned", "index"], channels, "No profile yet."),
            section("Signing keys", ["key", "state", "uid", "since"], keys,
                     "No signing key: Portage refuses unsigned packages.")]}
    return page(request, farm, "farm.html", build)
