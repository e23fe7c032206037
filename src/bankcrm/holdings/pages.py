"""The transactions page of one customer, and Plotly's bundled script for the AUM chart (no CDN)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import FileResponse, Response

from bankcrm.customers import repository as customers_repo
from bankcrm.customers.sections import label
from bankcrm.holdings import service
from bankcrm.reference import TX_CATEGORIES
from bankcrm.web.deps import CurrentPrincipal, DbSession, RequestActor, Runtime
from bankcrm.web.errors import error_response
from bankcrm.web.templating import render

router = APIRouter(include_in_schema=False)


def plotly_bundle() -> Path | None:
    """``plotly.min.js`` as shipped inside the installed ``plotly`` package."""
    try:
        import plotly
    except ImportError:
        return None
    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    return path if path.is_file() else None


# Plotly keeps its style rules inside the script as {"X .main-svg": "position:absolute;…", …} with X and Y
# standing for its container classes, and adds them as a <style> element, which the CSP refuses.
_PLOTLY_RULE = re.compile(r"""\"([XY](?:[ ,:.\[][^"]*)?)\":("[^"]*"|'[^']*')""")


@cache
def plotly_style_sheet() -> str:
    """Plotly's own style rules, read from the installed bundle, as a style sheet served from 'self'."""
    path = plotly_bundle()
    if path is None:
        return ""
    rules = []
    for selector, body in _PLOTLY_RULE.findall(path.read_text(encoding="utf-8")):
        selector = selector.replace("X", ".js-plotly-plot .plotly").replace("Y", ".plotly-notifier")
        rules.append(f"{selector}{{{body[1:-1]}}}")
    return "\n".join(rules) + "\n"


@router.get("/assets/plotly.css")
def plotly_css() -> Response:
    """The chart library's style rules (see ``plotly_style_sheet``)."""
    return Response(plotly_style_sheet(), media_type="text/css", headers={"cache-control": "public, max-age=86400"})


@router.get("/assets/plotly.min.js")
def plotly_script() -> Response:
    """The chart library from the installed package; cached, since it changes only with the package."""
    path = plotly_bundle()
    if path is None:
        return Response("// plotly is not installed: charts show as tables\n", media_type="text/javascript")
    return FileResponse(path, media_type="text/javascript", headers={"cache-control": "public, max-age=86400"})


@router.get("/customers/{customer_id}/transactions", name="customer_transactions")
def transactions(
    request: Request,
    customer_id: str,
    db: DbSession,
    runtime: Runtime,
    principal: CurrentPrincipal,
    actor: RequestActor,
    month: Annotated[str | None, Query(max_length=7)] = None,
    category: Annotated[str | None, Query(max_length=20)] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    query = service.TransactionQuery(month=month or None, category=category or None, page=page, page_size=20)
    try:
        result = service.transactions_page(
            db, principal, customer_id, query, lake_dir=runtime.settings.lake_dir, actor=actor
        )
    except service.QueryError:
        return error_response(request, 400, "Unknown month or category")
    customer = customers_repo.get_in_scope(db, principal, customer_id)
    name = runtime.masker.mask("name", customer.name) if customer else None
    return render(
        request,
        "holdings/transactions.html",
        {
            "customer_id": customer_id,
            "name": name,
            "page": result,
            "label": label,
            "tx_categories": TX_CATEGORIES,
        },
        principal=principal,
    )
