"""One table from error family to HTTP status, and one JSON body for every error."""

from __future__ import annotations

import logging
from typing import Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from binfarm.api.models import ErrorBody
from binfarm.errors import (
    BinfarmError,
    Conflict,
    Denied,
    Forbidden,
    InvalidInput,
    NotFound,
    Unavailable,
)

__all__ = ["install_error_handlers", "status_for"]

log = logging.getLogger(__name__)

_FAMILIES: Final[tuple[tuple[type[BinfarmError], int, str], ...]] = (
    (InvalidInput, 400, "invalid_input"),
    (NotFound, 404, "not_found"),
    (Conflict, 409, "conflict"),
    (Forbidden, 403, "forbidden"),
    (Denied, 401, "denied"),
    (Unavailable, 503, "unavailable"),
)


def status_for(exc: BinfarmError) -> tuple[int, str]:
    for family, status, kind in _FAMILIES:
        if isinstance(exc, family):
            return status, kind
    return 500, "internal"


def error_response(status: int, kind: str, message: str, *, path: str = "") -> JSONResponse:
    body = ErrorBody(kind=kind, error=message, status=status)
    # The binhost speaks Basic auth to Portage's fetcher; the API wants a bearer token.
    scheme = 'Basic realm="binfarm"' if path.startswith("/binhost/") else "Bearer"
    headers = {"WWW-Authenticate": scheme} if status == 401 else None
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(BinfarmError)
    async def _binfarm(request: Request, exc: BinfarmError) -> JSONResponse:
        status, kind = status_for(exc)
        return error_response(status, kind, str(exc), path=request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        return error_response(422, "invalid_input", f"invalid request: {problems}")

    @app.exception_handler(HTTPException)
    async def _http(_request: Request, exc: HTTPException) -> JSONResponse:
        kind = "not_found" if exc.status_code == 404 else "http"
        return error_response(exc.status_code, kind, str(exc.detail))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error path=%s", request.url.path)
        return error_response(500, "internal", f"internal error: {type(exc).__name__}")
