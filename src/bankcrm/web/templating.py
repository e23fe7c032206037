"""Jinja2 templates of every domain, and the one helper routes use to render a page.

Each domain package may have a ``templates/`` folder (``customers/templates/customers/…``);
all of them are on the loader, so a new domain's pages need no change here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse

from bankcrm.security.permissions import Permission, Principal
from bankcrm.web.csrf import PRESESSION_COOKIE, csrf_token_for
from bankcrm.web.i18n import LANG_COOKIE, LOCALES, Translator, format_money, format_number, format_ratio, negotiate

_PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def _template_dirs() -> list[str]:
    web = Path(__file__).with_name("templates")
    others = sorted(p for p in _PACKAGE_ROOT.glob("*/templates") if p.is_dir() and p != web)
    return [str(web), *(str(p) for p in others)]


def make_templates() -> Jinja2Templates:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(d) for d in _template_dirs()]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = format_money
    env.filters["number"] = format_number
    env.filters["ratio"] = format_ratio
    return Jinja2Templates(env=env)


TEMPLATES = make_templates()


def translator(request: Request) -> Translator:
    cached = getattr(request.state, "translator", None)
    if isinstance(cached, Translator):
        return cached
    runtime = getattr(request.app.state, "web", None)
    tz = runtime.settings.timezone if runtime is not None else "Asia/Shanghai"
    tr = Translator(negotiate(request.cookies.get(LANG_COOKIE)), tz)
    request.state.translator = tr
    return tr


def nav_items(principal: Principal | None) -> list[tuple[str, str]]:
    """Menu entries (URL, English label) the principal's permissions open."""
    if principal is None:
        return []
    items: list[tuple[str, str]] = [("/", "Workbench")]
    if principal.can(Permission.CUSTOMER_REASSIGN):
        items.append(("/team", "Team"))
    if principal.can(Permission.TASK_WORK):
        items.append(("/tasks", "Tasks"))
    if principal.can(Permission.RULE_WRITE):
        items.append(("/rules", "Rules"))
    if principal.can(Permission.AUDIT_READ):
        items.append(("/compliance/audit", "Audit log"))
    if principal.can(Permission.USER_ADMIN):
        items.append(("/admin/users", "Users"))
    if principal.can(Permission.REFERENCE_ADMIN):
        items += [("/admin/branches", "Branches"), ("/admin/products", "Products")]
    return items


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    principal: Principal | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """Render a page with the translator, CSRF token, menu and formatting helpers in its context."""
    tr = translator(request)
    base: dict[str, Any] = {
        "_": tr.gettext,
        "tr": tr,
        "lang": tr.locale,
        "locales": LOCALES,
        "principal": principal,
        "nav": nav_items(principal),
        "csrf_token": csrf_token_for(request),
        "current_path": request.url.path,
        "Permission": Permission,
    }
    base.update(context or {})
    response = TEMPLATES.TemplateResponse(request, name, base, status_code=status_code)
    new_presession = getattr(request.state, "new_presession", None)
    if new_presession:
        runtime = request.app.state.web
        response.set_cookie(
            PRESESSION_COOKIE,
            new_presession,
            httponly=True,
            samesite="lax",
            secure=runtime.cookie_secure,
            path="/",
        )
    return response
