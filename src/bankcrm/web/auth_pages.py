"""Login, logout and the language switch."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from bankcrm.security import service as security
from bankcrm.security.auth import LOCKOUT, MAX_FAILED_ATTEMPTS, SESSION_IDLE_TIMEOUT
from bankcrm.web.csrf import PRESESSION_COOKIE, SESSION_COOKIE
from bankcrm.web.deps import DbSession, Runtime, client_address
from bankcrm.web.i18n import LANG_COOKIE, LOCALES
from bankcrm.web.templating import render

router = APIRouter(include_in_schema=False)

# what the person is told after a failed login: never whether the user exists or is locked,
# but the lock-out rule itself, so someone who is locked out knows to wait
LOGIN_FAILED = "Invalid username or password."
LOCKOUT_RULE = "After {n} wrong passwords in a row the account is locked for {minutes} minutes."


def safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no host, no '//'), so the redirect cannot leave it."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return "/" if parts.scheme or parts.netloc else target


def _login_page(request: Request, *, next_url: str, error: bool = False, username: str = "") -> Response:
    return render(
        request,
        "login.html",
        {
            "next_url": next_url,
            "error": error,
            "username": username,
            "lockout_rule": {"n": MAX_FAILED_ATTEMPTS, "minutes": int(LOCKOUT.total_seconds() // 60)},
            "idle_minutes": int(SESSION_IDLE_TIMEOUT.total_seconds() // 60),
        },
        status_code=401 if error else 200,
    )


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    return _login_page(request, next_url=safe_next(next))


@router.post("/login")
def login(
    request: Request,
    db: DbSession,
    runtime: Runtime,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Check the password; on success a new session id (any earlier session of this browser ends)."""
    outcome = security.login(
        db, username, password, hasher=runtime.hasher, client_address=client_address(request), clock=runtime.clock
    )
    if not outcome.ok or outcome.session_token is None:
        return _login_page(request, next_url=safe_next(next), error=True, username=username[:64])
    previous = request.cookies.get(SESSION_COOKIE)
    if previous:
        security.logout(db, previous, clock=runtime.clock)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        outcome.session_token,
        httponly=True,
        samesite="lax",
        secure=runtime.cookie_secure,
        path="/",
    )
    response.delete_cookie(PRESESSION_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(request: Request, db: DbSession, runtime: Runtime) -> Response:
    """End the session on the server and drop the cookie."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        security.logout(db, token, clock=runtime.clock)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/lang/{locale}")
def switch_language(locale: str, next: str | None = None) -> Response:
    """Remember the chosen language in a cookie (no server state changes) and go back."""
    response = RedirectResponse(safe_next(next), status_code=303)
    if locale in LOCALES:
        response.set_cookie(LANG_COOKIE, locale, max_age=365 * 24 * 3600, samesite="lax", path="/")
    return response
