"""The overview: what needs attention first, and the farm's health in one strip."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from binfarm.errors import BinfarmError, NotFound
from binfarm.farm import Farm
from binfarm.hosts.enrollment import HostState
from binfarm.queue.rules import BuildState
from binfarm.queue.service import Build
from binfarm.queue.workers import WorkerState
from binfarm.rollout.channels import Channel
from binfarm.server.deps import FarmDep
from binfarm.tokens import Token
from binfarm.units import size_text
from binfarm.web.fleet import worker_states
from binfarm.web.render import REFRESH_S, ago, count_of, error_line, page

__all__ = ["router"]

_LOOK_BACK = 2000  # builds the overview reads for failures not mended since

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, farm: FarmDep) -> Response:
    def build(_who: Token | None) -> dict[str, Any]:
        now = farm.clock()
        depth: dict[str, dict[str, Any]] = {}
        for profile, state, n, first, _lost in farm.queue.tally():
            if state in (BuildState.QUEUED, BuildState.RUNNING):
                row = depth.setdefault(profile, {"profile": profile, "queued": 0,
                                                 "running": 0, "oldest": ""})
                row[state] = n
                if state == BuildState.QUEUED:
                    row["oldest"] = ago(now - first)
        queued = farm.queue.list(1000, states=frozenset({BuildState.QUEUED}))
        waiting = farm.queue.waiting(queued)
        stuck = [{"id": b.id, "cpv": b.cpv, "profile": b.profile,
                  "why": waiting[b.id].reason} for b in queued
                 if b.id in waiting and waiting[b.id].stuck]
        failed = _still_failed(farm)
        workers = worker_states(farm, now)
        bad = []
        for w, state, _building in workers:
            if state == WorkerState.BENCHED:
                bad.append((f"worker {w.name}", f"benched: {w.bench_reason or 'failures'}"))
            elif state == WorkerState.OFFLINE:
                bad.append((f"worker {w.name}", f"offline, last seen "
                            f"{ago(now - w.last_seen_at)} ago"))
        hosts = farm.enrollment.states(now)
        for h, state, _stale in hosts:
            if state in (HostState.SILENT, HostState.UNREPORTED):
                bad.append((f"host {h.name} ({h.profile})", "never reported"
                            if h.last_report_at is None else
                            f"silent for {ago(now - h.last_report_at)}"))
        bad.extend(_binhost_problems(farm))
        alive = farm.catalog.alive()
        return {"depth": sorted(depth.values(), key=lambda r: r["profile"]), "stuck": stuck,
                "failed": [error_line(b) for b in failed], "attention": bad,
                "hosts": count_of(HostState, (s for _h, s, _o in hosts)),
                "workers": count_of(WorkerState, (s for _w, s, _b in workers)),
                "store_objects": len(alive),
                "store_size": size_text(sum(i.size for i in alive)), "refresh": REFRESH_S}
    return page(request, farm, "overview.html", build)


def _still_failed(farm: Farm, most: int = 20) -> list[Build]:
    """The latest failed builds that nothing since has built or is building again (the
    same profile and key): a failure fixed by a later build needs no attention."""
    mended: set[tuple[str, str]] = set()
    failed = []
    for b in farm.queue.list(_LOOK_BACK):  # newest first: a fix is seen before its failure
        same = (b.profile, b.key or b.cpv)
        if b.state == BuildState.FAILED and same not in mended:
            failed.append(b)
        elif b.state in (BuildState.SUCCEEDED, BuildState.QUEUED, BuildState.RUNNING):
            mended.add(same)
    return failed[:most]


def _binhost_problems(farm: Farm) -> list[tuple[str, str]]:
    """Why a profile's machines could not use its binhost: no signing key (Portage
    refuses unsigned packages), an index the farm cannot make, a static tree not
    published."""
    problems = []
    try:
        farm.signing_keys.signing()
    except NotFound:
        problems.append(("binhost", "the farm has no signing key: Portage refuses its "
                         "packages (binfarm key rotate)"))
    for profile in farm.profiles.list():
        try:
            farm.indexes.get(profile.name, Channel.STABLE)
        except BinfarmError as exc:
            problems.append((f"binhost {profile.name}", f"cannot be served: {exc}"))
    if farm.publisher.failure:
        problems.append(("published binhost", f"not updated: {farm.publisher.failure}"))
    return problems
