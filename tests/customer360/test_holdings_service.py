"""Holdings by category and the 12-month AUM trend from the published tables, with scope and audit."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from bank360 import ACTOR, AS_OF, COMPLIANCE, LEAD, MANAGER, MARKETING, RM1, RM2, Bank

from bankcrm.audit.service import search
from bankcrm.db.engine import session_scope
from bankcrm.holdings import service
from bankcrm.security.permissions import NotFound, PermissionDenied


def test_holdings_by_category_of_the_current_run(bank: Bank) -> None:
    with session_scope(bank.factory) as s:
        h = service.view_holdings(s, RM1, "C1", actor=ACTOR)
    assert h is not None
    assert (h.run_id, h.as_of) == (bank.run_id, AS_OF)
    assert (h.total_assets, h.total_liabilities) == (Decimal("400000.75"), Decimal("800000.00"))
    assert [(c.category, c.kind, c.balance, c.accounts) for c in h.categories] == [
        ("deposit_current", "asset", Decimal("100000.50"), 1),
        ("fund", "asset", Decimal("300000.25"), 1),
        ("loan_mortgage", "liability", Decimal("800000.00"), 1),
    ]
    assert h.categories[1].share == pytest.approx(300000.25 / 400000.75)
    assert h.categories[2].share == 1.0
    fund = next(p for p in h.positions if p.account_id == "A2")
    assert (fund.product_name, fund.risk_level, fund.balance_avg_30d) == ("稳健债券基金", "R2", Decimal("300000.00"))
    assert fund.opened_on == date(2024, 3, 1)
    with session_scope(bank.factory) as s:
        (event,) = search(s, action="customer.view")
        assert (event.target_id, event.actor) == ("C1", "tester")
        assert '"section":"holdings"' in event.details_json


def test_trend_has_twelve_month_ends_with_zeros_for_empty_months(bank: Bank) -> None:
    with session_scope(bank.factory) as s:
        trend = service.view_aum_trend(s, LEAD, "C1", actor=ACTOR)
    assert trend is not None
    assert len(trend.points) == 12
    assert trend.points[0].month_end == date(2025, 7, 31)
    assert [(p.month_end, p.aum, p.aum_avg, p.liability) for p in trend.points[-2:]] == [
        (date(2026, 5, 31), Decimal("350000.00"), Decimal("340000.00"), Decimal("805000.00")),
        (AS_OF, Decimal("400000.75"), Decimal("390000.00"), Decimal("800000.00")),
    ]
    assert all(p.aum == 0 and p.liability == 0 for p in trend.points[:-2])


def test_out_of_scope_is_not_found_and_not_audited(bank: Bank) -> None:
    for principal, customer in ((RM2, "C1"), (RM1, "C404"), (LEAD, "C3"), (MANAGER, "C9")):
        with pytest.raises(NotFound), session_scope(bank.factory) as s:
            service.view_holdings(s, principal, customer, actor=ACTOR)
        with pytest.raises(NotFound), session_scope(bank.factory) as s:
            service.view_aum_trend(s, principal, customer, actor=ACTOR)
    with pytest.raises(PermissionDenied), session_scope(bank.factory) as s:
        service.view_holdings(s, MARKETING, "C1", actor=ACTOR)
    with session_scope(bank.factory) as s:
        assert search(s, action="customer.view") == []
        # compliance reads every customer (masked), the branch manager the whole branch
        assert service.view_holdings(s, COMPLIANCE, "C9", actor=ACTOR) is not None
        assert service.view_holdings(s, MANAGER, "C3", actor=ACTOR) is not None


def test_a_customer_without_positions_has_empty_holdings(bank: Bank) -> None:
    with session_scope(bank.factory) as s:
        h = service.view_holdings(s, RM2, "C2", actor=ACTOR)
        assert h is not None and [c.category for c in h.categories] == ["deposit_current"]
        h3 = service.holdings_of(s, "C3")
        assert h3 is not None and (h3.categories, h3.total_assets) == ([], Decimal("0.00"))
