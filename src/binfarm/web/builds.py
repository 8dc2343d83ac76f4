"""The queue and its history, a build's page with its live log, and the admin's actions
on a build."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Form, Header, Query, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from binfarm.gentoo.emerge import failure_of
from binfarm.queue.rules import FINAL, BuildState
from binfarm.server.deps import FarmDep
from binfarm.tokens import Role, Token
from binfarm.web.access import Reader, admin_action
from binfarm.web.ansi import to_html
from binfarm.web.logs import next_lines, phases, tail
from binfarm.web.render import REFRESH_S, ago, page

__all__ = ["router"]

_TAIL_BYTES = 64 << 10  # a build page shows the log's tail first, as OBS does
_RETRY_MS = 500  # how soon a dropped browser comes back (it resumes at Last-Event-ID)
_POLL_S = 0.25

router = APIRouter(include_in_schema=False)


@router.get("/builds", response_class=HTMLResponse)
def builds_page(request: Request, farm: FarmDep, state: str = "",
                profile: str = "", package: str = "") -> Response:
    def build(_who: Token | None) -> dict[str, Any]:
        now = farm.clock()
        states = frozenset({BuildState(state)}) if state in set(BuildState) else None
        shown = farm.queue.list(500, states=states, profile=profile or None,
                                package=package.strip() or None)
        waiting = farm.queue.waiting(shown)
        rows = []
        for b in shown:
            end = b.finished_at or (now if b.started_at else None)
            wait = waiting.get(b.id)
            rows.append({"b": b, "requesters": farm.queue.requester_count(b.id),
                         "since": ago(now - b.requested_at) + " ago",
                         "took": ago(end - b.started_at) if end and b.started_at else "",
                         "why": b.worker or (wait.reason if wait else ""),
                         "stuck": bool(wait and wait.stuck)})
        return {"rows": rows, "states": [s.value for s in BuildState], "state": state,
                "profile": profile, "package": package, "refresh": REFRESH_S}
    return page(request, farm, "builds.html", build)


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
        history = [e for e in farm.queue.list(50, states=FINAL, profile=b.profile,
                                              package=b.cpv)
                   if e.cpv == b.cpv and e.id != b.id and e.started_at and e.finished_at]
        earlier = [e for e in history if e.state == BuildState.SUCCEEDED]
        settings = {
            "USE": b.env.get("USE", " ".join(profile.info.use)),
            "CFLAGS": b.env.get("CFLAGS", profile.info.cflags),
            "CPU extensions it needs": " ".join(sorted(b.required_isa)) or "baseline",
            "build root": "chroot (/)" if farm.roots.find(b.profile) else "prefix",
            "estimate": (f"{ago(earlier[0].finished_at - earlier[0].started_at)} (build "
                         f"{earlier[0].id})" if earlier and earlier[0].finished_at
                         and earlier[0].started_at else "no earlier build of it")}
        error = b.error
        if b.state == BuildState.FAILED and size:
            error = failure_of(farm.log_path(build_id)) or error
        return {"b": b, "why": why, "settings": settings, "elapsed": ago(end - b.started_at)
                if end and b.started_at else "", "log": Markup(to_html(text)),
                "offset": offset, "live": b.state not in FINAL,
                "cut": offset - len(text.encode()) > 0, "size": size,
                "error_summary": error, "phases": phases(farm.log_path(build_id)),
                "timings": sorted(
                    (b.timings or {}).items(), key=lambda item: -item[1]),
                "history": [{"id": e.id, "state": e.state.value, "worker": e.worker,
                             "took": ago((e.finished_at or 0) - (e.started_at or 0)),
                             "ended": time.strftime("%Y-%m-%d %H:%M",
                                                    time.localtime(e.finished_at))}
                            for e in history[:10]],
                "admin": who is not None and who.role == Role.ADMIN}
    return page(request, farm, "build.html", build)


@router.get("/builds/{build_id}/log/stream", response_class=EventSourceResponse)
async def build_log_stream(
    request: Request, farm: FarmDep, build_id: int, _who_: Reader,
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
def build_log(farm: FarmDep, build_id: int, _who_: Reader, offset: int = 0) -> Response:
    """The raw log from `offset` (a bounded range), for the dashboard's reader."""
    data = farm.read_log(build_id, offset)
    return PlainTextResponse(data.decode(errors="replace"),
                             headers={"X-Log-Offset": str(offset + len(data))})


@router.post("/builds/{build_id}/cancel")
async def cancel(request: Request, farm: FarmDep, build_id: int) -> Response:
    who = await admin_action(request, farm)
    if isinstance(who, Response):
        return who
    await run_in_threadpool(farm.cancel_build, build_id, who)
    return RedirectResponse(f"/builds/{build_id}", status_code=303)


@router.post("/builds/{build_id}/requeue")
async def requeue(request: Request, farm: FarmDep, build_id: int) -> Response:
    who = await admin_action(request, farm)
    if isinstance(who, Response):
        return who
    await run_in_threadpool(farm.requeue_build, build_id)
    return RedirectResponse(f"/builds/{build_id}", status_code=303)


@router.post("/builds/{build_id}/priority")
async def priority(request: Request, farm: FarmDep, build_id: int,
                   value: Annotated[int, Form(ge=-100, le=100)]) -> Response:
    who = await admin_action(request, farm)
    if isinstance(who, Response):
        return who
    await run_in_threadpool(farm.queue.set_priority, build_id, value)
    return RedirectResponse(f"/builds/{build_id}", status_code=303)
