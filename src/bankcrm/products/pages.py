"""The product catalogue for administrators."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

from bankcrm.products import repository as repo
from bankcrm.security.permissions import Permission, require
from bankcrm.web.deps import CurrentPrincipal, DbSession
from bankcrm.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/admin/products", name="admin_products")
def products(request: Request, db: DbSession, principal: CurrentPrincipal) -> HTMLResponse:
    require(principal, Permission.REFERENCE_ADMIN)
    return render(request, "admin/products.html", {"products": repo.list_products(db)}, principal=principal)
