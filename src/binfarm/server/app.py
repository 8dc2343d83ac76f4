"""create_app(farm): the ASGI application, with its OpenAPI schema at /openapi.json."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from binfarm import __version__
from binfarm.api.models import API_PREFIX
from binfarm.farm import Farm
from binfarm.server.changes import ChangesOnWrite
from binfarm.server.errors import install_error_handlers
from binfarm.server.limits import BodyLimits
from binfarm.server.routes import (
    binhost,
    builds,
    distcc,
    hosts,
    keys,
    metrics,
    mirror,
    plans,
    profiles,
    publish,
    rollout,
    roots,
    signing,
    store,
    tokens,
    worker,
)
from binfarm.web import routes as web
from binfarm.web.routes import STATIC_DIR

__all__ = ["create_app"]


def _operation_id(route: APIRoute) -> str:
    """Stable operation ids: the handler's name, so clients and tests can pin them."""
    return route.name


def create_app(farm: Farm) -> FastAPI:
    app = FastAPI(
        title="binfarm",
        version=__version__,
        summary="Build farm and binary package host for fleets of Gentoo machines",
        generate_unique_id_function=_operation_id,
    )
    app.state.farm = farm
    app.state.long_polls = {}  # token id -> lease requests waiting (routes/worker.py)
    install_error_handlers(app)
    app.add_middleware(BodyLimits, farm=farm)
    app.add_middleware(ChangesOnWrite, farm=farm)
    for module in (profiles, roots, builds, worker, keys, tokens, hosts, plans, signing,
                   rollout, store, publish, distcc):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(binhost.router)
    app.include_router(mirror.router)
    app.include_router(metrics.router)
    app.include_router(web.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
