"""Security headers on every response (SPEC section 9), as a plain ASGI middleware."""

from __future__ import annotations

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
