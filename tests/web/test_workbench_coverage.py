"""The RM's contact-plan coverage (SPEC 5.1) on the workbench."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from bankcrm.customers.models import Interaction
from bankcrm.db.engine import session_factory, session_scope
from bankcrm.tasks import service as task_service
from conftest import WebBank, login


def test_the_rm_sees_their_coverage_per_tier(web_bank: WebBank, client: TestClient) -> None:
    with session_scope(session_factory(web_bank.engine)) as s:
        task_service.ensure_default_rules(s)
        # C1 (VIP) had an asset review last week; C3 (ordinary) has had neither reminder nor questionnaire
        s.add(
            Interaction(
                customer_id="C1",
                staff_id="S1",
                channel="visit",
                purpose="review",
                occurred_at=datetime.now(UTC) - timedelta(days=7),
            )
        )
    login(client, "demo.rm")
    client.get("/lang/en", params={"next": "/"})
    page = client.get("/").text
    assert "Contact coverage: <strong>50%</strong>" in page
    assert "VIP 100% · Ordinary 0%" in page
    assert "2 contacts overdue" in page
    client.get("/lang/zh-CN", params={"next": "/"})
    assert "联系覆盖率" in client.get("/").text


def test_other_roles_do_not_get_the_rm_figure(web_bank: WebBank, client: TestClient) -> None:
    with session_scope(session_factory(web_bank.engine)) as s:
        task_service.ensure_default_rules(s)
    login(client, "demo.lead")
    client.get("/lang/en", params={"next": "/"})
    assert "Contact coverage" not in client.get("/").text
