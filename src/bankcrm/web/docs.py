"""The OpenAPI explorer at /docs, served from the installed Swagger UI package (no CDN, no inline script)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

from bankcrm.web.templating import render

router = APIRouter(include_in_schema=False)


def mount_assets(app: FastAPI) -> None:
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:  # the explorer is optional; /openapi.json works without it
        return
    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")


@router.get("/docs", response_class=HTMLResponse)
def api_docs(request: Request) -> HTMLResponse:
    """Swagger UI over /openapi.json."""
    return render(request, "api_docs.html")
