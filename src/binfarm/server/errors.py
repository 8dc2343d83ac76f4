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
    FAMILIES,
    BinfarmError,
    Conflict,
    Denied,
    Forbidden,
    InvalidInput,
    NotFound,
    TooMany,
    Unavailable,
)

__all__ = ["install_error_handlers", "status_for"]

log = logging.getLogger(__name__)

_STATUS: Final[dict[type[BinfarmError], int]] = {
    InvalidInput: 400, NotFound: 404, Conflict: 409, Forbidden: 403, Denied: 401,
    TooMany: 429, Unavailable: 503,
}


def status_for(exc: BinfarmError) -> tuple[int, str]:
    """The HTTP status and wire kind of an error, by its most specific family."""
    for family in FAMILIES:
        if isinstance(exc, family):
            return _STATUS[family], family.kind
    return 500, BinfarmError.kind


def error_response(status: int, kind: str, message: str, *, path: str = "") -> JSONResponse:
    body = ErrorBody(kind=kind, error=message, status=status)
    # The binhost speaks Basic auth to Portage's fetcher; the API wants a bearer token.
    scheme = 'Basic realm="binfarm"' if path.startswith(("/binhost/", "/mirror/")) \
        else "Bearer"
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
        return error_response(422, InvalidInput.kind, f"invalid request: {problems}")

    @app.exception_handler(HTTPException)
    async def _http(_request: Request, exc: HTTPException) -> JSONResponse:
        kind = NotFound.kind if exc.status_code == 404 else "http"
        return error_response(exc.status_code, kind, str(exc.detail))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error path=%s", request.url.path)
        return error_response(500, BinfarmError.kind, f"internal error: {type(exc).__name__}")
