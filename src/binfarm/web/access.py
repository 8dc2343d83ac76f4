"""Who reads the dashboard: a login form takes an API token and keeps it in an HttpOnly,
SameSite=Strict cookie (Secure over https); every page checks it as the API checks a
Bearer token, and only admin and viewer tokens read the dashboard (farm-wide), unless
`server.dashboard_anonymous` lets anyone read. Actions need an admin token and a request
from the dashboard's own origin (the Origin header), besides the SameSite cookie."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from binfarm.errors import BinfarmError, Denied, Forbidden
from binfarm.farm import Farm
from binfarm.server.deps import FarmDep
from binfarm.tokens import Role, Token
from binfarm.web.jinja import TEMPLATES

__all__ = ["COOKIE", "LoginNeeded", "Reader", "admin_action", "router", "token_of"]

COOKIE = "binfarm_token"
READERS = (Role.ADMIN, Role.VIEWER)

router = APIRouter(include_in_schema=False)


class LoginNeeded(Exception):
    pass


def token_of(request: Request, farm: Farm) -> Token | None:
    """The dashboard reader's token; None when anonymous reading is allowed."""
    secret = request.cookies.get(COOKIE)
    if not secret:
        header = request.headers.get("authorization", "")
        secret = header[7:].strip() if header.lower().startswith("bearer ") else None
    if not secret:
        if farm.settings.server.dashboard_anonymous:
            return None
        raise LoginNeeded
    try:
        token = farm.tokens.verify(secret, request.client.host if request.client else None)
    except BinfarmError as exc:
        raise LoginNeeded from exc
    if token.role not in READERS:
        raise Forbidden(f"a {token.role} token cannot read the dashboard (admin or viewer)")
    return token


def reader(request: Request, farm: FarmDep) -> Token | None:
    """`token_of` for what a script reads (a stream): 401 rather than the login page."""
    try:
        return token_of(request, farm)
    except LoginNeeded as exc:
        raise Denied("log in first (/login), or send a token") from exc


Reader = Annotated[Token | None, Depends(reader)]


async def admin_action(request: Request, farm: Farm) -> Token | Response:
    """The admin's token for an action from the dashboard's own pages; a redirect to the
    login page without one."""
    try:
        who = await run_in_threadpool(token_of, request, farm)
    except LoginNeeded:
        return RedirectResponse("/login", status_code=303)
    if who is None or who.role != Role.ADMIN:
        raise Forbidden("this needs an admin token")
    origin = request.headers.get("origin") or request.headers.get("referer") or ""
    if urlsplit(origin).netloc != request.url.netloc:
        raise Forbidden("an action must come from the dashboard's own pages")
    return who


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    return TEMPLATES.TemplateResponse(request, "login.html", {"who": None, "error": None})


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, farm: FarmDep, token: Annotated[str, Form()],
          next: str = "/") -> Response:
    try:
        verified = farm.tokens.verify(token, request.client.host if request.client else None)
        if verified.role not in READERS:
            raise Forbidden(f"a {verified.role} token cannot read the dashboard")
    except BinfarmError as exc:
        return TEMPLATES.TemplateResponse(request, "login.html",
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
