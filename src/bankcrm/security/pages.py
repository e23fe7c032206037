"""User administration pages (admin only): list, add, disable, reset password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from bankcrm.reference import ROLES
from bankcrm.security import service
from bankcrm.security.auth import is_locked
from bankcrm.security.permissions import NotFound, Permission, require
from bankcrm.web.deps import CurrentPrincipal, DbSession, RequestActor, Runtime
from bankcrm.web.templating import render

router = APIRouter(prefix="/admin/users", include_in_schema=False)


def _page(request: Request, db: DbSession, runtime: Runtime, principal: CurrentPrincipal, **extra: object) -> Response:
    now = runtime.clock()
    users = [(u, is_locked(u.locked_until, now)) for u in service.list_users(db)]
    status = 400 if extra.get("error") else 200
    return render(
        request, "admin/users.html", {"users": users, "roles": ROLES, **extra}, principal=principal, status_code=status
    )


@router.get("", name="admin_users")
def users(request: Request, db: DbSession, runtime: Runtime, principal: CurrentPrincipal) -> Response:
    require(principal, Permission.USER_ADMIN)
    return _page(request, db, runtime, principal)


def _optional(value: str) -> str | None:
    return value.strip() or None


@router.post("", name="admin_user_add")
def add_user(
    request: Request,
    db: DbSession,
    runtime: Runtime,
    principal: CurrentPrincipal,
    actor: RequestActor,
    username: Annotated[str, Form(max_length=64)] = "",
    role: Annotated[str, Form(max_length=20)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    display_name: Annotated[str, Form(max_length=100)] = "",
    staff_id: Annotated[str, Form(max_length=32)] = "",
    team_id: Annotated[str, Form(max_length=32)] = "",
    branch_id: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    require(principal, Permission.USER_ADMIN)
    try:
        service.create_user(
            db,
            username=username,
            password=password,
            role=role,
            hasher=runtime.hasher,
            actor=actor,
            display_name=_optional(display_name),
            staff_id=_optional(staff_id),
            team_id=_optional(team_id),
            branch_id=_optional(branch_id),
            clock=runtime.clock,
        )
    except service.UserError as exc:
        return _page(request, db, runtime, principal, error=str(exc))
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/{username}/disable", name="admin_user_disable")
def disable_user(
    username: str, db: DbSession, runtime: Runtime, principal: CurrentPrincipal, actor: RequestActor
) -> Response:
    require(principal, Permission.USER_ADMIN)
    try:
        service.disable_user(db, username, actor=actor, clock=runtime.clock)
    except service.UserError as exc:
        raise NotFound("user") from exc
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/{username}/reset-password", name="admin_user_reset_password")
def reset_password(
    request: Request,
    username: str,
    db: DbSession,
    runtime: Runtime,
    principal: CurrentPrincipal,
    actor: RequestActor,
    password: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    require(principal, Permission.USER_ADMIN)
    try:
        service.reset_password(db, username, password, hasher=runtime.hasher, actor=actor, clock=runtime.clock)
    except service.UserError as exc:
        if service.normalise_username(username) not in {u.username for u in service.list_users(db)}:
            raise NotFound("user") from exc
        return _page(request, db, runtime, principal, error=str(exc))
    return RedirectResponse("/admin/users", status_code=303)
