"""Cookie names and the CSRF rule of the web app.

A browser request that changes state (POST, PUT, PATCH, DELETE) must carry a CSRF token in
the ``csrf_token`` form field or the ``X-CSRF-Token`` header. For a logged-in browser the token
is derived from the session id (SHA-256 over a fixed label and the id, so it differs from
the stored session hash); before login (the login form itself) it is the random value of a
pre-session cookie. Both cookies are HttpOnly, so another site can neither read nor guess the
token. Requests authenticated by a bearer API token carry no cookies and are exempt.
"""

from __future__ import annotations

import hashlib

from fastapi import Request

from bankcrm.security.auth import new_secret, same_secret

SESSION_COOKIE = "bankcrm_session"
PRESESSION_COOKIE = "bankcrm_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class CsrfFailed(Exception):
    """A state-changing browser request without a valid CSRF token (HTTP 403)."""


def csrf_for_session(session_token: str) -> str:
    return hashlib.sha256(b"bankcrm csrf\x00" + session_token.encode("utf-8")).hexdigest()


def is_bearer_api_call(request: Request) -> bool:
    return request.url.path.startswith("/api/") and request.headers.get("authorization", "")[:7].lower() == "bearer "


def csrf_token_for(request: Request) -> str:
    """The token a page embeds in its forms; before login a pre-session value is made (and set as a cookie)."""
    session_token = request.cookies.get(SESSION_COOKIE)
    if session_token:
        return csrf_for_session(session_token)
    presession = request.cookies.get(PRESESSION_COOKIE) or getattr(request.state, "new_presession", None)
    if not presession:
        presession = new_secret()
        request.state.new_presession = presession
    return presession


async def csrf_protect(request: Request) -> None:
    """App-wide dependency: refuse a state-changing cookie request whose token does not match."""
    if request.method not in UNSAFE_METHODS or is_bearer_api_call(request):
        return
    submitted = request.headers.get(CSRF_HEADER)
    if not submitted:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            submitted = value if isinstance(value, str) else None
    if not submitted:
        raise CsrfFailed("missing")
    expected = []
    if session_token := request.cookies.get(SESSION_COOKIE):
        expected.append(csrf_for_session(session_token))
    if presession := request.cookies.get(PRESESSION_COOKIE):
        expected.append(presession)
    if not any(same_secret(submitted, token) for token in expected):
        raise CsrfFailed("mismatch")
