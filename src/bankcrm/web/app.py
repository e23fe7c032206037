"""The app factory: ``create_app(settings)`` builds the FastAPI app with every page and API router."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from bankcrm import __version__
from bankcrm.audit.sealer import BackgroundSealer
from bankcrm.config import Settings
from bankcrm.db.engine import make_engine, session_factory
from bankcrm.security.auth import Clock, system_clock
from bankcrm.security.crypto import CipherSource
from bankcrm.security.masking import masker_for
from bankcrm.security.passwords import PasswordHasher, hasher_for
from bankcrm.web.csrf import csrf_protect
from bankcrm.web.errors import install_error_handlers
from bankcrm.web.middleware import ConnectionRecycleMiddleware, NulRefusalMiddleware, SecurityHeadersMiddleware
from bankcrm.web.runtime import WebRuntime

API_PREFIX = "/api/v1"


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    hasher: PasswordHasher | None = None,
    clock: Clock = system_clock,
) -> FastAPI:
    """The web app over the settings' database; ``engine``, ``hasher`` and ``clock`` may be given by tests."""
    from bankcrm.assignments import api as assignments_api
    from bankcrm.assignments import pages as assignments_pages
    from bankcrm.audit import api as audit_api
    from bankcrm.audit import pages as audit_pages
    from bankcrm.contacts import api as contacts_api
    from bankcrm.contacts import pages as contacts_pages
    from bankcrm.customers import api as customers_api
    from bankcrm.customers import pages as customers_pages
    from bankcrm.holdings import api as holdings_api
    from bankcrm.holdings import pages as holdings_pages
    from bankcrm.insights import api as insights_api
    from bankcrm.interactions import api as interactions_api
    from bankcrm.interactions import pages as interactions_pages
    from bankcrm.products import pages as products_pages
    from bankcrm.security import api as security_api
    from bankcrm.security import pages as security_pages
    from bankcrm.staff import pages as staff_pages
    from bankcrm.tasks import api as tasks_api
    from bankcrm.tasks import pages as tasks_pages
    from bankcrm.web import auth_pages, docs, pages

    engine = engine or make_engine(settings)
    # PostgreSQL: one thread per process seals the audit events of many requests together
    sealer = BackgroundSealer(engine) if engine.dialect.name == "postgresql" else None

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if sealer is not None:
            sealer.stop()  # one last seal before the process ends

    app = FastAPI(
        title="bankcrm",
        version=__version__,
        description="Customer relationship management for retail banks: JSON API (bearer API tokens with scopes).",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        dependencies=[Depends(csrf_protect)],
        lifespan=lifespan,
    )
    app.state.web = WebRuntime(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine, sealer=sealer),
        cipher_source=CipherSource(settings.effective_key_file),
        masker=masker_for(settings),
        hasher=hasher or hasher_for(settings),
        clock=clock,
        cookie_secure=settings.effective_cookie_secure,
        sealer=sealer,
    )
    app.add_middleware(NulRefusalMiddleware)  # inside the headers: its answers get them too
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(ConnectionRecycleMiddleware, max_requests=settings.web_keepalive_requests)
    install_error_handlers(app)
    app.mount("/static", StaticFiles(directory=Path(__file__).with_name("static")), name="static")
    docs.mount_assets(app)

    # JSON API first: a request is matched against the routes in the order they were added, and the
    # API's reads are the busiest requests (no page path starts with /api/, so the order changes
    # nothing else)
    for router in (
        security_api.router,
        customers_api.router,
        audit_api.router,
        tasks_api.router,
        tasks_api.rules_router,
        holdings_api.router,
        insights_api.router,
        interactions_api.router,
        contacts_api.router,
        assignments_api.router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    # pages (HTML)
    for router in (
        auth_pages.router,
        pages.router,
        customers_pages.router,
        audit_pages.router,
        security_pages.router,
        staff_pages.router,
        products_pages.router,
        tasks_pages.router,
        docs.router,
        holdings_pages.router,
        interactions_pages.router,
        contacts_pages.router,
        assignments_pages.router,
    ):
        app.include_router(router)
    return app


def routes_in_match_order(app: FastAPI) -> list[object]:
    """The app's routes and mounts, flattened across included routers, in the order a request meets them."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI versions whose app.routes is already flat
        return list(app.routes)
    return list(iter_route_contexts(app.routes))


def route_table(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) the app answers, flattened across included routers (static mounts left out)."""
    table: set[tuple[str, str]] = set()
    for ctx in routes_in_match_order(app):
        route = getattr(ctx, "original_route", ctx)
        path = getattr(ctx, "path", None) or getattr(route, "path", None)
        methods = getattr(route, "methods", None)
        if not path or not methods:
            continue
        table.update((m, path) for m in methods if m != "HEAD")
    return sorted(table, key=lambda mp: (mp[1], mp[0]))
