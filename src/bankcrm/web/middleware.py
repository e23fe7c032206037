"""Plain ASGI middlewares: security headers on every response (SPEC section 9), keep-alive recycling,
and refusal of NUL characters in a request's path or query."""

from __future__ import annotations

from collections import OrderedDict
from urllib.parse import parse_qsl

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# no inline script anywhere; styles only from our own files (Swagger UI at /docs sets inline styles)
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
CSP_DOCS = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")

BASE_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
    "cross-origin-opener-policy": "same-origin",
}
STATIC_PREFIXES = ("/static/", "/docs-assets/")


class SecurityHeadersMiddleware:
    """Adds CSP, frame denial, no-sniff and referrer policy to every response; ``no-store`` on all but static files.

    Every page and API response may carry customer data, so none of them is kept in a browser
    or proxy cache; only the static CSS and scripts may be cached.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        is_static = path.startswith(STATIC_PREFIXES)
        csp = CSP_DOCS if path == "/docs" else CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control" or is_static]
                present = {k.lower() for k, _ in headers}
                extra = dict(BASE_HEADERS, **{"content-security-policy": csp})
                if not is_static:
                    extra["cache-control"] = "no-store"
                    extra["pragma"] = "no-cache"
                for name, value in extra.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class ConnectionRecycleMiddleware:
    """Closes a keep-alive connection after ``max_requests`` requests (``Connection: close`` on the last answer).

    With several worker processes on one listening socket, a connection stays with whichever
    process accepted it. Clients that keep their connections open (integrations, a reverse
    proxy's pool) can end up three to one on one process, whose requests then wait two or three
    times as long while the other process idles. A client whose connection closes opens a new
    one at its next request, and the kernel hands that one to a process waiting to accept,
    which is most often the less busy one, so recycling connections every so many requests
    keeps the processes evenly loaded (the same setting as nginx's ``keepalive_requests``).
    Connections are told apart by the client's address and port; the table of counts is
    bounded, its oldest entries dropped first.
    """

    TABLE_LIMIT = 10_000

    def __init__(self, app: ASGIApp, max_requests: int) -> None:
        if max_requests < 1:
            raise ValueError("max_requests must be at least 1")
        self.app = app
        self.max_requests = max_requests
        self._counts: OrderedDict[tuple[str, int], int] = OrderedDict()

    def _last_on_connection(self, scope: Scope) -> bool:
        client = scope.get("client")
        if not client:
            return False
        key = (str(client[0]), int(client[1]))
        count = self._counts.pop(key, 0) + 1
        if count >= self.max_requests:
            return True
        self._counts[key] = count  # re-inserted: most recent last
        if len(self._counts) > self.TABLE_LIMIT:
            self._counts.popitem(last=False)
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._last_on_connection(scope):
            await self.app(scope, receive, send)
            return

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"]
                headers.append((b"connection", b"close"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_closing)


class NulRefusalMiddleware:
    """Answers 422 to a request whose path or query parameters contain a NUL character (``%00``).

    No text the product stores or looks up may contain one (PostgreSQL's text type refuses it,
    which would otherwise surface as a server error); the answer names the parameter, in the
    shape of FastAPI's own validation errors.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        where = self._nul_in(scope) if scope["type"] == "http" else None
        if where is None:
            await self.app(scope, receive, send)
            return
        detail = [{"type": "value_error", "loc": list(where), "msg": "must not contain NUL characters"}]
        await JSONResponse({"detail": detail}, status_code=422)(scope, receive, send)

    @staticmethod
    def _nul_in(scope: Scope) -> tuple[str, str] | None:
        query: bytes = scope.get("query_string", b"")
        if b"%00" in query:
            for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
                if "\x00" in name or "\x00" in value:
                    return ("query", name.replace("\x00", ""))
        path: str = scope.get("path", "")  # decoded already
        if "\x00" in path:
            return ("path", path.replace("\x00", ""))
        return None
