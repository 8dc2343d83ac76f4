"""The dashboard's pages: complete HTML from the server, read through Farm as the API is.

Access: a login form takes an API token and keeps it in an HttpOnly, SameSite=Strict
cookie (Secure over https); every page checks it as the API checks a Bearer token, and
only admin and viewer tokens read the dashboard (farm-wide), unless
`server.dashboard_anonymous` lets anyone read. Actions need an admin token and a request
from the dashboard's own origin (the Origin header), besides the SameSite cookie.
Every page's data is also in the JSON API (/api/v1/...).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Header, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from binfarm.errors import BinfarmError, Denied, Forbidden, NotFound
from binfarm.farm import Farm
from binfarm.gentoo.emerge import failure_of
from binfarm.hosts.enrollment import HostState
from binfarm.planner.plan import FleetPlan
from binfarm.planner.run import plan_fleet
from binfarm.queue.rules import FINAL, BuildState
from binfarm.queue.service import Build
from binfarm.queue.waiting import Waiting
from binfarm.queue.workers import WorkerInfo, WorkerState
from binfarm.rollout.channels import Channel
from binfarm.server.deps import FarmDep
from binfarm.tokens import Role, Token
from binfarm.units import size_text
from binfarm.web.ansi import to_html
from binfarm.web.logs import next_lines, phases, tail

__all__ = ["STATIC_DIR", "router"]

STATIC_DIR = Path(__file__).parent / "static"
COOKIE = "binfarm_token"
_templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
_TAIL_BYTES = 64 << 10  # a build page shows the log's tail first, as OBS does
_READERS = (Role.ADMIN, Role.VIEWER)
_RETRY_MS = 500  # how soon a dropped browser comes back (it resumes at Last-Event-ID)
_POLL_S = 0.25
_REFRESH_S = 5  # how often a live page (overview, workers, queue) refreshes itself
_EVENTS = 50  # the rollout page's latest changes

router = APIRouter(include_in_schema=False)


class _LoginNeeded(Exception):
    pass


def _who(request: Request, farm: Farm) -> Token | None:
    """The dashboard reader's token; None when anonymous reading is allowed."""
    secret = request.cookies.get(COOKIE)
    if not secret:
        header = request.headers.get("authorization", "")
        secret = header[7:].strip() if header.lower().startswith("bearer ") else None
    if not secret:
        if farm.settings.server.dashboard_anonymous:
            return None
        raise _LoginNeeded
    try:
        token = farm.tokens.verify(secret, request.client.host if request.client else None)
    except BinfarmError as exc:
        raise _LoginNeeded from exc
    if token.role not in _READERS:
        raise Forbidden(f"a {token.role} token cannot read the dashboard (admin or viewer)")
    return token


def _reader(request: Request, farm: FarmDep) -> Token | None:
    """`_who` for what a script reads (a stream): 401 rather than the login page."""
    try:
        return _who(request, farm)
    except _LoginNeeded as exc:
        raise Denied("log in first (/login), or send a token") from exc


_Reader = Annotated[Token | None, Depends(_reader)]


def _page(request: Request, farm: Farm, name: str, build: Any) -> Response:
    """A page, or its JSON twin: the same data for `Accept: application/json` or
    `?format=json` (as Hydra's pages answer), without what only the HTML needs."""
    wants_json = (request.query_params.get("format") == "json"
                  or request.headers.get("accept", "").startswith("application/json"))
    try:
        who = _who(request, farm)
    except _LoginNeeded:
        if wants_json:
            raise Denied("log in first (/login), or send a token") from None
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    context = build(who)
    if wants_json:
        return JSONResponse(jsonable_encoder(_plain(context)))
    return _templates.TemplateResponse(request, name, {
        "who": f"{who.name} ({who.role})" if who else None, **context})


def _plain(value: Any) -> Any:
    """`value` without the HTML's own parts: rendered markup, `_`-keys (cell styles), the
    refresh period and the admin flag."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if not isinstance(v, Markup)
                and not str(k).startswith("_") and k not in ("refresh", "admin")}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    return _templates.TemplateResponse(request, "login.html", {"who": None, "error": None})


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, farm: FarmDep, token: Annotated[str, Form()],
          next: str = "/") -> Response:
    try:
        verified = farm.tokens.verify(token, request.client.host if request.client else None)
        if verified.role not in _READERS:
            raise Forbidden(f"a {verified.role} token cannot read the dashboard")
    except BinfarmError as exc:
        return _templates.TemplateResponse(request, "login.html",
                                           {"who": None, "error": str(exc)}, status_code=401)
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", max_age=30 * 86400)
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, farm: FarmDep) -> Response:
    def build(_who: Token | None) -> dict[str, Any]:
        now = farm.clock()
        depth: dict[str, dict[str, Any]] = {}
        for profile, state, count, first, _lost in farm.queue.tally():
            if state in (BuildState.QUEUED, BuildState.RUNNING):
                row = depth.setdefault(profile, {"profile": profile, "queued": 0,
                                                 "running": 0, "oldest": ""})
                row[state] = count
                if state == BuildState.QUEUED:
                    row["oldest"] = _ago(now - first)
        queued = farm.queue.list(1000, states=frozenset({BuildState.QUEUED}))
        waiting = farm.queue.waiting(queued)
        stuck = [{"id": b.id, "cpv": b.cpv, "profile": b.profile,
                  "why": waiting[b.id].reason} for b in queued
                 if b.id in waiting and waiting[b.id].stuck]
        failed = farm.queue.list(20, states=frozenset({BuildState.FAILED}))
        workers = _worker_states(farm, now)
        bad = []
        for w, state, _building in workers:
            if state == WorkerState.BENCHED:
                bad.append((f"worker {w.name}", f"benched: {w.bench_reason or 'failures'}"))
            elif state == WorkerState.OFFLINE:
                bad.append((f"worker {w.name}", f"offline, last seen "
                            f"{_ago(now - w.last_seen_at)} ago"))
        hosts = farm.enrollment.states(now)
        for h, state, _stale in hosts:
            if state in (HostState.SILENT, HostState.UNREPORTED):
                bad.append((f"host {h.name} ({h.profile})", "never reported"
                            if h.last_report_at is None else
                            f"silent for {_ago(now - h.last_report_at)}"))
        bad.extend(_binhost_problems(farm))
        alive = farm.catalog.alive()
        return {"depth": sorted(depth.values(), key=lambda r: r["profile"]), "stuck": stuck,
                "failed": [_with_error_line(b) for b in failed], "attention": bad,
                "hosts": _count(HostState, (s for _h, s, _o in hosts)),
                "workers": _count(WorkerState, (s for _w, s, _b in workers)),
                "store_objects": len(alive),
                "store_size": size_text(sum(i.size for i in alive)), "refresh": _REFRESH_S}
    return _page(request, farm, "overview.html", build)


def _count(kinds: type[StrEnum], found: Iterable[StrEnum]) -> dict[str, int]:
    """How many of each kind, none left out."""
    counts = Counter({kind.value: 0 for kind in kinds})
    counts.update(kind.value for kind in found)
    return dict(counts)


def _worker_states(farm: Farm, now: float) -> list[tuple[WorkerInfo, WorkerState, list[Build]]]:
    """Each worker, its state and what it builds now."""
    running: dict[str, list[Build]] = {}
    for b in farm.queue.list(10_000, states=frozenset({BuildState.RUNNING})):
        running.setdefault(b.worker or "", []).append(b)
    return [(w, w.state(now, farm.workers.offline_after_s, len(running.get(w.name, []))),
             running.get(w.name, [])) for w in farm.workers.list()]


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


def _with_error_line(build: Build) -> dict[str, Any]:
    """A failed build with the first line of its error, as the overview lists it."""
    first = (build.error or "").strip().splitlines()
    return {"id": build.id, "cpv": build.cpv, "profile": build.profile,
            "error_line": first[0] if first else "(no error recorded)"}


@router.get("/builds", response_class=HTMLResponse)
def builds_page(request: Request, farm: FarmDep, state: str = "",
                profile: str = "") -> Response:
    def build(_who: Token | None) -> dict[str, Any]:
        now = farm.clock()
        states = frozenset({BuildState(state)}) if state in set(BuildState) else None
        shown = farm.queue.list(500, states=states, profile=profile or None)
        waiting = farm.queue.waiting(shown)
        rows = []
        for b in shown:
            end = b.finished_at or (now if b.started_at else None)
            wait = waiting.get(b.id)
            rows.append({"b": b, "requesters": farm.queue.requester_count(b.id),
                         "since": _ago(now - b.requested_at) + " ago",
                         "took": _ago(end - b.started_at) if end and b.started_at else "",
                         "why": b.worker or (wait.reason if wait else ""),
                         "stuck": bool(wait and wait.stuck)})
        return {"rows": rows, "states": [s.value for s in BuildState], "state": state,
                "profile": profile, "refresh": _REFRESH_S}
    return _page(request, farm, "builds.html", build)


@router.get("/builds/{build_id}", response_class=HTMLResponse)
def build_page(request: Request, farm: FarmDep, build_id: int) -> Response:
    def build(who: Token | None) -> dict[str, Any]:
        b = farm.queue.get(build_id)
        text, offset, size = tail(farm.log_path(build_id), _TAIL_BYTES)
        end = b.finished_at or (farm.clock() if b.started_at else None)
        why = None
        if b.state == BuildState.QUEUED:
            wait = farm.queue.waiting([b]).get(b.id)
            why = wait.reason if wait else None
        profile = farm.profiles.get(b.profile)
        earlier = [e for e in farm.queue.list(200, states=frozenset({BuildState.SUCCEEDED}),
                                              profile=b.profile)
                   if e.cpv == b.cpv and e.id != b.id and e.started_at and e.finished_at]
        settings = {
            "USE": b.env.get("USE", " ".join(profile.info.use)),
            "CFLAGS": b.env.get("CFLAGS", profile.info.cflags),
            "CPU extensions it needs": " ".join(sorted(b.required_isa)) or "baseline",
            "build root": "chroot (/)" if farm.roots.find(b.profile) else "prefix",
            "estimate": (f"{_ago(earlier[0].finished_at - earlier[0].started_at)} (build "
                         f"{earlier[0].id})" if earlier and earlier[0].finished_at
                         and earlier[0].started_at else "no earlier build of it")}
        error = b.error
        if b.state == BuildState.FAILED and size:
            error = failure_of(farm.log_path(build_id)) or error
        return {"b": b, "why": why, "settings": settings, "elapsed": _ago(end - b.started_at)
                if end and b.started_at else "", "log": Markup(to_html(text)),
                "offset": offset, "live": b.state not in FINAL,
                "cut": offset - len(text.encode()) > 0, "size": size,
                "error_summary": error, "phases": phases(farm.log_path(build_id)),
                "timings": sorted(
                    (b.timings or {}).items(), key=lambda item: -item[1]),
                "admin": who is not None and who.role == Role.ADMIN}
    return _page(request, farm, "build.html", build)


def _section(title: str, columns: list[str], rows: list[dict[str, Any]],
             empty: str) -> dict[str, Any]:
    return {"title": title, "columns": columns, "rows": rows, "empty": empty}


@router.get("/workers", response_class=HTMLResponse)
def workers_page(request: Request, farm: FarmDep) -> Response:
    def build(_who: Token | None) -> dict[str, Any]:
        now = farm.clock()
        rows = []
        for w, state, building in _worker_states(farm, now):
            benched = state == WorkerState.BENCHED
            rows.append({"worker": w.name, "state": state.value + (
                " until " + time.strftime("%H:%M", time.localtime(w.benched_until or 0))
                if benched else ""),
                         "why": (w.bench_reason or "") if benched else "",
                         "slots": f"{len(building)}/{w.slots} busy",
                         "building": ", ".join(f"{b.id} {b.cpv}" for b in building) or "-",
                         "heartbeat": _ago(now - w.last_seen_at) + " ago",
                         "failures in a row": w.consecutive_failures,
                         "roots": "prefix, chroot" if w.chroot else "prefix",
                         "gcc": w.compiler or "-",
                         "_bad": "state" if state in (WorkerState.BENCHED, WorkerState.OFFLINE)
                         else ""})
        return {"title": "workers", "refresh": _REFRESH_S, "sections": [_section(
            "Workers", ["worker", "state", "why", "slots", "building", "heartbeat",
                        "failures in a row", "roots", "gcc"], rows,
            "No worker has registered: start one with `binfarm worker`.")]}
    return _page(request, farm, "farm.html", build)


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
        return {"title": "profiles", "sections": [_section(
            "Profiles", ["profile", "CHOST", "CFLAGS", "USE", "CPU", "root", "world",
                         "binhost"], rows, "No profile yet: `binfarm profile add`.")]}
    return _page(request, farm, "farm.html", build)


@router.get("/hosts", response_class=HTMLResponse)
def hosts_page(request: Request, farm: FarmDep) -> Response:
    def build(_who: Token | None) -> dict[str, Any]:
        now = farm.clock()
        rows = [{"host": h.name, "profile": h.profile, "channel": h.channel, "state": state,
                 "last report": _ago(now - h.last_report_at) + " ago"
                 if h.last_report_at else "never",
                 "result": h.last_result or "-", "installed": len(h.installed),
                 "out of date": ", ".join(stale) or "-",
                 "_bad": "state" if state != HostState.CURRENT else ""}
                for h, state, stale in farm.enrollment.states(now)]
        return {"title": "hosts", "sections": [_section(
            "Fleet machines", ["host", "profile", "channel", "state", "last report", "result",
                               "installed", "out of date"], rows,
            "No machine has registered: `binfarm client register` on one.")]}
    return _page(request, farm, "farm.html", build)


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
            _section("distcc hosts", ["host", "state", "slots used/free", "builds", "gcc",
                                      "why"], rows, "No distcc host: `binfarm distcc add`."),
            _section("Compiling now", ["build", "worker", "file", "host", "phase"], tasks,
                     "Nothing is compiling on the hosts.")]}
    return _page(request, farm, "farm.html", build)


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
                   f"build; resolved {_ago(farm.clock() - planned_at)} ago")
        return {"title": "fleet plan", "sections": [_section(
            f"Fleet plan: {summary}", ["package", *profiles], rows, "No profile to plan.")]}
    return _page(request, farm, "farm.html", build)


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
        return f"failed (build {failed[key].id}): {_with_error_line(failed[key])['error_line']}"
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
                                "in testing for": _ago(now - p.instance.created_at),
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
            _section("Channels and rules", ["profile", "rule", "testing", "stable",
                                            "hosts on testing", "hosts on stable"], rules,
                     "No profile yet."),
            _section("In testing, not yet stable", ["profile", "package", "instance",
                                                    "in testing for", "waits for", "found"],
                     pending, "Nothing waits: stable lists all that testing does."),
            _section("Latest changes", ["when", "profile", "action", "instance", "by",
                                        "reason"], events[:_EVENTS],
                     "No promotion, withdrawal or rollback yet.")]}
    return _page(request, farm, "farm.html", build)


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
            _section("Channels", ["profile", "channel", "packages", "size", "signed by",
                                  "unsigned", "index"], channels, "No profile yet."),
            _section("Signing keys", ["key", "state", "uid", "since"], keys,
                     "No signing key: Portage refuses unsigned packages.")]}
    return _page(request, farm, "farm.html", build)


@router.get("/builds/{build_id}/log/stream", response_class=EventSourceResponse)
async def build_log_stream(
    request: Request, farm: FarmDep, build_id: int, _who_: _Reader,
    start: Annotated[int, Query(alias="from", ge=0)] = 0,
    last_event_id: Annotated[str | None, Header()] = None,
) -> AsyncIterator[ServerSentEvent]:
    """The log's lines from `from` (a reconnecting browser's Last-Event-ID wins), as HTML,
    each event's id the byte offset after it; a `done` event when the build has ended and
    everything is sent, and the stream closes."""
    offset = int(last_event_id) if last_event_id and last_event_id.isdigit() else start
    path = farm.log_path(build_id)
    yield ServerSentEvent(comment="log", retry=_RETRY_MS)
    while not await request.is_disconnected():
        build = await run_in_threadpool(farm.queue.get, build_id)  # before the read: no
        text, end = await run_in_threadpool(next_lines, path, offset)  # line is left out
        if text:
            offset = end
            yield ServerSentEvent(event="line", raw_data=to_html(text), id=str(offset))
            continue
        if build.state in FINAL:
            rest = await run_in_threadpool(farm.read_log, build_id, offset)
            if rest:  # a last line without its newline
                offset += len(rest)
                yield ServerSentEvent(event="line", raw_data=to_html(
                    rest.decode(errors="replace")), id=str(offset))
            yield ServerSentEvent(event="done", raw_data=build.state.value, id=str(offset))
            return
        await asyncio.sleep(_POLL_S)


@router.get("/builds/{build_id}/log.txt")
def build_log(farm: FarmDep, build_id: int, _who_: _Reader, offset: int = 0) -> Response:
    """The raw log from `offset` (a bounded range), for the dashboard's reader."""
    data = farm.read_log(build_id, offset)
    return PlainTextResponse(data.decode(errors="replace"),
                             headers={"X-Log-Offset": str(offset + len(data))})


async def _admin_action(request: Request, farm: Farm) -> Token | Response:
    """The admin's token for an action from the dashboard's own pages; a redirect to the
    login page without one."""
    try:
        who = await run_in_threadpool(_who, request, farm)
    except _LoginNeeded:
        return RedirectResponse("/login", status_code=303)
    if who is None or who.role != Role.ADMIN:
        raise Forbidden("this needs an admin token")
    origin = request.headers.get("origin") or request.headers.get("referer") or ""
    if urlsplit(origin).netloc != request.url.netloc:
        raise Forbidden("an action must come from the dashboard's own pages")
    return who


@router.post("/builds/{build_id}/cancel")
async def cancel(request: Request, farm: FarmDep, build_id: int) -> Response:
    who = await _admin_action(request, farm)
    if isinstance(who, Response):
        return who
    await run_in_threadpool(farm.cancel_build, build_id, who)
    return RedirectResponse(f"/builds/{build_id}", status_code=303)


@router.post("/builds/{build_id}/requeue")
async def requeue(request: Request, farm: FarmDep, build_id: int) -> Response:
    who = await _admin_action(request, farm)
    if isinstance(who, Response):
        return who
    await run_in_threadpool(farm.requeue_build, build_id)
    return RedirectResponse(f"/builds/{build_id}", status_code=303)


@router.post("/builds/{build_id}/priority")
async def priority(request: Request, farm: FarmDep, build_id: int,
                   value: Annotated[int, Form(ge=-100, le=100)]) -> Response:
    who = await _admin_action(request, farm)
    if isinstance(who, Response):
        return who
    await run_in_threadpool(farm.queue.set_priority, build_id, value)
    return RedirectResponse(f"/builds/{build_id}", status_code=303)
