"""Every route × every role (and nobody) × an in-scope and an out-of-scope record.

The routes come from the app's own route table: a route missing from ``EXPECTED`` fails the
test, so no new route can escape the matrix. Record routes are called for C1 (in the RM's,
team's and branch's scope) and C2 (another branch's RM); user routes for an existing user and
a missing one. Compliance reads every customer, masked, so C2 is in its scope too.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bankcrm.db.engine import session_factory, session_scope
from bankcrm.tasks.models import Task
from bankcrm.web.app import route_table
from conftest import ROLE_USER, WebBank, csrf_of_form, login

ROLES = ("rm", "team_lead", "branch_manager", "marketing", "compliance", "admin")
CUSTOMER_READERS = {"rm", "team_lead", "branch_manager", "compliance"}
REVEALERS = {"rm", "team_lead", "branch_manager"}
ANON = "anonymous"


def every(status: int) -> dict[str, tuple[int, int]]:
    return {role: (status, status) for role in (*ROLES, ANON)}


def page(allowed: set[str], ok: int = 200, *, out: dict[str, int] | None = None) -> dict[str, tuple[int, int]]:
    """Allowed roles get ``ok`` in scope and 404 out of scope (unless ``out`` says otherwise); others 403."""
    table = {role: ((ok, (out or {}).get(role, 404)) if role in allowed else (403, 403)) for role in ROLES}
    table[ANON] = (303, 303)
    return table


def api(allowed: set[str], ok: int = 200, *, out: dict[str, int] | None = None) -> dict[str, tuple[int, int]]:
    table = page(allowed, ok, out=out)
    table[ANON] = (401, 401)
    return table


def same(allowed: set[str], ok: int = 200) -> dict[str, tuple[int, int]]:
    """No record in the path: the same answer in and out of scope."""
    return page(allowed, ok, out=dict.fromkeys(allowed, ok))


ALL_READ = dict.fromkeys(CUSTOMER_READERS, 200)
TEAM_VIEWERS = {"team_lead", "branch_manager"}
TASK_WORKERS = {"rm", "team_lead", "branch_manager"}
EXPECTED: dict[tuple[str, str], dict[str, tuple[int, int]]] = {
    ("GET", "/openapi.json"): every(200),
    ("GET", "/docs"): every(200),
    ("GET", "/login"): every(200),
    ("POST", "/login"): every(401),  # a wrong password
    ("POST", "/logout"): {**every(303)},
    ("GET", "/lang/{locale}"): every(303),
    ("GET", "/"): same(set(ROLES)),
    ("GET", "/customers/{customer_id}"): page(CUSTOMER_READERS, out={"compliance": 200}),
    ("POST", "/customers/{customer_id}/reveal"): page(REVEALERS),
    ("GET", "/compliance/audit"): same({"compliance"}),
    ("GET", "/admin/users"): same({"admin"}),
    ("POST", "/admin/users"): same({"admin"}, 400),  # a password that breaks the policy
    ("POST", "/admin/users/{username}/disable"): page({"admin"}, 303),
    ("POST", "/admin/users/{username}/reset-password"): page({"admin"}, 400),  # too short: nothing changes
    ("GET", "/admin/branches"): same({"admin"}),
    ("GET", "/admin/products"): same({"admin"}),
    ("GET", "/api/v1/me"): {**{r: (200, 200) for r in ROLES}, ANON: (401, 401)},
    ("GET", "/api/v1/customers"): api(CUSTOMER_READERS, out=ALL_READ),
    ("GET", "/api/v1/customers/{customer_id}"): api(CUSTOMER_READERS, out={"compliance": 200}),
    ("POST", "/api/v1/customers/{customer_id}/reveal"): api(REVEALERS),
    ("GET", "/api/v1/audit/events"): api({"compliance"}, out={"compliance": 200}),
    # customer 360 sections, interactions, contact corrections, team views
    ("GET", "/assets/plotly.min.js"): every(200),
    ("GET", "/assets/plotly.css"): every(200),
    ("GET", "/customers/{customer_id}/transactions"): page(CUSTOMER_READERS, out={"compliance": 200}),
    ("POST", "/customers/{customer_id}/interactions"): page(REVEALERS, 303),
    ("POST", "/customers/{customer_id}/contact"): page(REVEALERS, 303),
    ("GET", "/team"): same(TEAM_VIEWERS),
    ("POST", "/team/reassign"): same(TEAM_VIEWERS, 400),  # C1 is already with S1: nothing to move
    ("GET", "/api/v1/customers/{customer_id}/holdings"): api(CUSTOMER_READERS, out={"compliance": 200}),
    ("GET", "/api/v1/customers/{customer_id}/aum-trend"): api(CUSTOMER_READERS, out={"compliance": 200}),
    ("GET", "/api/v1/customers/{customer_id}/transactions"): api(CUSTOMER_READERS, out={"compliance": 200}),
    ("GET", "/api/v1/customers/{customer_id}/value"): api(CUSTOMER_READERS, out={"compliance": 200}),
    ("GET", "/api/v1/customers/{customer_id}/interactions"): api(CUSTOMER_READERS, out={"compliance": 200}),
    ("POST", "/api/v1/customers/{customer_id}/interactions"): api(REVEALERS, 201),
    ("GET", "/api/v1/customers/{customer_id}/contact-versions"): api(CUSTOMER_READERS, out={"compliance": 200}),
    ("POST", "/api/v1/customers/{customer_id}/contact"): api(REVEALERS),
    ("GET", "/api/v1/customers/{customer_id}/assignments"): api(CUSTOMER_READERS, out={"compliance": 200}),
    ("GET", "/api/v1/team/workload"): {**same(TEAM_VIEWERS), ANON: (401, 401)},
    ("GET", "/api/v1/team/customers"): {**same(TEAM_VIEWERS), ANON: (401, 401)},
    ("POST", "/api/v1/team/reassignments"): {**same(TEAM_VIEWERS, 422), ANON: (401, 401)},
    # the task list (work items 9001 of S1 in B1, 9002 of S2 in B2) and the marketing rule pages; the
    # forms are refused by the service (empty outcome, a past time, the same RM, a bad condition), so
    # nothing changes between calls
    ("GET", "/tasks"): same(TASK_WORKERS),
    ("GET", "/tasks/queue"): same(TEAM_VIEWERS),
    ("GET", "/tasks/{task_id}"): page(TASK_WORKERS),
    ("POST", "/tasks/{task_id}/complete"): page(TASK_WORKERS, 400),
    ("POST", "/tasks/{task_id}/snooze"): page(TASK_WORKERS, 400),
    ("POST", "/tasks/{task_id}/reassign"): page(TEAM_VIEWERS, 400),
    ("GET", "/rules"): same({"marketing"}),
    ("GET", "/rules/new"): same({"marketing"}),
    ("POST", "/rules"): same({"marketing"}, 400),
    ("POST", "/rules/preview"): same({"marketing"}, 400),
    ("GET", "/rules/{rule_id}"): page({"marketing"}),
    ("GET", "/rules/{rule_id}/edit"): page({"marketing"}),
    ("POST", "/rules/{rule_id}"): page({"marketing"}, 400),
    ("POST", "/rules/{rule_id}/enable"): page({"marketing"}, 303),
    ("POST", "/rules/{rule_id}/disable"): page({"marketing"}, 303),
    ("GET", "/api/v1/tasks"): {**same(TASK_WORKERS), ANON: (401, 401)},
    ("GET", "/api/v1/tasks/counts"): {**same(TASK_WORKERS), ANON: (401, 401)},
    ("GET", "/api/v1/tasks/{task_id}"): api(TASK_WORKERS),
    ("POST", "/api/v1/tasks/{task_id}/complete"): api(TASK_WORKERS, 422),
    ("POST", "/api/v1/tasks/{task_id}/snooze"): api(TASK_WORKERS, 422),
    ("POST", "/api/v1/tasks/{task_id}/reassign"): api(TEAM_VIEWERS, 422),
    ("GET", "/api/v1/rules"): {**same({"marketing"}), ANON: (401, 401)},
    ("POST", "/api/v1/rules"): {**same({"marketing"}, 422), ANON: (401, 401)},
    ("POST", "/api/v1/rules/preview"): {**same({"marketing"}, 422), ANON: (401, 401)},
    ("GET", "/api/v1/rules/{rule_id}"): api({"marketing"}),
    ("PATCH", "/api/v1/rules/{rule_id}"): api({"marketing"}, 422),
    ("POST", "/api/v1/rules/{rule_id}/enable"): api({"marketing"}),
    ("POST", "/api/v1/rules/{rule_id}/disable"): api({"marketing"}),
}

# bodies of the state-changing calls (the reveal's by default)
API_BODIES: dict[str, dict[str, Any]] = {
    "/api/v1/customers/{customer_id}/interactions": {"channel": "call", "purpose": "care"},
    "/api/v1/customers/{customer_id}/contact": {"occupation": "retired", "reason": "permission matrix"},
    "/api/v1/team/reassignments": {"customer_ids": ["C1"], "to_rm_id": "S1", "reason": "permission matrix"},
    "/api/v1/tasks/{task_id}/complete": {"outcome": "", "channel": "call"},
    "/api/v1/tasks/{task_id}/snooze": {"until": "2020-01-01T09:00:00+08:00", "reason": "permission matrix"},
    "/api/v1/tasks/{task_id}/reassign": {"to_staff_id": "S1", "reason": "permission matrix"},
    "/api/v1/rules": {
        **{"rule_id": "matrix", "name_zh": "矩阵", "name_en": "Matrix", "action": "task"},
        **{"condition": "no_such_column > 1", "template_zh": "矩阵", "template_en": "Matrix"},
    },
    "/api/v1/rules/preview": {"condition": "no_such_column > 1"},
    "/api/v1/rules/{rule_id}": {"condition": "no_such_column > 1"},
}

# path parameters for the in-scope and the out-of-scope call
PARAMS = {
    "customer_id": ("C1", "C2"),
    "username": ("demo.marketing", "nobody-here"),
    "locale": ("en", "en"),
    "task_id": ("9001", "9002"),
    "rule_id": ("birthday", "no_such_rule"),
}


@pytest.fixture(autouse=True)
def work_items(web_bank: WebBank) -> None:
    """An open item of S1 (C1, branch B1) and one of S2 (C2, branch B2)."""
    now = web_bank.clock.now
    with session_scope(session_factory(web_bank.engine)) as s:
        for task_id, customer_id, rm in ((9001, "C1", "S1"), (9002, "C2", "S2")):
            s.add(
                Task(
                    task_id=task_id,
                    customer_id=customer_id,
                    rule_id="overdue",
                    kind="task",
                    priority="normal",
                    status="open",
                    due_at=now + timedelta(days=1),
                    assigned_to=rm,
                    open_key=f"{customer_id}|overdue",
                )
            )


def _url(path: str, in_scope: bool) -> str:
    for name, (inside, outside) in PARAMS.items():
        path = path.replace("{" + name + "}", inside if in_scope else outside)
    return path


def _call(client: TestClient, method: str, path: str, url: str, csrf: str) -> Any:
    if method == "GET":
        return client.get(url)
    if path.startswith("/api/"):
        body = API_BODIES.get(path, {"field": "phone", "reason": "permission matrix"})
        return client.request(method, url, json=body, headers={"X-CSRF-Token": csrf})
    forms = {
        "/login": {"username": "nobody-here", "password": "wrong password 1"},
        "/customers/{customer_id}/reveal": {"field": "phone", "reason": "permission matrix"},
        "/admin/users": {"username": "matrix", "role": "admin", "password": "short"},
        "/admin/users/{username}/reset-password": {"password": "short"},
        "/customers/{customer_id}/interactions": {"channel": "call", "purpose": "care"},
        "/customers/{customer_id}/contact": {"occupation": "executive", "reason": "permission matrix"},
        "/team/reassign": {"customer_ids": "C1", "to_rm_id": "S1", "reason": "permission matrix"},
        "/tasks/{task_id}/complete": {"outcome": "", "channel": "call"},
        "/tasks/{task_id}/snooze": {"until": "2020-01-01T09:00", "reason": "permission matrix"},
        "/tasks/{task_id}/reassign": {"to_staff_id": "S1", "reason": "permission matrix"},
        "/rules": {"rule_id": "matrix", "condition": "no_such_column > 1"},
        "/rules/preview": {"condition": "no_such_column > 1"},
        "/rules/{rule_id}": {"condition": "no_such_column > 1"},
    }
    return client.post(url, data={**forms.get(path, {}), "csrf_token": csrf})


def test_every_route_is_in_the_expectation_table(web_app) -> None:
    routes = set(route_table(web_app))
    assert routes - set(EXPECTED) == set(), "new routes need a row in EXPECTED"
    assert set(EXPECTED) - routes == set(), "EXPECTED names routes the app no longer has"


@pytest.mark.parametrize("role", [*ROLES, ANON])
def test_permission_matrix(web_app, role: str) -> None:
    failures = []
    # logout and disable change state: run them last
    order = sorted(route_table(web_app), key=lambda mp: (mp[1] in ("/logout", "/admin/users/{username}/disable"), mp))
    with TestClient(web_app, follow_redirects=False) as client:
        csrf = login(client, ROLE_USER[role]) if role != ANON else csrf_of_form(client.get("/login").text)
        for method, path in order:
            expected_in, expected_out = EXPECTED[(method, path)][role]
            for in_scope, expected in ((True, expected_in), (False, expected_out)):
                if path == "/logout" and not in_scope:
                    continue
                response = _call(client, method, path, _url(path, in_scope), csrf)
                if response.status_code != expected:
                    failures.append(f"{method} {_url(path, in_scope)} as {role}: {response.status_code} != {expected}")
    assert not failures, "\n".join(failures)
