"""Reference data pages for administrators: branches and teams."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

from bankcrm.security.permissions import Permission, require
from bankcrm.staff import repository as repo
from bankcrm.web.deps import CurrentPrincipal, DbSession
from bankcrm.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/admin/branches", name="admin_branches")
def branches(request: Request, db: DbSession, principal: CurrentPrincipal) -> HTMLResponse:
    require(principal, Permission.REFERENCE_ADMIN)
    return render(
        request,
        "admin/branches.html",
        {"branches": repo.list_branches(db), "teams": repo.list_teams(db)},
        principal=principal,
    )
