"""Every default rule (SPEC 5.3/5.4) on hand-made customers just inside and just outside its trigger.

A customer named ``<rule>:in:<case>`` must be hit by that rule and ``<rule>:out:<case>`` must
not (a customer may hit other rules too; only its own rule is checked). Each answer is worked
out from the SPEC text in the comment beside the customer. The main bank runs at
as_of = 2026-10-31, so:

    as_of − 29 = 2026-10-02 (first day of "[as_of − 29, as_of]")   as_of − 30 = 2026-10-01
    as_of − 90 = 2026-08-02; the 30 days ending there start 2026-07-04 (as_of − 119)
    as_of − 180 = 2026-05-04 and as_of − 181 = 2026-05-03           as_of − 365 = 2025-10-31
    complete months = July, August and September 2026
"""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path

import pytest
from rule_bank import SHANGHAI, Bank, assert_rule, rule_hits
from sqlalchemy import Engine

from bankcrm.analytics import engines
from bankcrm.config import Settings
from bankcrm.customers.identity import id_check_char
from bankcrm.ingest.service import ingest_bundle
from bankcrm.tasks.defaults import DEFAULT_RULE_IDS

AS_OF = date(2026, 10, 31)
OLD = date(2026, 1, 1)  # balance rows dated here hold through every window below


def _birthday(b: Bank) -> None:
    # as_of < birthday ≤ as_of + 7
    b.customer("birthday:in:plus_1", birth=date(1980, 11, 1))
    b.customer("birthday:in:plus_7", birth=date(1980, 11, 7))
    b.customer("birthday:out:plus_8", birth=date(1980, 11, 8))
    b.customer("birthday:out:today", birth=date(1980, 10, 31))  # not after as_of
    b.customer("birthday:out:yesterday", birth=date(1980, 10, 30))


def _maturity(b: Bank) -> None:
    # an open deposit_time or wealth account with as_of < maturity_on ≤ as_of + 15
    c = b.customer("maturity:in:deposit_time_plus_15")
    b.account(c, "deposit_time", maturity=b.ahead(15), balance=10_000)
    c = b.customer("maturity:in:wealth_plus_1")
    b.account(c, "wealth", maturity=b.ahead(1), balance=10_000)
    c = b.customer("maturity:out:plus_16")
    b.account(c, "deposit_time", maturity=b.ahead(16), balance=10_000)
    c = b.customer("maturity:out:matures_today")
    b.account(c, "deposit_time", maturity=AS_OF, balance=10_000)
    c = b.customer("maturity:out:closed_on_as_of")  # open means closed_on later than as_of
    b.account(c, "deposit_time", maturity=b.ahead(5), closed=AS_OF, balance=10_000)
    c = b.customer("maturity:in:closed_tomorrow")
    b.account(c, "deposit_time", maturity=b.ahead(5), closed=b.ahead(1), balance=10_000)
    c = b.customer("maturity:out:opened_after_as_of")
    b.account(c, "deposit_time", opened=b.ahead(1), maturity=b.ahead(10), balance=10_000)
    c = b.customer("maturity:out:fund_not_deposit_or_wealth")
    b.account(c, "fund", maturity=b.ahead(5), balance=10_000)
    c = b.customer("maturity:out:bond_not_deposit_or_wealth")
    b.account(c, "bond", maturity=b.ahead(5), balance=10_000)


def _repayment_due(b: Bank) -> None:
    # an open loan or card account with as_of < next_due_on ≤ as_of + 3
    c = b.customer("repayment_due:in:consumer_loan_plus_3")
    b.account(c, "loan_consumer", next_due=b.ahead(3), days_past_due=0, balance=10_000)
    c = b.customer("repayment_due:in:card_plus_1")
    b.account(c, "credit_card", next_due=b.ahead(1), days_past_due=0)
    c = b.customer("repayment_due:in:business_loan_plus_2")
    b.account(c, "loan_business", next_due=b.ahead(2))
    c = b.customer("repayment_due:out:mortgage_plus_4")
    b.account(c, "loan_mortgage", next_due=b.ahead(4))
    c = b.customer("repayment_due:out:due_today")
    b.account(c, "loan_consumer", next_due=AS_OF)
    c = b.customer("repayment_due:out:closed_loan")
    b.account(c, "loan_consumer", next_due=b.ahead(2), closed=b.ago(3))
    c = b.customer("repayment_due:out:not_a_loan")
    b.account(c, "deposit_current", next_due=b.ahead(2))
    c = b.customer("repayment_due:out:opened_after_as_of")
    b.account(c, "credit_card", opened=b.ahead(1), next_due=b.ahead(2))


def _overdue(b: Bank) -> None:
    # an open loan or card account with days_past_due > 0
    c = b.customer("overdue:in:loan_1_day")
    b.account(c, "loan_consumer", days_past_due=1)
    c = b.customer("overdue:in:card_among_others")
    b.account(c, "loan_mortgage", days_past_due=0)
    b.account(c, "credit_card", days_past_due=38)
    c = b.customer("overdue:out:zero")
    b.account(c, "loan_mortgage", days_past_due=0)
    c = b.customer("overdue:out:missing")
    b.account(c, "loan_consumer")
    c = b.customer("overdue:out:closed_card")
    b.account(c, "credit_card", closed=b.ago(10), days_past_due=30)
    c = b.customer("overdue:out:opened_after_as_of")
    b.account(c, "loan_business", opened=b.ahead(1), days_past_due=3)


def _large_outflow(b: Bank) -> None:
    """transfer_out dated as_of, summed per counterparty unseen in [as_of − 180, as_of − 1], ≥ ¥500,000."""

    def payer(name: str) -> str:
        c = b.customer(f"large_outflow:{name}")
        return b.account(c, "deposit_current", balance=2_000_000)

    a = payer("in:exactly_500000")
    b.tx(a, AS_OF, "-500000.00", "transfer_out", counterparty="P1")
    a = payer("out:499999.99")
    b.tx(a, AS_OF, "-499999.99", "transfer_out", counterparty="P1")
    a = payer("in:two_transfers_same_payee")
    b.tx(a, AS_OF, "-300000", "transfer_out", counterparty="P1")
    b.tx(a, AS_OF, "-200000", "transfer_out", channel="online", counterparty="P1")
    a = payer("out:two_payees_each_below")
    b.tx(a, AS_OF, "-300000", "transfer_out", counterparty="P1")
    b.tx(a, AS_OF, "-200000", "transfer_out", counterparty="P2")
    a = payer("out:dated_yesterday")
    b.tx(a, b.ago(1), "-800000", "transfer_out", counterparty="P1")
    a = payer("out:dated_after_as_of")
    b.tx(a, b.ahead(1), "-800000", "transfer_out", counterparty="P1")
    a = payer("out:not_a_transfer_out")
    b.tx(a, AS_OF, "-800000", "investment", counterparty="P1")
    # the counterparty history: any transaction with the payee in [as_of − 180, as_of − 1]
    a = payer("out:paid_180_days_before")
    b.tx(a, b.ago(180), "-100", "transfer_out", counterparty="P1")
    b.tx(a, AS_OF, "-800000", "transfer_out", counterparty="P1")
    a = payer("in:paid_181_days_before")
    b.tx(a, b.ago(181), "-100", "transfer_out", counterparty="P1")
    b.tx(a, AS_OF, "-800000", "transfer_out", counterparty="P1")
    a = payer("out:received_from_payee")  # a transfer_in from the payee is a transaction with it
    b.tx(a, b.ago(100), "1000", "transfer_in", counterparty="P1")
    b.tx(a, AS_OF, "-800000", "transfer_out", counterparty="P1")
    a = payer("out:history_on_another_account")
    card = b.account(a.split("/")[0], "credit_card")
    b.tx(card, b.ago(50), "-20", "purchase", channel="pos", counterparty="P1")
    b.tx(a, AS_OF, "-800000", "transfer_out", counterparty="P1")
    a = payer("in:first_contact_is_today")  # a transfer_in dated as_of is not history
    b.tx(a, AS_OF, "10", "transfer_in", counterparty="P1")
    b.tx(a, AS_OF, "-800000", "transfer_out", counterparty="P1")
    a = payer("in:payee_known_to_someone_else")
    b.tx(a, AS_OF, "-800000", "transfer_out", counterparty="P9")
    a = payer("out:the_someone_else")
    b.tx(a, b.ago(30), "-50", "transfer_out", counterparty="P9")
    a = payer("in:new_and_known_payees")  # the known payee's sum is left out, the new one counts
    b.tx(a, b.ago(10), "-1", "transfer_out", counterparty="P1")
    b.tx(a, AS_OF, "-900000", "transfer_out", counterparty="P1")
    b.tx(a, AS_OF, "-500000", "transfer_out", counterparty="P3")
    # transaction dates are Shanghai dates: 16:30 UTC on 30 October is 00:30 on 31 October
    a = payer("in:utc_evening_before_is_as_of")
    b.tx(a, datetime.fromisoformat("2026-10-30T16:30:00+00:00"), "-600000", "transfer_out", counterparty="P1")
    a = payer("out:utc_evening_of_as_of_is_next_day")
    b.tx(a, datetime.fromisoformat("2026-10-31T16:30:00+00:00"), "-600000", "transfer_out", counterparty="P1")


def _risky_concentration(b: Bank) -> None:
    """The last 3 investment transactions (by ts, up to as_of) all R4/R5, the latest within 30 days."""

    def investor(name: str) -> tuple[str, str, str, str]:
        c = b.customer(f"risky_concentration:{name}")
        return (
            b.account(c, "fund_r5", balance=10_000),
            b.account(c, "wealth_r4", balance=10_000),
            b.account(c, "fund", balance=10_000),  # R3
            c,
        )

    r5, r4, r3, _ = investor("in:latest_30_days_ago")
    for day, acc in ((80, r5), (45, r4), (30, r5)):
        b.tx(acc, b.ago(day), "10000", "investment")
    r5, r4, r3, _ = investor("out:latest_31_days_ago")
    for day, acc in ((81, r5), (46, r4), (31, r5)):
        b.tx(acc, b.ago(day), "10000", "investment")
    r5, r4, r3, _ = investor("out:only_two")
    b.tx(r5, b.ago(10), "10000", "investment")
    b.tx(r5, b.ago(5), "10000", "investment")
    r5, r4, r3, _ = investor("out:r3_second_of_last_three")
    for day, acc in ((100, r5), (40, r5), (20, r3), (5, r5)):
        b.tx(acc, b.ago(day), "10000", "investment")
    r5, r4, r3, _ = investor("in:old_r3_fourth")
    for day, acc in ((200, r3), (20, r4), (10, r5), (5, r5)):
        b.tx(acc, b.ago(day), "10000", "investment")
    r5, r4, r3, _ = investor("out:old_r5_fourth_does_not_help")
    for day, acc in ((200, r5), (20, r3), (10, r5), (5, r5)):
        b.tx(acc, b.ago(day), "10000", "investment")
    # by ts, not by date or tx_id: on as_of the R3 at 09:00 is later than the R5 at 08:00
    r5, r4, r3, _ = investor("out:same_day_r3_later")
    b.tx(r5, b.ago(20), "10000", "investment", tx_id="RC-out-1")
    b.tx(r5, datetime(2026, 10, 31, 8, 0, tzinfo=SHANGHAI), "10000", "investment", tx_id="RC-out-9")
    b.tx(r3, datetime(2026, 10, 31, 9, 0, tzinfo=SHANGHAI), "10000", "investment", tx_id="RC-out-2")
    b.tx(r4, b.ago(10), "10000", "investment", tx_id="RC-out-3")
    r5, r4, r3, _ = investor("in:same_day_r3_earlier")  # the R3 at 08:00 is the fourth
    b.tx(r3, datetime(2026, 10, 1, 8, 0, tzinfo=SHANGHAI), "10000", "investment", tx_id="RC-in-9")
    b.tx(r5, datetime(2026, 10, 1, 9, 0, tzinfo=SHANGHAI), "10000", "investment", tx_id="RC-in-1")
    b.tx(r4, b.ago(10), "10000", "investment", tx_id="RC-in-2")
    b.tx(r5, b.ago(5), "10000", "investment", tx_id="RC-in-3")
    r5, r4, r3, _ = investor("in:r3_after_as_of_ignored")
    for day, acc in ((30, r5), (20, r5), (10, r4)):
        b.tx(acc, b.ago(day), "10000", "investment")
    b.tx(r3, b.ahead(1), "10000", "investment")
    r5, r4, r3, _ = investor("in:tie_between_two_high_risk")  # either order gives three R4/R5
    b.tx(r4, datetime(2026, 10, 20, 10, 0, tzinfo=SHANGHAI), "10000", "investment")
    b.tx(r5, datetime(2026, 10, 20, 10, 0, tzinfo=SHANGHAI), "10000", "investment")
    b.tx(r5, b.ago(5), "10000", "investment")
    b.tx(r3, b.ago(90), "10000", "investment")
    r5, r4, r3, c = investor("out:r3_on_a_closed_account")
    closed = b.account(c, "fund", closed=b.ago(1))
    b.tx(r5, b.ago(40), "10000", "investment")
    b.tx(r5, b.ago(20), "10000", "investment")
    b.tx(closed, b.ago(5), "10000", "investment")
    r5, r4, r3, _ = investor("in:redemption_is_not_an_investment")
    for day, acc in ((60, r5), (40, r4), (20, r5)):
        b.tx(acc, b.ago(day), "10000", "investment")
    b.tx(r3, b.ago(1), "-5000", "redemption")
    # 16:30 UTC on 31 October is 1 November in Shanghai: after as_of, so not among the last three
    r5, r4, r3, _ = investor("in:r3_late_utc_is_after_as_of")
    for day, acc in ((60, r5), (40, r4), (20, r5)):
        b.tx(acc, b.ago(day), "10000", "investment")
    b.tx(r3, datetime.fromisoformat("2026-10-31T16:30:00+00:00"), "10000", "investment")
    r5, r4, r3, _ = investor("out:r3_early_utc_is_as_of")
    for day, acc in ((60, r5), (40, r4), (20, r5)):
        b.tx(acc, b.ago(day), "10000", "investment")
    b.tx(r3, datetime.fromisoformat("2026-10-30T16:30:00+00:00"), "10000", "investment")


def _risky_ties(b: Bank) -> None:
    """SPEC orders by ts only; on an exact tie the larger tx_id counts as the later one, so reruns agree."""
    tied = datetime(2026, 10, 10, 10, 0, tzinfo=SHANGHAI)
    for name, r3_id in (("in:r3_tie_loses_on_tx_id", "T-a"), ("out:r3_tie_wins_on_tx_id", "T-z")):
        c = b.customer(f"risky_concentration:{name}")
        r5 = b.account(c, "fund_r5", balance=1000)
        r3 = b.account(c, "fund", balance=1000)
        b.tx(r3, tied, "1000", "investment", tx_id=f"{c}-{r3_id}")
        b.tx(r5, tied, "1000", "investment", tx_id=f"{c}-T-m")
        b.tx(r5, b.ago(5), "1000", "investment", tx_id=f"{c}-T-0")
        b.tx(r5, b.ago(3), "1000", "investment", tx_id=f"{c}-T-1")


def _assessment_expiry(b: Bank) -> None:
    """An open wealth, fund, precious_metal or bond account, and risk_assessed_on missing or < as_of − 365."""
    c = b.customer("assessment_expiry:in:fund_assessed_366_days_ago", assessed=b.ago(366))
    b.account(c, "fund", balance=5000)
    c = b.customer("assessment_expiry:out:fund_assessed_365_days_ago", assessed=b.ago(365))
    b.account(c, "fund", balance=5000)
    c = b.customer("assessment_expiry:in:bond_never_assessed", assessed=None)
    b.account(c, "bond", balance=5000)
    c = b.customer("assessment_expiry:in:wealth_never_assessed", assessed=None)
    b.account(c, "wealth")
    c = b.customer("assessment_expiry:in:precious_metal_old", assessed=b.ago(400))
    b.account(c, "precious_metal", balance=5000)
    c = b.customer("assessment_expiry:out:deposits_only", assessed=None)
    b.account(c, "deposit_time", balance=5000)
    c = b.customer("assessment_expiry:out:insurance_is_not_listed", assessed=None)
    b.account(c, "insurance", balance=5000)
    c = b.customer("assessment_expiry:out:fund_closed_on_as_of", assessed=None)
    b.account(c, "fund", closed=AS_OF, balance=5000)
    c = b.customer("assessment_expiry:out:fund_opened_after_as_of", assessed=None)
    b.account(c, "fund", opened=b.ahead(1))


def _nav_move(b: Bank) -> None:
    """An open fund with bal(as_of)/bal(as_of − 30) − 1 ≥ +0.15 or ≤ −0.10, no investment/redemption
    on it in [as_of − 30, as_of], and bal(as_of − 30) ≥ ¥1,000."""

    def fund(name: str, base: str, now: str, product: str = "fund") -> str:
        c = b.customer(f"nav_move:{name}")
        acc = b.account(c, product, balance=base)
        b.balance(acc, b.ago(5), now)
        return acc

    fund("in:up_15_percent", "1000.00", "1150.00")
    fund("out:up_just_below_15_percent", "1000.00", "1149.99")
    fund("in:down_10_percent", "1000.00", "900.00")
    fund("out:down_just_above_10_percent", "1000.00", "900.01")
    fund("out:base_999.99", "999.99", "1500.00")
    fund("in:base_exactly_1000", "1000.00", "5000.00")
    fund("out:wealth_not_fund", "1000.00", "2000.00", product="wealth")
    # bal(a, as_of − 30) is the row dated as_of − 30, not the one before it or after it
    acc = fund("in:base_row_on_the_base_day", "1100.00", "1150.00")
    b.balance(acc, b.ago(30), "1000.00")
    b.balance(acc, b.ago(29), "1120.00")
    acc = fund("out:investment_on_the_base_day", "1000.00", "2000.00")
    b.tx(acc, b.ago(30), "500", "investment")
    acc = fund("in:investment_the_day_before", "1000.00", "2000.00")
    b.tx(acc, b.ago(31), "500", "investment")
    acc = fund("out:redemption_on_as_of", "1000.00", "2000.00")
    b.tx(acc, AS_OF, "-500", "redemption")
    acc = fund("in:investment_after_as_of", "1000.00", "2000.00")
    b.tx(acc, b.ahead(1), "500", "investment")
    acc = fund("in:investment_on_another_account", "1000.00", "2000.00")
    other = b.account(acc.split("/")[0], "deposit_current", balance=50_000)
    b.tx(other, b.ago(3), "-500", "investment")
    c = b.customer("nav_move:out:closed_on_as_of")
    acc = b.account(c, "fund", closed=AS_OF, balance="1000.00")
    b.balance(acc, b.ago(5), "2000.00")
    c = b.customer("nav_move:out:opened_inside_the_period")
    acc = b.account(c, "fund", opened=b.ago(20), balance="5000.00")
    b.balance(acc, b.ago(5), "9000.00")
    acc = fund("in:other_fund_moved", "1000.00", "2000.00")  # this one moved with a flow …
    b.tx(acc, b.ago(10), "500", "investment")
    other = b.account(acc.split("/")[0], "fund", balance="2000.00")  # … this one fell 10% without
    b.balance(other, b.ago(2), "1800.00")
    acc = fund("out:moved_fund_had_a_flow", "1000.00", "2000.00")
    b.tx(acc, b.ago(10), "-100", "redemption")
    other = b.account(acc.split("/")[0], "fund", balance="2000.00")
    b.balance(other, b.ago(2), "2100.00")


def _attrition_risk(b: Bank) -> None:
    """aum_avg_30d ≤ 0.5 × aum_avg_30d at as_of − 90 (base ≥ ¥10,000), or vip at the previous run and not now."""

    def saver(name: str, base: str, now: str, product: str = "deposit_current") -> str:
        c = b.customer(f"attrition_risk:{name}")
        acc = b.account(c, product, balance=base)
        b.balance(acc, b.ago(89), now)  # the whole 30 days ending as_of − 90 hold ``base``
        return c

    saver("in:halved", "100000.00", "50000.00")
    saver("out:just_over_half", "100000.00", "50000.01")
    saver("in:base_exactly_10000", "10000.00", "5000.00")
    saver("out:base_below_10000", "9999.99", "0.00")
    saver("out:liability_fell", "100000.00", "0.00", product="loan_consumer")
    # the 30-day window at as_of − 90 is [as_of − 119, as_of − 90]
    c = b.customer("attrition_risk:in:one_day_in_base_window")
    acc = b.account(c, "deposit_current", opened=b.ago(90), balance="300000.00")  # 300,000 / 30 = 10,000
    b.balance(acc, b.ago(89), "0.00")
    c = b.customer("attrition_risk:out:one_day_before_base_window")
    acc = b.account(c, "deposit_current", opened=b.ago(120), balance="300000.00")
    b.balance(acc, b.ago(119), "0.00")
    c = b.customer("attrition_risk:in:deposit_closed")  # bal is 0 from closed_on onwards
    b.account(c, "deposit_time", opened=OLD, closed=b.ago(60), balance="100000.00")
    # the tier part (the published tier, after hysteresis; the customers hold nothing now)
    c = b.customer("attrition_risk:in:left_vip")  # third month-end run below vip: the tier drops now
    b.earlier_run(c, date(2026, 8, 31), "ordinary", "vip")
    b.earlier_run(c, date(2026, 9, 30), "ordinary", "vip")
    c = b.customer("attrition_risk:out:still_vip_by_hysteresis")
    b.earlier_run(c, date(2026, 9, 30), "ordinary", "vip")
    c = b.customer("attrition_risk:out:vip_only_two_runs_ago")
    b.earlier_run(c, date(2026, 8, 31), "vip", "vip")
    b.earlier_run(c, date(2026, 9, 30), "ordinary", "ordinary")
    c = b.customer("attrition_risk:out:was_potential")
    b.earlier_run(c, date(2026, 9, 30), "potential", "potential")


def _dormancy(b: Bank) -> None:
    """Onboarded over 180 days ago, and recency_days ≥ 180 or no customer-initiated transaction at all."""
    b.customer("dormancy:in:onboarded_181_days_ago", onboard=b.ago(181))
    b.customer("dormancy:out:onboarded_180_days_ago", onboard=b.ago(180))

    def spender(name: str, day: date, category: str = "purchase", channel: str = "pos") -> None:
        c = b.customer(f"dormancy:{name}")
        acc = b.account(c, "deposit_current", balance=1000)
        b.tx(acc, day, "-10", category, channel=channel)

    spender("in:last_purchase_180_days_ago", b.ago(180))
    spender("out:last_purchase_179_days_ago", b.ago(179))
    spender("in:only_interest", b.ago(2), category="interest", channel="auto")
    spender("in:only_fees", b.ago(2), category="fee", channel="mobile")
    spender("in:only_automatic_payroll", b.ago(2), category="payroll", channel="auto")
    spender("in:purchase_after_as_of", b.ahead(1))


def _need_mortgage(b: Bank) -> None:
    """≥ 3 view_mortgage_rate events in [as_of − 29, as_of] and deposit balances at as_of ≥ ¥200,000."""

    def viewer(name: str, days: list[int], deposits: dict[str, str], event: str = "view_mortgage_rate") -> str:
        c = b.customer(f"need_mortgage:{name}")
        for product, amount in deposits.items():
            b.account(c, product, balance=amount)
        for d in days:
            b.event(c, b.ago(d), event)
        return c

    both = {"deposit_current": "150000.00", "deposit_time": "50000.00"}
    viewer("in:three_views_200000", [29, 10, 0], both)
    viewer("in:four_views", [20, 15, 10, 5], {"deposit_current": "300000"})
    viewer("out:a_view_30_days_ago", [30, 10, 0], both)
    viewer("out:deposits_199999.99", [29, 10, 0], {"deposit_current": "199999.99"})
    viewer("out:wealth_is_not_a_deposit", [29, 10, 0], {"deposit_current": "150000.00", "wealth": "50000.00"})
    viewer("out:other_events", [3, 2, 1], both, event="view_fund")
    c = viewer("out:a_view_after_as_of", [5, 4], both)
    b.event(c, b.ahead(1), "view_mortgage_rate")
    c = viewer("out:deposit_closed_on_as_of", [5, 4, 3], {"deposit_current": "10000"})
    b.account(c, "deposit_time", closed=AS_OF, balance="300000")
    # 16:00 UTC on 1 October is 00:00 on 2 October in Shanghai: inside the window
    c = viewer("in:first_view_at_local_midnight", [10, 5], both)
    b.event(c, datetime.fromisoformat("2026-10-01T16:00:00+00:00"), "view_mortgage_rate")
    c = viewer("out:first_view_one_minute_earlier", [10, 5], both)
    b.event(c, datetime.fromisoformat("2026-10-01T15:59:00+00:00"), "view_mortgage_rate")


def _monthly(b: Bank, rule: str, name: str, days: list[date], category: str, amount: str, **kw: str) -> str:
    c = b.customer(f"{rule}:{name}")
    acc = b.account(c, "deposit_current", balance=1000)
    for d in days:
        b.tx(acc, d, amount, category, **kw)
    return c


def _need_education(b: Bank) -> None:
    """A purchase with merchant_group baby in each of the 3 complete months (Jul, Aug, Sep 2026)."""

    def baby(name: str, days: list[date]) -> str:
        return _monthly(b, "need_education", name, days, "purchase", "-88", merchant_group="baby", channel="pos")

    baby("in:first_and_last_days", [date(2026, 7, 1), date(2026, 8, 15), date(2026, 9, 30)])
    baby("out:month_of_as_of_is_not_complete", [date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 5)])
    baby("out:june_is_too_early", [date(2026, 6, 30), date(2026, 8, 1), date(2026, 9, 1)])
    baby("out:two_in_august", [date(2026, 8, 1), date(2026, 8, 31), date(2026, 9, 10)])
    baby("out:september_not_baby", [date(2026, 7, 1), date(2026, 8, 1)])
    b.tx(b.last_account, date(2026, 9, 1), "-88", "purchase", merchant_group="travel")
    baby("out:september_not_a_purchase", [date(2026, 7, 1), date(2026, 8, 1)])
    b.tx(b.last_account, date(2026, 9, 1), "-88", "transfer_out", merchant_group="baby")
    # 16:30 UTC on 30 June is 1 July in Shanghai
    baby("in:utc_june_is_local_july", [date(2026, 8, 1), date(2026, 9, 1)])
    late_june_utc = datetime.fromisoformat("2026-06-30T16:30:00+00:00")
    b.tx(b.last_account, late_june_utc, "-88", "purchase", merchant_group="baby")


def _need_salary_plan(b: Bank) -> None:
    """A positive payroll in each of the 3 complete months and no open fund account."""
    months = [date(2026, 7, 10), date(2026, 8, 10), date(2026, 9, 10)]

    def payroll(name: str, days: list[date] = months, amount: str = "8000") -> str:
        return _monthly(b, "need_salary_plan", name, days, "payroll", amount, channel="auto")

    payroll("in:three_months")
    c = payroll("out:holds_a_fund")
    b.account(c, "fund", balance=1000)
    c = payroll("in:fund_closed_on_as_of")
    b.account(c, "fund", closed=AS_OF, balance=1000)
    c = payroll("in:fund_opened_after_as_of")
    b.account(c, "fund", opened=b.ahead(1))
    payroll("out:october_instead_of_july", [date(2026, 8, 10), date(2026, 9, 10), date(2026, 10, 10)])
    payroll("out:september_reversed", months[:2])
    b.tx(b.last_account, date(2026, 9, 10), "-8000", "payroll", channel="auto")


def _need_reinvest(b: Bank) -> None:
    """An open deposit_time account with as_of < maturity_on ≤ as_of + 15 and bal(a, as_of) ≥ ¥50,000."""

    def deposit(
        name: str, maturity: date, amount: str, product: str = "deposit_time", closed: date | None = None
    ) -> str:
        c = b.customer(f"need_reinvest:{name}")
        b.account(c, product, maturity=maturity, balance=amount, closed=closed)
        return c

    deposit("in:50000_at_plus_15", b.ahead(15), "50000.00")
    deposit("in:plus_1", b.ahead(1), "1000000")
    deposit("out:49999.99", b.ahead(15), "49999.99")
    deposit("out:plus_16", b.ahead(16), "80000")
    deposit("out:matures_today", AS_OF, "80000")
    deposit("out:wealth_not_deposit_time", b.ahead(5), "80000", product="wealth")
    deposit("out:closed_on_as_of", b.ahead(5), "80000", closed=AS_OF)
    c = deposit("out:two_accounts_not_summed", b.ahead(3), "30000")
    b.account(c, "deposit_time", maturity=b.ahead(4), balance="30000")
    deposit("out:balance_rises_after_as_of", b.ahead(5), "10000")
    b.balance(b.last_account, b.ahead(1), "60000")


def _need_retirement(b: Bank) -> None:
    """Age 50–60 (whole years at as_of) and no open insurance account."""
    b.customer("need_retirement:in:age_50_today", birth=date(1976, 10, 31))
    b.customer("need_retirement:out:age_49_until_tomorrow", birth=date(1976, 11, 1))
    b.customer("need_retirement:in:age_60_until_tomorrow", birth=date(1965, 11, 1))
    b.customer("need_retirement:out:age_61_today", birth=date(1965, 10, 31))
    c = b.customer("need_retirement:out:age_55_insured", birth=date(1971, 6, 1))
    b.account(c, "insurance", balance=10_000)
    c = b.customer("need_retirement:in:age_55_insurance_closed", birth=date(1971, 6, 1))
    b.account(c, "insurance", closed=AS_OF, balance=10_000)
    c = b.customer("need_retirement:in:age_55_insurance_opened_after_as_of", birth=date(1971, 6, 1))
    b.account(c, "insurance", opened=b.ahead(1))


def _need_private_corporate(b: Bank) -> None:
    """Occupation executive and an open loan_business account."""
    c = b.customer("need_private_corporate:in:executive_with_business_loan", occupation="executive")
    b.account(c, "loan_business", balance=100_000)
    c = b.customer("need_private_corporate:out:business_loan_closed", occupation="executive")
    b.account(c, "loan_business", closed=b.ago(1), balance=100_000)
    c = b.customer("need_private_corporate:out:consumer_loan", occupation="executive")
    b.account(c, "loan_consumer", balance=100_000)
    c = b.customer("need_private_corporate:out:not_an_executive", occupation="private_business")
    b.account(c, "loan_business", balance=100_000)
    c = b.customer("need_private_corporate:out:opened_after_as_of", occupation="executive")
    b.account(c, "loan_business", opened=b.ahead(1))


def _festival_outside(b: Bank) -> None:
    # no configured festival in (2026-10-31, 2026-11-03]; the days around festivals are tested below
    b.customer("festival:out:no_festival_near")


PLANTERS = (
    _birthday,
    _festival_outside,
    _maturity,
    _repayment_due,
    _overdue,
    _large_outflow,
    _risky_concentration,
    _risky_ties,
    _assessment_expiry,
    _nav_move,
    _attrition_risk,
    _dormancy,
    _need_mortgage,
    _need_education,
    _need_salary_plan,
    _need_reinvest,
    _need_retirement,
    _need_private_corporate,
)


@pytest.fixture(scope="module")
def bank() -> tuple[Bank, dict[str, set[str]]]:
    b = Bank(AS_OF)
    for plant in PLANTERS:
        plant(b)
    return b, b.hits()


def test_every_default_rule_has_cases_here() -> None:
    covered = {p.__name__.strip("_").removesuffix("_outside") for p in PLANTERS} - {"risky_ties"}
    assert covered == set(DEFAULT_RULE_IDS)


@pytest.mark.parametrize("rule_id", [r for r in DEFAULT_RULE_IDS if r != "festival"])
def test_rule_hits_exactly_the_customers_inside_its_trigger(
    bank: tuple[Bank, dict[str, set[str]]], rule_id: str
) -> None:
    b, hits = bank
    assert_rule(hits, b.ids, rule_id)


def _single_run(as_of: date, *customers: tuple[str, date]) -> tuple[Bank, dict[str, set[str]]]:
    b = Bank(as_of)
    for name, birth in customers:
        b.customer(name, birth=birth)
    return b, b.hits()


@pytest.mark.parametrize(
    ("as_of", "hit"),
    [
        (date(2026, 9, 22), True),  # Mid-Autumn 2026-09-25 is as_of + 3
        (date(2026, 9, 21), False),  # as_of + 4
        (date(2026, 9, 25), False),  # the festival itself is not "within the next 3 days"
    ],
)
def test_festival_within_the_next_three_days_greets_everyone(as_of: date, hit: bool) -> None:
    b, hits = _single_run(as_of, ("someone", date(1980, 5, 5)), ("someone_else", date(1960, 12, 5)))
    assert hits["festival"] == (set(b.ids) if hit else set())


def test_birthdays_across_the_year_end() -> None:
    b, hits = _single_run(
        date(2026, 12, 28),
        ("birthday:in:4_january_is_plus_7", date(1990, 1, 4)),
        ("birthday:out:5_january_is_plus_8", date(1990, 1, 5)),
        ("birthday:in:31_december_is_plus_3", date(1990, 12, 31)),
    )
    assert_rule(hits, b.ids, "birthday")


# A 29 February birthday falls on 1 March in other years, as ``age`` counts whole years.
def test_29_february_birthday_a_week_ahead_in_a_common_year() -> None:
    b, hits = _single_run(
        date(2027, 2, 21),
        ("birthday:out:29_february_is_1_march_plus_8", date(2000, 2, 29)),
        ("birthday:in:28_february_is_plus_7", date(1990, 2, 28)),
    )
    assert_rule(hits, b.ids, "birthday")


def test_29_february_birthday_in_a_leap_year() -> None:
    b, hits = _single_run(
        date(2028, 2, 22),
        ("birthday:in:29_february_is_plus_7", date(2000, 2, 29)),
        ("birthday:out:1_march_is_plus_8", date(1990, 3, 1)),
    )
    assert_rule(hits, b.ids, "birthday")


def test_29_february_birthday_on_the_28th_and_complete_months_across_the_year_end() -> None:
    # as_of 2027-02-28: the complete months are November 2026, December 2026 and January 2027
    b = Bank(date(2027, 2, 28))
    b.customer("birthday:in:29_february_is_1_march_plus_1", birth=date(2000, 2, 29))
    b.customer("birthday:out:28_february_is_today", birth=date(1990, 2, 28))
    b.customer("birthday:in:7_march_is_plus_7", birth=date(1990, 3, 7))
    b.customer("birthday:out:8_march_is_plus_8", birth=date(1990, 3, 8))
    months = [date(2026, 11, 1), date(2026, 12, 31), date(2027, 1, 31)]
    for name, days in (
        ("in:november_to_january", months),
        ("out:february_is_not_complete", [*months[1:], date(2027, 2, 1)]),
        ("out:october_is_too_early", [date(2026, 10, 31), *months[1:]]),
    ):
        _monthly(b, "need_salary_plan", name, days, "payroll", "9000", channel="auto")
    for name, days in (
        ("in:november_to_january", months),
        ("out:december_missing", [months[0], months[2], date(2027, 2, 28)]),
    ):
        _monthly(b, "need_education", name, days, "purchase", "-50", merchant_group="baby")
    hits = b.hits()
    for rule_id in ("birthday", "need_salary_plan", "need_education"):
        assert_rule(hits, b.ids, rule_id)


# --- through ingest: the bundle's timestamps become Shanghai dates on the way into the lake ---


def _write_csv(folder: Path, name: str, rows: list[dict[str, str]]) -> None:
    fields = list(dict.fromkeys(k for row in rows for k in row))
    with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _bundle_row(customer_id: str, n: int) -> dict[str, str]:
    first17 = f"31010119800101{n:03d}"
    return {
        "customer_id": customer_id,
        "name": "客户",
        "gender": "F",
        "birth_date": "1980-01-01",
        "id_number": first17 + id_check_char(first17),
        "phone": f"1380000{n:04d}",
        "onboard_date": "2020-01-01",
        "branch_id": "B1",
        "risk_assessed_on": "2026-06-01",
    }


def test_bundle_timestamps_are_dated_in_shanghai(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "bundle"
    folder.mkdir()
    cases = {
        "large_outflow:in:16:30Z_on_30_october": [
            ("transfer_out", "2026-10-30T16:30:00Z", "-600000.00", "CUR", "P1"),
        ],
        "large_outflow:out:16:30Z_on_31_october": [
            ("transfer_out", "2026-10-31T16:30:00Z", "-600000.00", "CUR", "P1"),
        ],
        "large_outflow:out:payee_seen_at_local_midnight_180_days_before": [
            ("transfer_in", "2026-05-03T16:00:00+00:00", "100.00", "CUR", "P1"),
            ("transfer_out", "2026-10-31T10:00:00+08:00", "-600000.00", "CUR", "P1"),
        ],
        "large_outflow:in:payee_seen_a_second_earlier": [
            ("transfer_in", "2026-05-03T15:59:59+00:00", "100.00", "CUR", "P1"),
            ("transfer_out", "2026-10-31T10:00:00+08:00", "-600000.00", "CUR", "P1"),
        ],
        "risky_concentration:in:r3_at_16:30Z_on_31_october_is_november": [
            ("investment", "2026-09-01T10:00:00+08:00", "1000.00", "R5", ""),
            ("investment", "2026-10-01T10:00:00+08:00", "1000.00", "R5", ""),
            ("investment", "2026-10-10T10:00:00+08:00", "1000.00", "R5", ""),
            ("investment", "2026-10-31T16:30:00Z", "1000.00", "R3", ""),
        ],
        "risky_concentration:out:r3_at_16:30Z_on_30_october_is_as_of": [
            ("investment", "2026-09-01T10:00:00+08:00", "1000.00", "R5", ""),
            ("investment", "2026-10-01T10:00:00+08:00", "1000.00", "R5", ""),
            ("investment", "2026-10-10T10:00:00+08:00", "1000.00", "R5", ""),
            ("investment", "2026-10-30T16:30:00Z", "1000.00", "R3", ""),
        ],
    }
    views = {
        "need_mortgage:in:view_at_16:00Z_on_1_october": "2026-10-01T16:00:00Z",
        "need_mortgage:out:view_at_15:59Z_on_1_october": "2026-10-01T15:59:00Z",
    }
    customers, accounts, balances, transactions, events = [], [], [], [], []
    for n, customer_id in enumerate([*cases, *views]):
        customers.append(_bundle_row(f"C{n:03d}", n))
        for product in ("CUR", "R5", "R3"):
            accounts.append(
                {"account_id": f"A{n:03d}{product}", "customer_id": f"C{n:03d}", "product_id": product,
                 "opened_on": "2020-01-01"}
            )  # fmt: skip
        balances.append({"account_id": f"A{n:03d}CUR", "date": "2026-01-01", "balance": "900000.00"})
        for k, (category, ts, amount, product, payee) in enumerate(cases.get(customer_id, [])):
            transactions.append(
                {"tx_id": f"T{n:03d}{k}", "account_id": f"A{n:03d}{product}", "ts": ts, "amount": amount,
                 "channel": "mobile", "category": category, "counterparty": payee}
            )  # fmt: skip
        if customer_id in views:
            for ts in (views[customer_id], "2026-10-15T12:00:00+08:00", "2026-10-31T23:59:00+08:00"):
                events.append({"customer_id": f"C{n:03d}", "ts": ts, "event": "view_mortgage_rate"})
    names = {f"C{n:03d}": name for n, name in enumerate([*cases, *views])}
    _write_csv(folder, "branches", [{"branch_id": "B1", "name": "总行"}])
    _write_csv(folder, "customers", customers)
    _write_csv(
        folder,
        "products",
        [
            {"product_id": "CUR", "name": "活期", "category": "deposit_current", "risk_level": ""},
            {"product_id": "R5", "name": "股票基金", "category": "fund", "risk_level": "R5"},
            {"product_id": "R3", "name": "债券基金", "category": "fund", "risk_level": "R3"},
        ],
    )
    _write_csv(folder, "accounts", accounts)
    _write_csv(folder, "balances", balances)
    _write_csv(folder, "transactions", transactions)
    _write_csv(folder, "behavior_events", events)
    report = ingest_bundle(settings, engine, folder)
    assert report.ok
    assert sum(f.rejected for f in report.files.values()) == 0

    con = engines.connect("duckdb", threads=1)
    try:
        lake = engines.read_lake(con, settings.lake_dir, AS_OF)
        history = engines.read_tier_history(con, [])
        hits = rule_hits(
            con,
            lake.customers,
            lake.accounts,
            lake.products,
            lake.balances,
            lake.transactions,
            lake.behavior_events,
            history,
            AS_OF,
        )
    finally:
        engines.disconnect(con)
    named = {rule: {names[c] for c in hit} for rule, hit in hits.items()}
    for rule_id in ("large_outflow", "risky_concentration", "need_mortgage"):
        assert_rule(named, list(names.values()), rule_id)
