"""The dashboard: complete HTML pages from the server, read through Farm as the API is,
each with a JSON twin, made live by one small vendored script (static/binfarm.js).

access.py: login and who may read or act; render.py: a page or its JSON; overview.py,
builds.py (the queue, a build, its live log, the actions), fleet.py (workers, profiles,
hosts, distcc, plan, rollout, binhost)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from binfarm.web import access, builds, fleet, overview

__all__ = ["STATIC_DIR", "router"]

STATIC_DIR = Path(__file__).parent / "static"

router = APIRouter(include_in_schema=False)
for part in (access, overview, builds, fleet):
    router.include_router(part.router)
