"""A deterministic handful of customers built to trigger each event and needs-mining rule.

They take the first customer numbers of every bundle, so a test (or a demo) can find at
least a few hits of each rule at the generated as_of, whatever the random draws of the bulk.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import numpy as np
import pyarrow as pa

from bankcrm.synth.book import CATEGORY, CHANNEL, DAY, EVENT, MERCHANT, NULL_DAY, PRODUCT_INDEX, Book
from bankcrm.synth.people import OCC, People
from bankcrm.synth.population import Context

EPOCH = date(1970, 1, 1)


def _day(d: date) -> int:
    return (d - EPOCH).days


def _date(day: int) -> date:
    return EPOCH + timedelta(days=int(day))


class _Planter:
    """Helpers that add one customer's accounts and activity to the planted book."""

    def __init__(self, book: Book, people: People, ctx: Context, rng: np.random.Generator) -> None:
        self.book, self.p, self.ctx, self.rng = book, people, ctx, rng
        self.cp_seq = 0

    def account(self, i: int, product: str, opened: int, **kw: int) -> int:
        arrays: dict[str, np.ndarray] = {}
        for key in ("maturity", "closed", "next_due", "dpd"):
            if key in kw:
                arrays[key] = np.array([kw[key]], dtype=np.int32)
        if "amount_due" in kw:
            arrays["amount_due"] = np.array([kw["amount_due"]], dtype=np.int64)
        if "opening" in kw:
            arrays["opening"] = np.array([kw["opening"]], dtype=np.int64)
        return int(self.book.add_accounts(np.array([i]), PRODUCT_INDEX[product], np.array([opened]), **arrays)[0])

    def balance(self, acc: int, day: int, cents: int) -> None:
        self.book.add_balances(np.array([acc]), np.array([day]), np.array([cents]))

    def tx(
        self,
        acc: int,
        day: int,
        hour: float,
        cents: int,
        channel: str,
        category: str,
        merchant: str | None = None,
        counterparty: str | None = None,
    ) -> None:
        self.book.add_tx(
            np.array([acc]),
            np.array([day * DAY + int(hour * 3600)]),
            np.array([cents]),
            CHANNEL[channel],
            CATEGORY[category],
            MERCHANT[merchant] if merchant else -1,
            pa.array([counterparty], pa.string()),
        )

    def event(self, i: int, day: int, hour: float, event: str) -> None:
        self.book.add_events(np.array([i]), np.array([day * DAY + int(hour * 3600)]), EVENT[event])

    def new_counterparty(self) -> str:
        """A card number nobody in the bundle has dealt with before."""
        self.cp_seq += 1
        return f"6230{self.cp_seq:012d}"

    def current(self, i: int, cents: int, active: bool = True) -> int:
        """The customer's current account; everyday card spending twice a month when active."""
        acc = self.account(i, "PDC001", int(self.p.onboard[i]), opening=cents)
        self.account(i, "PSV001", int(self.p.onboard[i]))
        if active:
            for back in range(5, self.ctx.days, 15):
                self.tx(
                    acc, self.ctx.as_of - back, 12.5, -int(4000 + back * 7), "pos", "purchase", "grocery", "永辉超市"
                )
        return acc

    def fund(self, i: int, product: str, opened: int, cents: int) -> int:
        """A fund held from ``opened``, valued weekly from its product's NAV."""
        ctx = self.ctx
        acc = self.account(i, product, opened)
        start = max(opened, ctx.first_day - 1)
        prod = PRODUCT_INDEX[product]
        self.balance(acc, start, cents)
        base = ctx.nav_at(np.array([prod]), np.array([start]))[0]
        for d in range(start + 1, ctx.as_of + 1):
            if (d - 1) % 7 == 0:
                self.balance(acc, d, round(cents * ctx.nav_at(np.array([prod]), np.array([d]))[0] / base))
        if opened >= ctx.first_day:
            self.tx(acc, opened, 10.25, cents, "mobile", "investment")
        return acc


def _birthday_in(as_of: int, ahead: int, age: int) -> int:
    """A birth date whose anniversary falls ``ahead`` days after as_of."""
    target = _date(as_of + ahead)
    if (target.month, target.day) == (2, 29):
        target -= timedelta(days=1)
    return _day(target.replace(year=target.year - age))


PLANTED_PER_RULE = 2


def plant(book: Book, people: People, ctx: Context, rng: np.random.Generator) -> list[str]:
    """Shape ``people`` (overriding their drawn attributes) and fill ``book``; returns each customer's rule."""
    pl = _Planter(book, people, ctx, rng)
    as_of = ctx.as_of
    p = people
    rules: list[str] = []

    def setup(i: int, *, age: int | None = None, occupation: str | None = None, onboard_back: int = 1500) -> None:
        p.onboard[i] = as_of - onboard_back
        if age is not None:
            p.age[i] = age
            p.birth[i] = _birthday_in(as_of, 100, age)
        if occupation:
            p.occupation[i] = OCC[occupation]
        p.risk[i] = 3
        p.assessed[i] = as_of - 100

    def birthday(i: int, k: int) -> None:
        setup(i, age=35 + 10 * k)
        p.birth[i] = _birthday_in(as_of, 3 + 4 * k, int(p.age[i]))
        pl.current(i, 2_500_000)

    def maturity(i: int, k: int) -> None:
        setup(i, age=45)
        pl.current(i, 3_000_000)
        product, term, cents = (("PDT365", 365, 12_000_000), ("PWM180", 180, 30_000_000))[k]
        mat = as_of + (6 if k == 0 else 15)
        acc = pl.account(i, product, mat - term, maturity=mat)
        pl.balance(acc, max(mat - term, ctx.first_day - 1), cents)
        if mat - term >= ctx.first_day:
            pl.tx(acc, mat - term, 10, cents, "counter", "transfer_in" if k == 0 else "investment")

    def repayment_due(i: int, k: int) -> None:
        setup(i, age=33)
        cur = pl.current(i, 1_500_000)
        if k == 0:
            acc = pl.account(
                i, "PLC001", as_of - 400, maturity=as_of + 700, next_due=as_of + 2, amount_due=520_000, dpd=0
            )
            owed = 15_000_000
            pl.balance(acc, ctx.first_day - 1, owed)
            for back in range(28 + 30 * ((ctx.days - 29) // 30), 27, -30):
                owed -= 480_000
                pl.tx(acc, as_of - back, 6, 520_000, "auto", "repayment")
                pl.tx(cur, as_of - back, 6, -520_000, "auto", "repayment")
                pl.balance(acc, as_of - back, owed)
        else:
            acc = pl.account(i, "PCC001", as_of - 700, next_due=as_of + 3, amount_due=860_000, dpd=0, opening=860_000)

    def overdue(i: int, k: int) -> None:
        setup(i, age=41)
        pl.current(i, 80_000)
        if k == 0:
            acc = pl.account(
                i, "PLM001", as_of - 2000, maturity=as_of + 7000, next_due=as_of + 9, amount_due=1_250_000, dpd=38
            )
            pl.balance(acc, ctx.first_day - 1, 98_000_000)
        else:
            pl.account(i, "PCC002", as_of - 900, next_due=as_of + 12, amount_due=2_300_000, dpd=12, opening=2_300_000)

    def large_outflow(i: int, k: int) -> None:
        setup(i, age=52, occupation="private_business")
        cur = pl.current(i, 90_000_000 if k == 0 else 70_000_000)
        who = pl.new_counterparty()
        if k == 0:
            pl.tx(cur, as_of, 10.2, -62_000_000, "mobile", "transfer_out", None, who)
        else:
            pl.tx(cur, as_of, 14.0, -28_000_000, "online", "transfer_out", None, who)
            pl.tx(cur, as_of, 14.4, -26_000_000, "online", "transfer_out", None, who)

    def risky_concentration(i: int, k: int) -> None:
        setup(i, age=38)
        p.risk[i] = 5
        pl.current(i, 5_000_000)
        for back, product in ((80, "PFD005"), (45, "PFD008"), (9 + 10 * k, "PFD006" if k == 0 else "PFD005")):
            if k == 1 and back == 45:
                acc = pl.account(i, "PWM540", as_of - back, maturity=as_of - back + 540)
                pl.balance(acc, as_of - back, 10_000_000)
                pl.tx(acc, as_of - back, 11, 10_000_000, "mobile", "investment")
            else:
                pl.fund(i, product, as_of - back, 6_000_000)

    def assessment_expiry(i: int, k: int) -> None:
        setup(i, age=57)
        pl.current(i, 4_000_000)
        p.assessed[i] = as_of - 420 if k == 0 else NULL_DAY
        if k == 0:
            pl.fund(i, "PFD002", as_of - 500, 8_000_000)
        else:
            acc = pl.account(i, "PBD005", as_of - 600, maturity=as_of - 600 + 1825)
            pl.balance(acc, ctx.first_day - 1, 20_000_000)

    def nav_move(i: int, k: int) -> None:
        setup(i, age=44)
        p.risk[i] = 5
        pl.current(i, 3_000_000)
        pl.fund(i, "PFD006" if k == 0 else "PFD007", as_of - 300 + 50 * k, 8_000_000)

    def attrition_risk(i: int, k: int) -> None:
        setup(i, age=49)
        cur = pl.current(i, 1_500_000)
        closed = as_of - 50 - 10 * k
        acc = pl.account(i, "PDT730", as_of - 500, maturity=as_of + 230, closed=closed)
        pl.balance(acc, ctx.first_day - 1, 30_000_000)
        pl.tx(acc, closed, 9, -30_000_000, "counter", "redemption")
        pl.tx(cur, closed, 9.1, 30_000_000, "auto", "transfer_in")
        pl.tx(cur, closed + 1, 10, -29_500_000, "counter", "transfer_out", None, pl.new_counterparty())

    def dormancy(i: int, k: int) -> None:
        setup(i, age=66, onboard_back=2000)
        cur = pl.current(i, 320_000, active=False)
        if k == 0:
            pl.tx(cur, as_of - 260, 10, -50_000, "counter", "cash")

    def need_mortgage(i: int, k: int) -> None:
        setup(i, age=31)
        pl.current(i, 4_000_000)
        acc = pl.account(i, "PDT1095", as_of - 200, maturity=as_of + 895)
        pl.balance(acc, as_of - 200, 26_000_000)
        pl.tx(acc, as_of - 200, 10, 26_000_000, "mobile", "transfer_in")
        for j in range(3 + k):
            pl.event(i, as_of - 2 - 6 * j, 21.5, "view_mortgage_rate")

    def need_education(i: int, k: int) -> None:
        setup(i, age=30 + k)
        cur = pl.current(i, 2_000_000)
        month = _date(as_of).replace(day=1)
        for _ in range(5):
            month = (month - timedelta(days=1)).replace(day=1)
            for dd in (6, 19):
                pl.tx(cur, _day(month) + dd - 1, 15, -35_800, "mobile", "purchase", "baby", "孩子王")

    def need_salary_plan(i: int, k: int) -> None:
        setup(i, age=29, occupation="employee")
        cur = pl.current(i, 1_800_000)
        pl.account(i, "PSV003", int(p.onboard[i]))
        month = _date(as_of).replace(day=1)
        for _ in range(8):
            month = (month - timedelta(days=1)).replace(day=1)
            pl.tx(cur, _day(month) + 9, 9.5, 1_280_000 + 100_000 * k, "auto", "payroll", None, "华信科技有限公司")

    def need_retirement(i: int, k: int) -> None:
        setup(i, age=52 + 6 * k)
        pl.current(i, 6_000_000)

    def need_private_corporate(i: int, k: int) -> None:
        setup(i, age=46, occupation="executive")
        pl.current(i, 12_000_000)
        acc = pl.account(
            i, "PLB001", as_of - 300, maturity=as_of + 800, next_due=as_of + 20, amount_due=4_300_000, dpd=0
        )
        pl.balance(acc, ctx.first_day - 1, 150_000_000)

    plans: list[tuple[str, Callable[[int, int], None]]] = [
        ("birthday", birthday),
        ("maturity", maturity),
        ("repayment_due", repayment_due),
        ("overdue", overdue),
        ("large_outflow", large_outflow),
        ("risky_concentration", risky_concentration),
        ("assessment_expiry", assessment_expiry),
        ("nav_move", nav_move),
        ("attrition_risk", attrition_risk),
        ("dormancy", dormancy),
        ("need_mortgage", need_mortgage),
        ("need_education", need_education),
        ("need_salary_plan", need_salary_plan),
        ("need_retirement", need_retirement),
        ("need_private_corporate", need_private_corporate),
    ]
    i = 0
    for rule, build in plans:
        for k in range(PLANTED_PER_RULE):
            build(i, k)
            rules.append(rule)
            i += 1
    p.income[:i] = np.where(np.isnan(p.income[:i]), 9000.0, p.income[:i])
    return rules


PLANTED_COUNT = 15 * PLANTED_PER_RULE
