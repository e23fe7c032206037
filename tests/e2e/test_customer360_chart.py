"""The 12-month AUM chart draws in a real browser under the app's CSP (script-src 'self', no inline script)."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest
from e2e_support import CHROMIUM, PASSWORDS, ROLE_USER, VIEWPORT, Screenshots
from playwright.sync_api import Browser

from bankcrm.db.engine import session_factory, session_scope
from bankcrm.holdings import repository as holdings_repo
from bankcrm.scores import repository as scores_repo

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"browser tests need Debian's Chromium at {CHROMIUM}")


@pytest.fixture
def trend(web_bank) -> None:
    with session_scope(session_factory(web_bank.engine)) as s:
        run_id = scores_repo.current_run_id(s)
    ends = [date(2025, 12, 31), date(2026, 1, 31), date(2026, 11, 25)]
    with web_bank.engine.begin() as conn:
        holdings_repo.insert_month_aum(
            conn,
            run_id,
            pa.table(
                {
                    "customer_id": ["C1"] * 3,
                    "month_end": pa.array(ends, pa.date32()),
                    "aum": [800000.0, 950000.0, 1234567.89],
                    "aum_avg": [780000.0, 900000.0, 1200000.0],
                    "liability": [300000.0, 290000.0, 250000.0],
                }
            ),
        )


def test_aum_chart_draws_without_csp_violations(
    trend, live_server: str, browser: Browser, screenshots: Screenshots
) -> None:
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda m: (
            problems.append(f"{m.text} @ {m.location['url']}")
            if m.type == "error" and not m.location["url"].endswith("/favicon.ico")
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{live_server}/login")
    page.fill('form[action="/login"] input[name="username"]', ROLE_USER["rm"])
    page.fill('form[action="/login"] input[name="password"]', PASSWORDS[ROLE_USER["rm"]])
    page.click('form[action="/login"] button[type="submit"]')
    page.goto(f"{live_server}/customers/C1")
    page.wait_for_selector("#aum-chart .main-svg", timeout=15_000)
    # three lines (AUM, monthly average, liabilities) over 12 month-ends
    assert page.locator("#aum-chart .scatterlayer .trace").count() == 3
    page.locator("#aum-trend").scroll_into_view_if_needed()
    screenshots.take(page, "customer360-aum-trend")
    context.close()
    assert not problems, problems
