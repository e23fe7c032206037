"""The task pages and API (list, item, complete, snooze, reassign, branch queue) and the marketing rule pages."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bankcrm.analytics.publish import rule_table_file
from bankcrm.customers.models import Interaction
from bankcrm.db.engine import session_factory, session_scope
from bankcrm.scores import repository as scores_repo
from bankcrm.staff.models import Staff
from bankcrm.tasks.models import Rule, Task, TaskEvent
from conftest import WebBank, login

EN = {"bankcrm_lang": "en"}


def add_item(bank: WebBank, customer_id: str, assigned_to: str | None, *, due: timedelta, **extra: object) -> int:
    """An open item raised 'yesterday', due ``due`` after the bank's clock."""
    now = bank.clock.now
    values: dict[str, object] = {
        "rule_id": "overdue",
        "kind": "task",
        "priority": "normal",
        "status": "open",
        "channel": "call",
        "facts_json": json.dumps({"max_days_past_due": 12}),
        **extra,
    }
    with session_scope(session_factory(bank.engine)) as s:
        item = Task(
            customer_id=customer_id,
            rule_version=1,
            created_at=now - timedelta(days=1),
            due_at=now + due,
            assigned_to=assigned_to,
            open_key=f"{customer_id}|{values['rule_id']}",
            **values,
        )
        s.add(item)
        s.flush()
        return item.task_id


def get_item(bank: WebBank, task_id: int) -> Task:
    with session_scope(session_factory(bank.engine)) as s:
        item = s.get(Task, task_id)
        assert item is not None
        return item


@pytest.fixture
def items(web_bank: WebBank) -> dict[str, int]:
    return {
        "later": add_item(web_bank, "C1", "S1", due=timedelta(days=2), rule_id="birthday"),
        "overdue": add_item(web_bank, "C3", "S1", due=-timedelta(hours=3)),
        "urgent": add_item(web_bank, "C1", "S1", due=timedelta(hours=20), priority="urgent", rule_id="large_outflow"),
        "other_rm": add_item(web_bank, "C2", "S2", due=-timedelta(hours=1)),
        "queue": add_item(web_bank, "C3", None, due=timedelta(days=1), rule_id="dormancy", queue_branch_id="B1"),
    }


def _order(html: str, *task_ids: int) -> list[int]:
    return sorted(task_ids, key=lambda t: html.index(f'href="/tasks/{t}"'))


def test_workbench_panel_and_task_list_in_the_morning_order(client: TestClient, items: dict[str, int]) -> None:
    login(client, "demo.rm")
    client.cookies.update(EN)
    home = client.get("/")
    assert home.status_code == 200
    assert 'id="todays-tasks"' in home.text and "Urgent: 1" in home.text and "Overdue: 1" in home.text
    assert _order(home.text, items["later"], items["overdue"], items["urgent"]) == [
        items["urgent"],
        items["overdue"],
        items["later"],
    ]
    listing = client.get("/tasks")
    assert listing.status_code == 200
    assert f'href="/tasks/{items["other_rm"]}"' not in listing.text  # S2's item
    assert f'href="/tasks/{items["queue"]}"' not in listing.text  # the branch queue is the team lead's
    assert _order(listing.text, *(items[k] for k in ("later", "overdue", "urgent"))) == [
        items["urgent"],
        items["overdue"],
        items["later"],
    ]
    filtered = client.get("/tasks", params={"rule_id": "birthday"})
    assert f'href="/tasks/{items["later"]}"' in filtered.text
    assert f'href="/tasks/{items["urgent"]}"' not in filtered.text
    assert client.get("/tasks", params={"page": 10**20}).status_code == 422
    # Chinese by default
    client.cookies.delete("bankcrm_lang")
    assert "紧急" in client.get("/tasks").text


def test_an_rm_cannot_see_or_work_another_rms_item(client: TestClient, web_bank: WebBank, items: dict) -> None:
    csrf = login(client, "demo.rm")
    other = items["other_rm"]
    assert client.get(f"/tasks/{other}").status_code == 404
    assert client.get(f"/api/v1/tasks/{other}").status_code == 404
    form = {"outcome": "called", "channel": "call", "csrf_token": csrf}
    assert client.post(f"/tasks/{other}/complete", data=form).status_code == 404
    body = {"outcome": "called", "channel": "call"}
    assert client.post(f"/api/v1/tasks/{other}/complete", json=body, headers={"X-CSRF-Token": csrf}).status_code == 404
    until = {"until": "2026-11-27T09:00", "reason": "later", "csrf_token": csrf}
    assert client.post(f"/tasks/{other}/snooze", data=until).status_code == 404
    assert get_item(web_bank, other).status == "open"


def test_complete_from_the_page_logs_the_interaction(client: TestClient, web_bank: WebBank, items: dict) -> None:
    csrf = login(client, "demo.rm")
    client.cookies.update(EN)
    task_id = items["overdue"]
    page = client.get(f"/tasks/{task_id}")
    assert page.status_code == 200 and "max_days_past_due" in page.text and 'name="csrf_token"' in page.text
    refused = client.post(f"/tasks/{task_id}/complete", data={"outcome": " ", "channel": "call", "csrf_token": csrf})
    assert refused.status_code == 400 and "An outcome is required" in refused.text
    done = client.post(
        f"/tasks/{task_id}/complete",
        data={"outcome": "Called, repayment agreed", "channel": "visit", "csrf_token": csrf},
    )
    assert (done.status_code, done.headers["location"]) == (303, f"/tasks/{task_id}")
    item = get_item(web_bank, task_id)
    assert (item.status, item.open_key, item.closed_by) == ("done", None, "demo.rm")
    with session_scope(session_factory(web_bank.engine)) as s:
        contact = s.scalars(select(Interaction).where(Interaction.task_id == task_id)).one()
        assert (contact.customer_id, contact.channel, contact.purpose, contact.notes) == (
            "C3",
            "visit",
            "task",
            "Called, repayment agreed",
        )
    shown = client.get(f"/tasks/{task_id}")
    assert "Called, repayment agreed" in shown.text and f'action="/tasks/{task_id}/complete"' not in shown.text
    again = client.post(f"/tasks/{task_id}/complete", data={"outcome": "again", "channel": "call", "csrf_token": csrf})
    assert again.status_code == 400 and "closed already" in again.text


def test_snooze_reads_the_form_time_in_shanghai_and_the_item_wakes(
    client: TestClient, web_bank: WebBank, items: dict
) -> None:
    csrf = login(client, "demo.rm")
    task_id = items["later"]
    # the bank's clock is 2026-11-26 09:00 in Shanghai
    response = client.post(
        f"/tasks/{task_id}/snooze", data={"until": "2026-11-26T09:20", "reason": "Customer abroad", "csrf_token": csrf}
    )
    assert response.status_code == 303
    item = get_item(web_bank, task_id)
    assert item.status == "snoozed"
    assert item.snoozed_until.isoformat() == "2026-11-26T01:20:00+00:00"
    assert f'href="/tasks/{task_id}"' not in client.get("/tasks").text
    assert f'href="/tasks/{task_id}"' in client.get("/tasks", params={"status": "snoozed"}).text
    past = client.post(
        f"/tasks/{task_id}/snooze", data={"until": "2026-11-26T08:00", "reason": "x y", "csrf_token": csrf}
    )
    assert past.status_code == 400
    garbled = client.post(f"/tasks/{task_id}/snooze", data={"until": "soon", "reason": "x y", "csrf_token": csrf})
    assert garbled.status_code == 400
    web_bank.clock.advance(minutes=21)  # within the session's 30 idle minutes
    assert f'href="/tasks/{task_id}"' in client.get("/tasks").text
    assert get_item(web_bank, task_id).status == "open"


def test_reassign_by_the_team_lead_with_history_and_the_branch_queue(
    client: TestClient, web_bank: WebBank, items: dict
) -> None:
    with session_scope(session_factory(web_bank.engine)) as s:
        s.add(Staff(staff_id="S5", name="RM five", role="rm", branch_id="B1", team_id="T1", active=True))
    csrf = login(client, "demo.rm")
    form = {"to_staff_id": "S5", "reason": "holiday", "csrf_token": csrf}
    assert client.post(f"/tasks/{items['overdue']}/reassign", data=form).status_code == 403
    assert client.get("/tasks/queue").status_code == 403
    client.cookies.clear()
    csrf = login(client, "demo.lead")
    client.cookies.update(EN)
    queue = client.get("/tasks/queue")
    assert queue.status_code == 200 and f'href="/tasks/{items["queue"]}"' in queue.text
    assert f'href="/tasks/{items["overdue"]}"' not in queue.text
    detail = client.get(f"/tasks/{items['overdue']}")
    assert f'action="/tasks/{items["overdue"]}/reassign"' in detail.text and 'value="S5"' in detail.text
    refused = client.post(f"/tasks/{items['overdue']}/reassign", data={**form, "to_staff_id": "S2", "csrf_token": csrf})
    assert refused.status_code == 400 and "team or branch" in refused.text
    moved = client.post(f"/tasks/{items['overdue']}/reassign", data={**form, "csrf_token": csrf})
    assert moved.status_code == 303
    assert get_item(web_bank, items["overdue"]).assigned_to == "S5"
    history = client.get(f"/tasks/{items['overdue']}")
    assert "reassign" in history.text and "holiday" in history.text
    out_of_queue = client.post(f"/tasks/{items['queue']}/reassign", data={**form, "csrf_token": csrf})
    assert out_of_queue.status_code == 303
    item = get_item(web_bank, items["queue"])
    assert (item.assigned_to, item.queue_branch_id) == ("S5", None)
    # another branch's item is out of the team lead's scope
    assert client.post(f"/tasks/{items['other_rm']}/reassign", data={**form, "csrf_token": csrf}).status_code == 404
    with session_scope(session_factory(web_bank.engine)) as s:
        actions = [e.action for e in s.scalars(select(TaskEvent).where(TaskEvent.task_id == items["queue"]))]
        assert actions == ["reassign"]


def test_every_task_and_rule_form_needs_the_csrf_token(client: TestClient, web_bank: WebBank, items: dict) -> None:
    login(client, "demo.lead")
    task_id = items["overdue"]
    for url, data in (
        (f"/tasks/{task_id}/complete", {"outcome": "called", "channel": "call"}),
        (f"/tasks/{task_id}/snooze", {"until": "2026-11-26T15:30", "reason": "abroad"}),
        (f"/tasks/{task_id}/reassign", {"to_staff_id": "S1", "reason": "holiday"}),
    ):
        assert client.post(url, data=data).status_code == 403, url
        assert client.post(url, data={**data, "csrf_token": "forged"}).status_code == 403, url
    assert (
        client.post(f"/api/v1/tasks/{task_id}/complete", json={"outcome": "x y", "channel": "call"}).status_code == 403
    )
    assert get_item(web_bank, task_id).status == "open"
    client.cookies.clear()
    login(client, "demo.marketing")
    assert client.get("/rules").status_code == 200  # the default rules are in place
    for url, data in (
        ("/rules", {"rule_id": "x", "condition": "age > 1"}),
        ("/rules/birthday", {"condition": "age > 1"}),
        ("/rules/birthday/disable", {}),
        ("/rules/birthday/enable", {}),
        ("/rules/preview", {"condition": "age > 1"}),
    ):
        assert client.post(url, data=data).status_code == 403, url
    with session_scope(session_factory(web_bank.engine)) as s:
        assert s.get(Rule, "birthday").version == 1


def test_task_api_lists_in_order_and_completes(client: TestClient, web_bank: WebBank, items: dict) -> None:
    csrf = login(client, "demo.rm")
    listing = client.get("/api/v1/tasks")
    assert listing.status_code == 200
    body = listing.json()
    assert [i["task_id"] for i in body["items"]] == [items["urgent"], items["overdue"], items["later"]]
    assert [i["bucket"] for i in body["items"]] == ["urgent", "overdue", "later"]
    assert body["counts"] == {"open": 3, "urgent": 1, "overdue": 1, "due_today": 0}
    assert client.get("/api/v1/tasks/counts").json()["urgent"] == 1
    detail = client.get(f"/api/v1/tasks/{items['urgent']}").json()
    assert detail["task"]["facts"] == {"max_days_past_due": 12} and detail["events"] == []
    headers = {"X-CSRF-Token": csrf}
    bad = client.post(
        f"/api/v1/tasks/{items['overdue']}/complete", json={"outcome": "", "channel": "call"}, headers=headers
    )
    assert bad.status_code == 422 and "outcome" in bad.json()["detail"]
    done = client.post(
        f"/api/v1/tasks/{items['overdue']}/complete", json={"outcome": "agreed", "channel": "call"}, headers=headers
    )
    assert done.status_code == 200 and done.json()["task"]["status"] == "done" and done.json()["interaction_id"]
    snoozed = client.post(
        f"/api/v1/tasks/{items['later']}/snooze",
        json={"until": "2026-11-27T09:00:00+08:00", "reason": "abroad"},
        headers=headers,
    )
    assert snoozed.status_code == 200
    assert datetime.fromisoformat(snoozed.json()["snoozed_until"]) == datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
    assert (
        client.post(
            f"/api/v1/tasks/{items['later']}/reassign", json={"to_staff_id": "S1", "reason": "x y"}, headers=headers
        ).status_code
        == 403
    )


# --- rules ---


def _write_rule_table(bank: WebBank) -> None:
    with session_scope(session_factory(bank.engine)) as s:
        run_id = scores_repo.current_run_id(s)
    assert run_id is not None
    path = rule_table_file(bank.settings.lake_dir, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table(
        {
            "customer_id": ["C1", "C2", "C3"],
            "tier": ["vip", "potential", "ordinary"],
            "segment": ["A", "B", "C"],
            "deposit_balance": [900_000.0, 250_000.0, 100.0],
            "mortgage_rate_views_30d": [4, 3, 0],
        }
    )
    pq.write_table(table, path)


def test_rules_pages_are_for_marketing_only(client: TestClient) -> None:
    login(client, "demo.rm")
    for url in ("/rules", "/rules/birthday", "/rules/new", "/rules/birthday/edit", "/api/v1/rules"):
        assert client.get(url).status_code == 403, url
    client.cookies.clear()
    login(client, "demo.marketing")
    client.cookies.update(EN)
    listing = client.get("/rules")
    assert listing.status_code == 200 and 'href="/rules/large_outflow"' in listing.text
    assert client.get("/rules/no_such_rule").status_code == 404
    shown = client.get("/rules/birthday")
    assert shown.status_code == 200 and "days_to_birthday" in shown.text and "Version history" in shown.text


def test_marketing_edits_a_rule_and_a_bad_condition_shows_where(client: TestClient, web_bank: WebBank) -> None:
    csrf = login(client, "demo.marketing")
    client.cookies.update(EN)
    form = client.get("/rules/need_mortgage/edit")
    assert form.status_code == 200 and "<textarea" in form.text
    fields = {
        "name_zh": "房贷需求",
        "name_en": "Mortgage need",
        "condition": "mortgage_rate_views_30d >= 3 AND depositt >= 200000",
        "action": "opportunity",
        "priority": "high",
        "sla_hours": "72",
        "sla_working_days": "3",
        "cooldown_days": "30",
        "product_category": "loan_mortgage",
        "offer": "Mortgage + renovation loan",
        "tier_actions": "{}",
        "template_zh": "房贷和装修贷组合",
        "template_en": "Mortgage and renovation loan",
        "csrf_token": csrf,
    }
    refused = client.post("/rules/need_mortgage", data=fields)
    assert refused.status_code == 400
    assert "unknown column" in refused.text and "line 1, column" in refused.text
    assert "depositt &gt;= 200000" in refused.text  # the text typed comes back in the form
    bad_json = client.post("/rules/need_mortgage", data={**fields, "tier_actions": "{vip"})
    assert bad_json.status_code == 400 and "tier_actions" in bad_json.text
    saved = client.post(
        "/rules/need_mortgage",
        data={**fields, "condition": "mortgage_rate_views_30d >= 4 AND deposit_balance >= 300000"},
    )
    assert (saved.status_code, saved.headers["location"]) == (303, "/rules/need_mortgage")
    with session_scope(session_factory(web_bank.engine)) as s:
        rule = s.get(Rule, "need_mortgage")
        assert (rule.version, rule.condition, rule.updated_by) == (
            2,
            "mortgage_rate_views_30d >= 4 AND deposit_balance >= 300000",
            "demo.marketing",
        )
    shown = client.get("/rules/need_mortgage")
    assert "deposit_balance &gt;= 300000" in shown.text and "deposit_balance &gt;= 200000" in shown.text  # v2 and v1
    assert client.post("/rules/need_mortgage/disable", data={"csrf_token": csrf}).status_code == 303
    assert client.post("/rules/need_mortgage/enable", data={"csrf_token": csrf}).status_code == 303
    with session_scope(session_factory(web_bank.engine)) as s:
        rule = s.get(Rule, "need_mortgage")
        assert (rule.version, rule.enabled) == (4, True)


def test_marketing_adds_and_previews_a_rule_without_names(client: TestClient, web_bank: WebBank) -> None:
    csrf = login(client, "demo.marketing")
    client.cookies.update(EN)
    assert client.get("/rules/new").status_code == 200
    fields = {
        "rule_id": "big_savers",
        "category": "custom",
        "name_zh": "大额储户",
        "name_en": "Big savers",
        "condition": "deposit_balance >= 200000 AND tier <> 'vip'",
        "action": "task",
        "priority": "normal",
        "sla_hours": "72",
        "cooldown_days": "0",
        "tier_actions": "{}",
        "template_zh": "请联系",
        "template_en": "Please call",
        "csrf_token": csrf,
    }
    created = client.post("/rules", data=fields)
    assert (created.status_code, created.headers["location"]) == (303, "/rules/big_savers")
    with session_scope(session_factory(web_bank.engine)) as s:
        assert s.get(Rule, "big_savers").enabled is False  # previewed before it is enabled
    duplicate = client.post("/rules", data=fields)
    assert duplicate.status_code == 400 and "exists already" in duplicate.text
    # no rule table kept for the run yet: the preview says so
    missing = client.post("/rules/preview", data={"condition": fields["condition"], "csrf_token": csrf})
    assert missing.status_code == 400 and "rule table" in missing.text
    _write_rule_table(web_bank)
    preview = client.post("/rules/preview", data={"condition": fields["condition"], "csrf_token": csrf})
    assert preview.status_code == 200
    assert "1 of 3 customers" in preview.text and ">C2<" in preview.text and ">C1<" not in preview.text
    assert "王五" not in preview.text and "欧阳" not in preview.text  # ids, tier, segment and facts only
    bad = client.post("/rules/preview", data={"condition": "deposit_balance >>= 1", "csrf_token": csrf})
    assert bad.status_code == 400 and "line 1" in bad.text
    api = client.post(
        "/api/v1/rules/preview", json={"condition": "mortgage_rate_views_30d >= 3"}, headers={"X-CSRF-Token": csrf}
    )
    assert api.status_code == 200
    assert (api.json()["hits"], [r["customer_id"] for r in api.json()["sample"]]) == (2, ["C1", "C2"])
    assert set(api.json()["sample"][0]) == {"customer_id", "tier", "segment", "mortgage_rate_views_30d"}


def test_rules_api(client: TestClient, web_bank: WebBank) -> None:
    csrf = login(client, "demo.marketing")
    headers = {"X-CSRF-Token": csrf}
    rules = client.get("/api/v1/rules").json()
    assert "large_outflow" in {r["rule_id"] for r in rules}
    bad = client.patch(
        "/api/v1/rules/nav_move", json={"condition": "fund_nav_move_max >= 0.2 AND nope"}, headers=headers
    )
    assert bad.status_code == 422 and "line 1, column" in bad.json()["detail"]
    ok = client.patch("/api/v1/rules/nav_move", json={"cooldown_days": 20}, headers=headers)
    assert ok.status_code == 200 and ok.json()["version"] == 2
    assert client.patch("/api/v1/rules/nav_move", json={}, headers=headers).status_code == 422
    shown = client.get("/api/v1/rules/nav_move").json()
    assert [v["change"] for v in shown["versions"]] == ["create", "update"]
    assert client.post("/api/v1/rules/nav_move/disable", headers=headers).json()["enabled"] is False
    created = client.post(
        "/api/v1/rules",
        json={
            "rule_id": "api_rule",
            "name_zh": "测试",
            "name_en": "Test",
            "condition": "age > 70",
            "action": "task",
            "template_zh": "请联系",
            "template_en": "Please call",
        },
        headers=headers,
    )
    assert created.status_code == 201 and created.json()["enabled"] is False
