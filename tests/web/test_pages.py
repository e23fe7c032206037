"""Pages and JSON: scope, masking, reveal with audit, list/search audit, i18n, formats."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient

from bankcrm.audit.service import seal, search, verify
from bankcrm.db.engine import session_factory, session_scope
from bankcrm.web.i18n import CODE_LABELS, Translator, catalog, format_money
from conftest import ID_C1, PHONE_C1, login


def _events(web_bank, action: str):
    seal(web_bank.engine)  # on PostgreSQL the app seals in the background; read what has been committed
    with session_scope(session_factory(web_bank.engine)) as s:
        return [(e.actor, e.target_id, json.loads(e.details_json)) for e in search(s, action=action, limit=100)]


def test_out_of_scope_customer_is_exactly_like_a_missing_one(client: TestClient) -> None:
    login(client, "demo.rm")
    other, missing = client.get("/customers/C2"), client.get("/customers/C404")
    assert other.status_code == missing.status_code == 404
    assert other.text.replace("C2", "C404") == missing.text  # the page differs only by the URL it echoes
    api_other, api_missing = client.get("/api/v1/customers/C2"), client.get("/api/v1/customers/C404")
    assert api_other.status_code == api_missing.status_code == 404
    assert api_other.json() == api_missing.json()


def test_customer_360_is_masked_in_html_and_json(client: TestClient) -> None:
    login(client, "demo.rm")
    page = client.get("/customers/C1")
    assert page.status_code == 200
    assert "138****5678" in page.text and "110105199001******" in page.text and "欧阳**" in page.text
    assert PHONE_C1 not in page.text and ID_C1 not in page.text and "欧阳明华" not in page.text
    assert "¥1,234,567.89" in page.text
    data = client.get("/api/v1/customers/C1").json()
    assert data["profile"]["phone"] == "138****5678" and data["profile"]["name"] == "欧阳**"
    assert data["scores"]["tier"] == "vip" and data["scores"]["aum_avg_30d"] == "1234567.89"
    assert PHONE_C1 not in json.dumps(data)


def test_reveal_shows_one_field_for_one_view_and_is_audited(client: TestClient, web_bank) -> None:
    csrf = login(client, "demo.rm")
    shown = client.post(
        "/customers/C1/reveal", data={"field": "phone", "reason": "customer called back", "csrf_token": csrf}
    )
    assert shown.status_code == 200 and PHONE_C1 in shown.text and ID_C1 not in shown.text
    assert PHONE_C1 not in client.get("/customers/C1").text  # the next view is masked again
    no_reason = client.post("/customers/C1/reveal", data={"field": "phone", "reason": " ", "csrf_token": csrf})
    assert no_reason.status_code == 400 and PHONE_C1 not in no_reason.text
    api = client.post(
        "/api/v1/customers/C1/reveal",
        json={"field": "id_number", "reason": "account opening"},
        headers={"X-CSRF-Token": csrf},
    )
    assert api.json() == {"customer_id": "C1", "field": "id_number", "value": ID_C1}
    reveals = _events(web_bank, "field.reveal")
    assert [(a, t, d["field"], d["reason"]) for a, t, d in reveals] == [
        ("demo.rm", "C1", "id_number", "account opening"),
        ("demo.rm", "C1", "phone", "customer called back"),
    ]
    # compliance sees the reveal in the audit log and the reveal history
    client.cookies.clear()
    login(client, "demo.compliance")
    audit = client.get("/compliance/audit", params={"action": "field.reveal", "actor": "demo.rm"})
    assert audit.status_code == 200 and "customer called back" in audit.text
    events = client.get("/api/v1/audit/events", params={"action": "field.reveal"}).json()["items"]
    assert {e["details"]["reason"] for e in events} == {"customer called back", "account opening"}
    with session_scope(session_factory(web_bank.engine)) as s:
        assert verify(s).ok


def test_compliance_reads_masked_and_cannot_reveal(client: TestClient) -> None:
    csrf = login(client, "demo.compliance")
    assert "138****5678" in client.get("/customers/C1").text
    refused = client.post("/customers/C1/reveal", data={"field": "phone", "reason": "oversight", "csrf_token": csrf})
    assert refused.status_code == 403


def test_workbench_lists_scope_with_filters_sort_and_search_all_audited(client: TestClient, web_bank) -> None:
    login(client, "demo.rm")
    page = client.get("/")
    assert page.status_code == 200 and "C1" in page.text and "C3" in page.text and "C2" not in page.text
    rows = client.get("/api/v1/customers").json()
    assert [i["customer_id"] for i in rows["items"]] == ["C1", "C3"]  # value index, highest first
    assert rows["items"][0]["phone"] == "138****5678"
    assert [i["customer_id"] for i in client.get("/api/v1/customers", params={"tier": "ordinary"}).json()["items"]] == [
        "C3"
    ]
    assert [i["customer_id"] for i in client.get("/api/v1/customers", params={"q": PHONE_C1}).json()["items"]] == ["C1"]
    assert [i["customer_id"] for i in client.get("/api/v1/customers", params={"q": ID_C1}).json()["items"]] == ["C1"]
    assert [i["customer_id"] for i in client.get("/api/v1/customers", params={"q": "李"}).json()["items"]] == ["C3"]
    # another RM's customer is not found by its phone number either
    assert client.get("/api/v1/customers", params={"q": "13700002222"}).json()["total"] == 0
    paged = client.get("/api/v1/customers", params={"page_size": 1, "page": 2, "sort": "aum"}).json()
    assert [i["customer_id"] for i in paged["items"]] == ["C3"] and paged["total"] == 2
    searches = _events(web_bank, "customer.search")
    assert len(searches) == 4
    logged = json.dumps([d for _, _, d in searches], ensure_ascii=False)
    assert PHONE_C1 not in logged and ID_C1 not in logged and "138****5678" in logged
    assert len(_events(web_bank, "customer.list")) >= 4


def test_team_lead_and_branch_manager_see_their_scope(client: TestClient) -> None:
    for user in ("demo.lead", "demo.manager"):
        client.cookies.clear()
        login(client, user)
        ids = [i["customer_id"] for i in client.get("/api/v1/customers").json()["items"]]
        assert ids == ["C1", "C3"], user


def test_language_switch_and_formats(client: TestClient) -> None:
    login(client, "demo.rm")
    assert "我的客户" in client.get("/").text
    switched = client.get("/lang/en", params={"next": "/"})
    assert switched.status_code == 303 and switched.headers["location"] == "/"
    english = client.get("/").text
    assert "My customers" in english and "我的客户" not in english
    assert client.get("/lang/en", params={"next": "https://evil.example/"}).headers["location"] == "/"
    assert format_money(1234567.891) == "¥1,234,567.89" and format_money(-12.3) == "-¥12.30"


def test_times_are_shown_in_asia_shanghai() -> None:
    from datetime import UTC, datetime

    assert Translator("en").datetime(datetime(2026, 11, 26, 16, 30, tzinfo=UTC)) == "2026-11-27 00:30:00"


def test_admin_manages_users_and_sees_no_customer_data(client: TestClient, web_bank) -> None:
    csrf = login(client, "demo.admin")
    assert client.get("/admin/users").status_code == 200
    assert client.get("/admin/branches").status_code == 200 and "Chaoyang" in client.get("/admin/branches").text
    assert "Time deposit 1Y" in client.get("/admin/products").text
    assert client.get("/customers/C1").status_code == 403
    assert client.get("/api/v1/customers").status_code == 403
    added = client.post(
        "/admin/users",
        data={
            "username": "wang",
            "role": "rm",
            "staff_id": "S2",
            "password": "a long Passphrase 9",
            "csrf_token": csrf,
        },
    )
    assert added.status_code == 303
    weak = client.post(
        "/admin/users", data={"username": "li", "role": "admin", "password": "short", "csrf_token": csrf}
    )
    assert weak.status_code == 400
    reset = client.post(
        "/admin/users/wang/reset-password", data={"password": "another Passphrase 8", "csrf_token": csrf}
    )
    assert reset.status_code == 303
    assert client.post("/admin/users/wang/disable", data={"csrf_token": csrf}).status_code == 303
    actions = {a for a in ("user.create", "user.password_reset", "user.disable") if _events(web_bank, a)}
    assert actions == {"user.create", "user.password_reset", "user.disable"}
    client.cookies.clear()
    from conftest import csrf_of_form

    form = client.get("/login")
    refused = client.post(
        "/login", data={"username": "wang", "password": "another Passphrase 8", "csrf_token": csrf_of_form(form.text)}
    )
    assert refused.status_code == 401


def test_every_message_in_templates_and_code_has_a_chinese_entry() -> None:
    root = Path(__file__).resolve().parents[2] / "src" / "bankcrm"
    messages: set[str] = set()
    for template in root.glob("*/templates/**/*.html"):
        text = template.read_text(encoding="utf-8")
        messages |= set(re.findall(r'_\(\s*"([^"]+)"', text)) | set(re.findall(r"_\(\s*'([^']+)'", text))
    for labels in CODE_LABELS.values():
        messages |= set(labels.values())
    from bankcrm.security.permissions import ROLE_PERMISSIONS, Principal
    from bankcrm.web.errors import CSRF_MESSAGE
    from bankcrm.web.templating import nav_items

    messages.add(CSRF_MESSAGE)
    for role, perms in ROLE_PERMISSIONS.items():
        messages |= {label for _, label in nav_items(Principal(1, "u", role, permissions=perms))}
    missing = sorted(m for m in messages if m not in catalog("zh-CN"))
    assert not missing
