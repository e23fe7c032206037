"""Logins, sessions, lock-out, CSRF and security headers through the web app."""

from __future__ import annotations

from fastapi.testclient import TestClient

from bankcrm.web.csrf import SESSION_COOKIE
from conftest import PASSWORDS, csrf_of_form, login


def _session_cookie_header(response) -> str:
    return next(v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith(SESSION_COOKIE))


def test_unauthenticated_pages_redirect_to_login_and_the_api_answers_401(client: TestClient) -> None:
    page = client.get("/customers/C1")
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fcustomers%2FC1"
    api = client.get("/api/v1/customers")
    assert api.status_code == 401
    assert api.headers["www-authenticate"] == "Bearer"


def test_login_sets_a_strict_cookie_and_a_new_session_id_each_time(client: TestClient) -> None:
    form = client.get("/login")
    response = client.post(
        "/login",
        data={"username": "demo.rm", "password": PASSWORDS["demo.rm"], "csrf_token": csrf_of_form(form.text)},
    )
    assert response.status_code == 303
    header = _session_cookie_header(response).lower()
    assert "httponly" in header and "samesite=lax" in header and "path=/" in header
    first = client.cookies[SESSION_COOKIE]
    login(client, "demo.rm")
    second = client.cookies[SESSION_COOKIE]
    assert first != second
    # the earlier session of this browser ended at the new login
    client.cookies.set(SESSION_COOKIE, first)
    assert client.get("/").status_code == 303


def test_logout_invalidates_the_session_on_the_server(client: TestClient) -> None:
    csrf = login(client, "demo.rm")
    token = client.cookies[SESSION_COOKIE]
    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 303
    client.cookies.set(SESSION_COOKIE, token)  # a copied cookie must not work after logout
    assert client.get("/").status_code == 303


def test_idle_timeout_ends_the_session(client: TestClient, web_bank) -> None:
    login(client, "demo.rm")
    web_bank.clock.advance(minutes=29)
    assert client.get("/").status_code == 200
    web_bank.clock.advance(minutes=31)
    response = client.get("/")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_five_bad_passwords_lock_the_account_and_the_page_says_the_rule(client: TestClient) -> None:
    for _ in range(5):
        form = client.get("/login")
        bad = client.post(
            "/login",
            data={"username": "demo.rm", "password": "wrong password 1", "csrf_token": csrf_of_form(form.text)},
        )
        assert bad.status_code == 401
    form = client.get("/login")
    locked = client.post(
        "/login", data={"username": "demo.rm", "password": PASSWORDS["demo.rm"], "csrf_token": csrf_of_form(form.text)}
    )
    assert locked.status_code == 401
    assert "5" in locked.text and "15" in locked.text  # the lock-out rule, never whether this user is locked
    assert SESSION_COOKIE not in client.cookies


def test_login_form_without_csrf_token_is_refused(client: TestClient) -> None:
    response = client.post("/login", data={"username": "demo.rm", "password": PASSWORDS["demo.rm"]})
    assert response.status_code == 403
    assert "CSRF" in response.text


def test_state_changing_requests_without_a_valid_csrf_token_are_refused(client: TestClient) -> None:
    csrf = login(client, "demo.rm")
    for data in (
        {"field": "phone", "reason": "call back"},
        {"field": "phone", "reason": "call", "csrf_token": "x" * 64},
    ):
        response = client.post("/customers/C1/reveal", data=data)
        assert response.status_code == 403
        assert "CSRF" in response.text
    api = client.post("/api/v1/customers/C1/reveal", json={"field": "phone", "reason": "call back"})
    assert api.status_code == 403 and "CSRF" in api.json()["detail"]
    ok = client.post(
        "/api/v1/customers/C1/reveal", json={"field": "phone", "reason": "call back"}, headers={"X-CSRF-Token": csrf}
    )
    assert ok.status_code == 200
    assert client.post("/logout").status_code == 403


def test_bearer_api_tokens_work_within_their_scopes_and_need_no_csrf(client: TestClient, web_bank) -> None:
    from bankcrm.audit.service import Actor
    from bankcrm.db.engine import session_factory, session_scope
    from bankcrm.security import service

    with session_scope(session_factory(web_bank.engine)) as s:
        _, token = service.create_api_token(
            s, "demo.rm", name="crm sync", scopes=["customers:read"], actor=Actor.cli(), clock=web_bank.clock
        )
    auth = {"Authorization": f"Bearer {token}"}
    me = client.get("/api/v1/me", headers=auth)
    assert me.status_code == 200 and me.json()["via_api_token"] is True
    assert me.json()["permissions"] == ["customer.read"]
    assert client.get("/api/v1/customers", headers=auth).json()["total"] == 2
    # the token lends customer.read only: no reveal, even though the RM's role has it
    reveal = client.post("/api/v1/customers/C1/reveal", json={"field": "phone", "reason": "sync"}, headers=auth)
    assert reveal.status_code == 403
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer bcrm_nope"}).status_code == 401
    assert client.get("/", headers=auth).status_code == 303  # tokens open the API only, not the pages


def test_security_headers_on_every_response(client: TestClient) -> None:
    login(client, "demo.rm")
    for path in ("/login", "/", "/customers/C1", "/customers/C404", "/api/v1/me", "/no-such-page"):
        response = client.get(path)
        headers = response.headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
        assert headers["cache-control"] == "no-store", path
    static = client.get("/static/app.css")
    assert static.status_code == 200 and static.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in client.get("/").text  # no inline script anywhere
