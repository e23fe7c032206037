"""How failures become responses: the same rule for every page and API route.

NotFound → 404 (an out-of-scope record looks exactly like a missing one), PermissionDenied →
403, a missing or expired login → the login form (pages) or 401 (API), a bad CSRF token → 403.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from bankcrm.audit.service import AuditError
from bankcrm.security.permissions import NotFound, PermissionDenied, Principal
from bankcrm.web.csrf import SESSION_COOKIE, CsrfFailed
from bankcrm.web.deps import NotAuthenticated
from bankcrm.web.templating import render, translator

CSRF_MESSAGE = "The form has expired or did not come from this site (CSRF check failed). Reload the page and try again."


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _page_principal(request: Request) -> Principal | None:
    auth = getattr(request.state, "auth", None)
    principal = getattr(auth, "principal", None)
    return principal if isinstance(principal, Principal) else None


def error_response(request: Request, status: int, message: str) -> Response:
    """JSON ``{"detail": …}`` under /api, else the error page in the request's language."""
    tr = translator(request)
    if is_api(request):
        return JSONResponse({"detail": message}, status_code=status)
    return render(
        request,
        "error.html",
        {"status": status, "message": tr(message)},
        principal=_page_principal(request),
        status_code=status,
    )


async def _not_authenticated(request: Request, exc: Exception) -> Response:
    if is_api(request):
        return JSONResponse(
            {"detail": "authentication required"}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    response = RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    if request.cookies.get(SESSION_COOKIE):
        response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def _not_found(request: Request, exc: Exception) -> Response:
    return error_response(request, 404, "Not found")


async def _denied(request: Request, exc: Exception) -> Response:
    return error_response(request, 403, "You do not have permission for this action")


async def _csrf(request: Request, exc: Exception) -> Response:
    return error_response(request, 403, CSRF_MESSAGE)


async def _audit_refused(request: Request, exc: Exception) -> Response:
    return error_response(request, 400, "A reveal needs a stated reason (at least 4 characters)")


async def _data_error(request: Request, exc: Exception) -> Response:
    """A NUL character in a submitted text (form or JSON body) reaching PostgreSQL, which refuses it: 422.

    The path and query are checked before routing (``NulRefusalMiddleware``); a body is only seen
    field by field by the routes, so the database's refusal is translated here. Any other data
    error is a server error and goes on to be reported as one.
    """
    if "NUL" in str(getattr(exc, "orig", "")):
        return error_response(request, 422, "Text must not contain NUL characters")
    raise exc


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if is_api(request) or exc.status_code not in (404, 405):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
    return error_response(request, exc.status_code, "Not found" if exc.status_code == 404 else "Method not allowed")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(NotAuthenticated, _not_authenticated)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(PermissionDenied, _denied)
    app.add_exception_handler(CsrfFailed, _csrf)
    app.add_exception_handler(AuditError, _audit_refused)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(DataError, _data_error)
