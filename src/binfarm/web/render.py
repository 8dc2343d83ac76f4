"""How a dashboard page is answered: its HTML from a template, or its JSON twin (the same
data for `Accept: application/json` or `?format=json`, as Hydra's pages answer); and the
small helpers the pages share."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Any

from fastapi import Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, RedirectResponse
from markupsafe import Markup

from binfarm.errors import Denied
from binfarm.farm import Farm
from binfarm.queue.service import Build
from binfarm.tokens import Token
from binfarm.web.access import LoginNeeded, token_of
from binfarm.web.jinja import TEMPLATES

__all__ = ["REFRESH_S", "ago", "count_of", "error_line", "page", "section"]

REFRESH_S = 5  # how often a live page (overview, workers, queue) refreshes itself


def page(request: Request, farm: Farm, name: str,
         build: Callable[[Token | None], dict[str, Any]]) -> Response:
    """A page, or its JSON twin: the same data for `Accept: application/json` or
    `?format=json` (as Hydra's pages answer), without what only the HTML needs."""
    wants_json = (request.query_params.get("format") == "json"
                  or request.headers.get("accept", "").startswith("application/json"))
    try:
        who = token_of(request, farm)
    except LoginNeeded:
        if wants_json:
            raise Denied("log in first (/login), or send a token") from None
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    context = build(who)
    if wants_json:
        return JSONResponse(jsonable_encoder(plain(context)))
    return TEMPLATES.TemplateResponse(request, name, {
        "who": f"{who.name} ({who.role})" if who else None, **context})


def plain(value: Any) -> Any:
    """`value` without the HTML's own parts: rendered markup, `_`-keys (cell styles), the
    refresh period and the admin flag."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if not isinstance(v, Markup)
                and not str(k).startswith("_") and k not in ("refresh", "admin")}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def section(title: str, columns: list[str], rows: list[dict[str, Any]],
             empty: str) -> dict[str, Any]:
    return {"title": title, "columns": columns, "rows": rows, "empty": empty}


def count_of(kinds: type[StrEnum], found: Iterable[StrEnum]) -> dict[str, int]:
    """How many of each kind, none left out."""
    counts = Counter({kind.value: 0 for kind in kinds})
    counts.update(kind.value for kind in found)
    return dict(counts)


def error_line(build: Build) -> dict[str, Any]:
    """A failed build with the first line of its error, as the overview lists it."""
    first = (build.error or "").strip().splitlines()
    return {"id": build.id, "cpv": build.cpv, "profile": build.profile,
            "error_line": first[0] if first else "(no error recorded)"}
