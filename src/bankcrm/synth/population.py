"""Bulk customers: holdings, balance histories, transactions and app events, all vectorised."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from bankcrm.synth import arrowkit as ak
from bankcrm.synth import vocab
from bankcrm.synth.book import CATEGORY, CHANNEL, DAY, EVENT, MERCHANT, NULL_DAY, PRODUCT_INDEX, Book
from bankcrm.synth.master import PRODUCTS, SECTOR_DOWN_FUND, SECTOR_UP_FUND
from bankcrm.synth.people import MIDDLE, OCC, SENIOR, YOUNG, OrgArrays, People

_MERCHANT_GROUPS = list(vocab.MERCHANTS)
_MERCHANT_NAMES = [name for g in _MERCHANT_GROUPS for name in vocab.MERCHANTS[g]]
_MERCHANT_OFFSET = np.cumsum([0] + [len(vocab.MERCHANTS[g]) for g in _MERCHANT_GROUPS])
_MERCHANT_CODE = np.array([MERCHANT[g] for g in _MERCHANT_GROUPS])
# everyday spending mix in _MERCHANT_GROUPS order; parents add baby purchases
_SPEND_P = np.array([0.32, 0.27, 0.14, 0.05, 0.08, 0.05, 0.05, 0.04, 0.0])
_PARENT_SPEND_P = np.array([0.26, 0.20, 0.12, 0.04, 0.07, 0.05, 0.04, 0.04, 0.18])
# hour of day of customer activity
_HOUR_P = np.array([2, 1, 1, 1, 1, 2, 6, 14, 22, 30, 32, 34, 40, 32, 30, 30, 30, 32, 36, 42, 44, 36, 22, 8], float)
_HOUR_P /= _HOUR_P.sum()


def _products(category: str) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a category's products sorted by risk level, and those risk levels (0 when none)."""
    idx = [i for i, p in enumerate(PRODUCTS) if p.category == category]
    risk = [int((PRODUCTS[i].risk_level or "R0")[1]) for i in idx]
    order = np.argsort(risk, kind="stable")
    return np.array(idx)[order], np.array(risk)[order]


@dataclass
class Context:
    as_of: int
    first_day: int  # first day of the history; balances start the day before
    orgs: OrgArrays
    nav: np.ndarray  # (products, days) value index from first_day - 1 to as_of; 1.0 where it does not move

    @property
    def days(self) -> int:
        return self.as_of - self.first_day + 1

    def nav_at(self, product: np.ndarray, day: np.ndarray) -> np.ndarray:
        return self.nav[product, np.clip(day - (self.first_day - 1), 0, self.nav.shape[1] - 1)]


def nav_paths(rng: np.random.Generator, as_of: int, first_day: int) -> np.ndarray:
    """Daily NAV index per product; two sector funds make a big move in the last 40 days (or all, if fewer)."""
    n_days = as_of - first_day + 2
    nav = np.ones((len(PRODUCTS), n_days))
    vol = {"R1": 0.0002, "R2": 0.0012, "R3": 0.006, "R4": 0.011, "R5": 0.015}
    for i, p in enumerate(PRODUCTS):
        if p.category not in ("fund", "precious_metal"):
            continue
        sigma = 0.008 if p.category == "precious_metal" else vol[p.risk_level or "R3"]
        drift = (p.expected_yield or 0.04) / 365
        steps = rng.normal(drift - sigma**2 / 2, sigma, n_days - 1)
        if p.product_id in (SECTOR_UP_FUND, SECTOR_DOWN_FUND):
            move = np.log(1.24) if p.product_id == SECTOR_UP_FUND else np.log(0.83)
            window = min(40, len(steps))  # a history shorter than 40 days makes the move over all of it
            steps[-window:] = rng.normal(move / window, 0.004, window)
            steps[-window:] += (move - steps[-window:].sum()) / window
        nav[i, 1:] = np.exp(np.cumsum(steps))
    return nav


_TERM = np.array([p.term_days or 0 for p in PRODUCTS], dtype=np.int64)
_YIELD = np.array([p.expected_yield or 0.04 for p in PRODUCTS])


def _month_index(days: np.ndarray | int) -> np.ndarray:
    return np.asarray(days).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def _day_of_month(days: np.ndarray) -> np.ndarray:
    d = np.asarray(days).astype("datetime64[D]")
    return (d - d.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1


def _cents(yuan: np.ndarray) -> np.ndarray:
    return np.round(yuan * 100).astype(np.int64)


def _times(rng: np.random.Generator, day: np.ndarray) -> np.ndarray:
    hour = rng.choice(24, day.shape[0], p=_HOUR_P)
    return day.astype(np.int64) * DAY + hour * 3600 + rng.integers(0, 3600, day.shape[0])


def _month_days(as_of: int, months_back: int, day_of_month: np.ndarray) -> np.ndarray:
    """(n, months_back + 2) matrix: the given day of each month from months_back ago to next month."""
    m0 = np.datetime64(int(as_of), "D").astype("datetime64[M]")
    months = m0 + np.arange(-months_back, 2)
    starts = months.astype("datetime64[D]").astype(np.int64)
    return starts[None, :] + (np.asarray(day_of_month)[:, None] - 1)


def counterparty_accounts(cust_no: np.ndarray, slot: np.ndarray) -> pa.Array:
    """Other people's 16-digit card numbers a customer transfers with (a small stable set per customer)."""
    serial = (cust_no * 7919 + slot * 104729 + 12345) * 2654435761 % 10**9
    return ak.card_numbers("6228480", serial, 16)


def generate_chunk(rng: np.random.Generator, p: People, ctx: Context) -> Book:
    """Every account, balance, transaction and event of a chunk of ordinary (not planted) customers."""
    book = Book()
    n = p.cust_no.shape[0]
    # money moved between the customer's own products or out to another bank; kept out of the everyday balancing
    capital: list[int] = []  # indices of those transaction batches
    as_of, first = ctx.as_of, ctx.first_day
    rows = np.arange(n)
    wealth = p.wealth
    young, middle, senior = p.age_group == YOUNG, p.age_group == MIDDLE, p.age_group == SENIOR

    # --- which products each customer holds
    def draw(prob: np.ndarray | float) -> np.ndarray:
        return np.asarray(rng.random(n) < prob)

    has = {
        "time": draw(
            np.where(p.vip, 0.85, np.select([young, middle], [0.15, 0.40], 0.60) * np.where(wealth > 20000, 1.3, 0.6))
        )
        | p.leaver,
        "wealth": draw(np.where(p.vip, 0.7, 0.04 + 0.25 * (wealth > 50000))),
        "fund": draw(np.where(p.vip, 0.6, 0.08 + 0.15 * (wealth > 20000) + 0.08 * young)),
        "insurance": draw(np.where(p.vip, 0.45, 0.05 + 0.07 * (p.age >= 40))),
        "precious_metal": draw(np.where(p.vip, 0.2, 0.03)),
        "bond": draw(np.where(p.vip, 0.2, 0.02 + 0.06 * senior)),
    }
    second_time = has["time"] & draw(np.where(p.vip, 0.5, 0.15 * (wealth > 100000)))
    weights = {
        "current": np.where(p.vip, 0.35, np.select([young, middle], [3.0, 1.2], 0.8)) * rng.gamma(2.0, 1.0, n),
        "time": has["time"] * np.where(senior, 3.0, 2.0) * rng.gamma(2.0, 1.0, n),
        "wealth": has["wealth"] * 2.0 * rng.gamma(2.0, 1.0, n),
        "fund": has["fund"] * 1.0 * rng.gamma(2.0, 1.0, n),
        "insurance": has["insurance"] * 0.6 * rng.gamma(2.0, 1.0, n),
        "precious_metal": has["precious_metal"] * 0.3 * rng.gamma(2.0, 1.0, n),
        "bond": has["bond"] * 0.8 * rng.gamma(2.0, 1.0, n),
    }
    total_w = sum(weights.values())
    alloc = {k: wealth * w / total_w for k, w in weights.items()}

    # --- current account, cards and services
    cur = book.add_accounts(rows, PRODUCT_INDEX["PDC001"], p.onboard, opening=_cents(alloc["current"]))
    debit = rows[draw(0.96)]
    book.add_accounts(debit, PRODUCT_INDEX["PSV001"], p.onboard[debit])
    mob = rows[draw(p.mobile + 0.1)]
    book.add_accounts(mob, PRODUCT_INDEX["PSV002"], np.minimum(p.onboard[mob] + rng.integers(0, 400, mob.size), as_of))
    pay = rows[p.payroll]
    book.add_accounts(pay, PRODUCT_INDEX["PSV003"], p.onboard[pay])

    # --- time deposits and wealth products with a term: some matured (closed) inside the history
    def termed(cust: np.ndarray, category: str, principal: np.ndarray, term_p: list[float] | None = None) -> None:
        prods, _ = _products(category)
        prod = (
            prods[rng.choice(prods.size, cust.size, p=term_p)]
            if term_p
            else prods[rng.integers(0, prods.size, cust.size)]
        )
        term = _TERM[prod]
        lo = np.maximum(first + 5, p.onboard[cust] + term)
        hi = as_of + term
        maturity = lo + (rng.random(cust.size) * np.maximum(hi - lo, 1)).astype(np.int64)
        opened = np.maximum(maturity - term, p.onboard[cust])
        open_ended = term == 0
        opened = np.where(
            open_ended, p.onboard[cust] + (rng.random(cust.size) * (as_of - p.onboard[cust])).astype(np.int64), opened
        )
        maturity = np.where(open_ended, NULL_DAY, maturity)
        closed = np.where(~open_ended & (maturity <= as_of), maturity, NULL_DAY)
        # leavers take their money out early, one to three months ago, and move it to another bank
        leaving = p.leaver[cust] & (category == "deposit_time") & (closed == NULL_DAY)
        leave_day = as_of - rng.integers(35, 85, cust.size)
        leaving &= opened < leave_day - 30
        closed = np.where(leaving, leave_day, closed)
        cents = _cents(principal)
        acc = book.add_accounts(cust, prod, opened, maturity=maturity.astype(np.int32), closed=closed.astype(np.int32))
        book.add_balances(acc, np.maximum(opened, first - 1), cents)
        new = opened >= first
        chan = np.where(rng.random(cust.size) < p.counter[cust] + 0.2, CHANNEL["counter"], CHANNEL["mobile"])
        cat = CATEGORY["transfer_in"] if category == "deposit_time" else CATEGORY["investment"]
        book.add_tx(acc[new], _times(rng, opened[new]), cents[new], chan[new], cat)
        # proceeds of a closed deposit go back to the current account the same morning; booked as a
        # redemption, not a transfer_out, so a maturity never looks like money leaving the bank
        done = closed != NULL_DAY
        out_cat = CATEGORY["redemption"]
        sec = closed[done].astype(np.int64) * DAY + 8 * 3600 + rng.integers(0, 3600, int(done.sum()))
        book.add_tx(acc[done], sec, -cents[done], CHANNEL["auto"], out_cat)
        capital.append(len(book.tx_cp))
        book.add_tx(cur[cust[done]], sec + 60, cents[done], CHANNEL["auto"], CATEGORY["transfer_in"])
        gone = leaving[done]
        if gone.any():
            c = cust[done][gone]
            amount = (cents[done][gone] * rng.uniform(0.9, 1.0, c.size)).astype(np.int64)
            when = sec[gone] + DAY * rng.integers(0, 3, c.size) + 3600 * 2
            capital.append(len(book.tx_cp))
            book.add_tx(
                cur[c],
                when,
                -amount,
                CHANNEL["counter"],
                CATEGORY["transfer_out"],
                -1,
                counterparty_accounts(p.cust_no[c], np.full(c.size, 99)),
            )

    tc = rows[has["time"]]
    split = np.where(second_time[tc], rng.uniform(0.3, 0.7, tc.size), 1.0)
    termed(tc, "deposit_time", alloc["time"][tc] * split, [0.15, 0.2, 0.35, 0.15, 0.15])
    t2 = rows[second_time]
    termed(t2, "deposit_time", alloc["time"][t2] * (1 - split[second_time[tc]]), [0.1, 0.15, 0.35, 0.2, 0.2])
    wc = rows[has["wealth"]]
    termed(wc, "wealth", alloc["wealth"][wc])
    bc = rows[has["bond"]]
    termed(bc, "bond", alloc["bond"][bc])
    # growth customers brought new money in the last five months (the `potential` tier)
    gc = rows[p.growth]
    g_open = as_of - rng.integers(20, 150, gc.size)
    g_amt = _cents(np.maximum(wealth[gc], 5000) * rng.uniform(0.6, 1.4, gc.size))
    g_acc = book.add_accounts(gc, PRODUCT_INDEX["PDT365"], g_open, maturity=(g_open + 365).astype(np.int32))
    book.add_balances(g_acc, g_open, g_amt)
    book.add_tx(
        g_acc,
        _times(rng, g_open),
        g_amt,
        CHANNEL["mobile"],
        CATEGORY["transfer_in"],
        -1,
        counterparty_accounts(p.cust_no[gc], np.full(gc.size, 98)),
    )

    # --- insurance: a constant cash value
    ic = rows[has["insurance"]]
    iprods, _ = _products("insurance")
    iacc = book.add_accounts(
        ic,
        iprods[rng.integers(0, iprods.size, ic.size)],
        p.onboard[ic] + (rng.random(ic.size) * (as_of - p.onboard[ic])).astype(np.int64),
    )
    book.add_balances(iacc, np.maximum(p.onboard[ic], first - 1), _cents(alloc["insurance"][ic]))

    # --- funds and gold: valued weekly on Fridays from the product's NAV
    friday = np.arange(first, as_of + 1)
    friday = friday[(friday - 1) % 7 == 0]
    for kind in ("fund", "precious_metal"):
        fc = rows[has[kind]]
        prods, risks = _products(kind)
        eligible = np.searchsorted(risks, p.risk[fc], side="right")
        eligible = np.where((eligible == 0) | (rng.random(fc.size) < 0.08), prods.size, eligible)
        prod = prods[(rng.random(fc.size) * eligible).astype(np.int64)]
        opened = p.onboard[fc] + (rng.random(fc.size) * (as_of - 1 - p.onboard[fc])).astype(np.int64)
        start = np.maximum(opened, first - 1)
        value0 = _cents(np.maximum(alloc[kind][fc], 100))
        redeem = (rng.random(fc.size) < 0.08) & (start < as_of - 60)
        r_day = start + (rng.random(fc.size) * (as_of - 45 - start)).astype(np.int64)
        closed = np.where(redeem, r_day, NULL_DAY).astype(np.int32)
        acc = book.add_accounts(fc, prod, opened, closed=closed)
        book.add_balances(acc, start, value0)
        base_nav = ctx.nav_at(prod, start)
        live = friday[None, :] > start[:, None]
        live &= np.where(redeem, r_day, as_of + 1)[:, None] > friday[None, :]
        ai, fi = np.nonzero(live)
        value = value0[ai] * ctx.nav_at(prod[ai], friday[fi]) / base_nav[ai]
        book.add_balances(acc[ai], friday[fi], np.round(value).astype(np.int64))
        new = opened >= first
        chan = np.where(rng.random(fc.size) < p.mobile[fc], CHANNEL["mobile"], CHANNEL["counter"])
        book.add_tx(acc[new], _times(rng, opened[new]), value0[new], chan[new], CATEGORY["investment"])
        ri = np.nonzero(redeem)[0]
        worth = np.round(value0[ri] * ctx.nav_at(prod[ri], r_day[ri]) / base_nav[ri]).astype(np.int64)
        sec = _times(rng, r_day[ri])
        book.add_tx(acc[ri], sec, -worth, chan[ri], CATEGORY["redemption"])
        capital.append(len(book.tx_cp))
        book.add_tx(cur[fc[ri]], sec + 120, worth, CHANNEL["auto"], CATEGORY["transfer_in"])

    # --- bulk customer-initiated activity on the current account
    lo = np.maximum(first, p.onboard)
    hi = np.where(p.dormant, as_of - rng.integers(185, 420, n), as_of)
    span = np.maximum(hi - lo + 1, 0)
    n_tx = rng.poisson(p.tx_rate * span)
    t_cust = np.repeat(rows, n_tx)
    u = rng.random(t_cust.size)
    u = np.where(p.growth[t_cust], u ** (1 / 1.9), u)  # activity ramps up for growth customers
    t_day = lo[t_cust] + (u * span[t_cust]).astype(np.int64)
    t_sec = _times(rng, t_day)
    t_day = t_sec // DAY
    cat_p = np.where(senior[t_cust], 0.22, 0.08)  # cash share
    r = rng.random(t_cust.size)
    category = np.select(
        [r < 0.14, r < 0.26, r < 0.26 + cat_p],
        [CATEGORY["transfer_out"], CATEGORY["transfer_in"], CATEGORY["cash"]],
        CATEGORY["purchase"],
    ).astype(np.int8)
    m, c = p.mobile[t_cust], p.counter[t_cust]
    r = rng.random(t_cust.size)
    channel = np.select(
        [
            category == CATEGORY["purchase"],
            category == CATEGORY["cash"],
        ],
        [
            np.where(r < m * 0.55, CHANNEL["mobile"], np.where(r < m * 0.55 + 0.15, CHANNEL["online"], CHANNEL["pos"])),
            np.where(r < c * 1.2, CHANNEL["counter"], CHANNEL["atm"]),
        ],
        np.where(r < c, CHANNEL["counter"], np.where(r < c + (1 - c) * m, CHANNEL["mobile"], CHANNEL["online"])),
    ).astype(np.int8)
    is_purchase = category == CATEGORY["purchase"]
    u = rng.random(t_cust.size)
    group = np.where(
        p.parent[t_cust], np.searchsorted(np.cumsum(_PARENT_SPEND_P), u), np.searchsorted(np.cumsum(_SPEND_P), u)
    ).clip(0, len(_MERCHANT_GROUPS) - 1)
    merchant = np.where(is_purchase, _MERCHANT_CODE[group], -1).astype(np.int8)
    income = np.nan_to_num(p.income, nan=5000.0)
    spend_scale = 55 * (np.maximum(income, 1500) / 8000) ** 0.4
    # a customer's transfers have a typical size; single amounts vary around it
    transfer_scale = 1500 * np.clip(wealth / 20000, 0.2, 20) ** 0.35 * rng.lognormal(0, 0.5, n)
    amount = np.select(
        [
            is_purchase,
            category == CATEGORY["transfer_out"],
            category == CATEGORY["cash"],
            category == CATEGORY["transfer_in"],
        ],
        [
            -np.clip(spend_scale[t_cust] * rng.lognormal(0, 0.7, t_cust.size), 1, 50_000),
            -np.minimum(transfer_scale[t_cust] * rng.lognormal(0, 0.4, t_cust.size), 300_000),
            -100.0 * np.ceil(np.where(c > 0.3, 20, 6) * rng.lognormal(0, 0.5, t_cust.size)),
            np.minimum(transfer_scale[t_cust] * rng.lognormal(0, 0.4, t_cust.size), 300_000),
        ],
        0.0,
    )
    t_cents = _cents(amount)
    # transfers go mostly to a few regular counterparties; purchases name the merchant
    slot = np.minimum(rng.geometric(0.45, t_cust.size) - 1, 7)
    is_transfer = (category == CATEGORY["transfer_out"]) | (category == CATEGORY["transfer_in"])
    names = ak.pick(
        _MERCHANT_NAMES,
        _MERCHANT_OFFSET[group]
        + (rng.random(t_cust.size) * (_MERCHANT_OFFSET[group + 1] - _MERCHANT_OFFSET[group])).astype(np.int64),
    )
    pool = counterparty_accounts(np.repeat(p.cust_no, 8), np.tile(np.arange(8), n))
    cp = pa.compute.if_else(
        pa.array(is_transfer),
        pool.take(pa.array(t_cust * 8 + slot)),
        pa.compute.if_else(pa.array(is_purchase), names, pa.nulls(t_cust.size, pa.string())),
    )
    # card holders put part of their shopping on the card; last month's statement is repaid on the due day
    card_holder = draw(np.where(p.vip, 0.7, np.select([young, middle], [0.45, 0.40], 0.10)))
    cc_rows = rows[card_holder]
    ccp, _ = _products("credit_card")
    cc_open = np.clip(p.onboard[cc_rows] + rng.integers(0, 700, cc_rows.size), p.onboard[cc_rows], as_of - 40)
    card_open_of = np.full(n, np.iinfo(np.int64).max)
    card_open_of[cc_rows] = cc_open
    cc_of = np.full(n, -1, dtype=np.int64)
    cc_of[cc_rows] = np.arange(cc_rows.size)
    on_card = is_purchase & (rng.random(t_cust.size) < 0.45) & (t_day >= card_open_of[t_cust])
    months_back = (as_of - first) // 28 + 2
    month0 = int(_month_index(as_of)) - months_back
    spent = np.zeros((cc_rows.size, months_back + 2), dtype=np.int64)
    np.add.at(spent, (cc_of[t_cust[on_card]], _month_index(t_day[on_card]) - month0), -t_cents[on_card])
    opening_owed = _cents(np.clip(spend_scale[cc_rows] * 12 * rng.lognormal(0, 0.6, cc_rows.size), 0, 200_000))
    owed = np.zeros_like(spent)
    owed[:, 1:] = spent[:, :-1]  # the statement of month j is due in month j + 1
    owed[:, int(_month_index(first)) - month0] += opening_owed
    due_days = _month_days(as_of, months_back, rng.integers(1, 29, cc_rows.size))
    cc_dpd = np.where(rng.random(cc_rows.size) < 0.025, rng.integers(3, 120, cc_rows.size), 0)
    next_due = np.where(due_days > as_of, due_days, np.iinfo(np.int64).max).min(axis=1)
    missed = (cc_dpd[:, None] > 0) & (due_days > as_of - cc_dpd[:, None] - 1) & (due_days <= as_of)
    amount_due = spent[:, months_back] + np.where(cc_dpd > 0, spent[:, months_back - 1], 0)
    cc_acc = book.add_accounts(
        cc_rows,
        ccp[(p.vip[cc_rows] | (rng.random(cc_rows.size) < 0.2)).astype(np.int64)],
        cc_open,
        next_due=next_due.astype(np.int32),
        amount_due=amount_due,
        dpd=cc_dpd.astype(np.int32),
        opening=opening_owed,
    )
    t_acc = cur[t_cust]
    t_acc[on_card] = cc_acc[cc_of[t_cust[on_card]]]
    book.add_tx(t_acc, t_sec, t_cents, channel, category, merchant, cp)
    ok = (due_days >= first) & (due_days <= as_of) & (owed > 0) & (due_days > cc_open[:, None]) & ~missed
    ai, mi = np.nonzero(ok)
    sec = due_days[ai, mi] * DAY + 7 * 3600 + rng.integers(0, 3600, ai.size)
    chan = np.where(rng.random(ai.size) < 0.8, CHANNEL["auto"], CHANNEL["mobile"])
    book.add_tx(cc_acc[ai], sec, owed[ai, mi], chan, CATEGORY["repayment"])
    book.add_tx(cur[cc_rows[ai]], sec, -owed[ai, mi], chan, CATEGORY["repayment"])

    # --- loans: equal-principal amortisation, repaid monthly from the current account
    loan_kinds = (
        ("loan_mortgage", (p.age >= 27) & (p.age <= 55), 0.13, (500_000, 3_000_000), (240, 360)),
        ("loan_consumer", p.age <= 55, 0.06, (20_000, 300_000), (36, 60)),
        ("loan_business", np.ones(n, bool), 0.0, (300_000, 5_000_000), (36, 36)),
    )
    for kind, allowed, prob, (amin, amax), (tmin, tmax) in loan_kinds:
        prob_c = np.full(n, prob)
        if kind == "loan_business":
            prob_c = np.select(
                [p.occupation == OCC["private_business"], p.occupation == OCC["executive"]], [0.35, 0.15], 0.004
            )
        lc = rows[allowed & draw(prob_c) & ~p.dormant]
        if lc.size == 0:
            continue
        prods, _ = _products(kind)
        prod = prods[rng.integers(0, prods.size, lc.size)]
        principal = np.exp(rng.uniform(np.log(amin), np.log(amax), lc.size)) * np.where(p.vip[lc], 2.0, 1.0)
        term_m = rng.choice(np.arange(tmin, tmax + 1, 12), lc.size)
        opened = p.onboard[lc] + (rng.random(lc.size) * np.maximum(as_of - 40 - p.onboard[lc], 1)).astype(np.int64)
        opened = np.minimum(opened, as_of - 40)
        dues = _month_days(as_of, months_back, np.clip(_day_of_month(opened), 1, 28))
        first_due = _month_index(opened)
        due_month = int(_month_index(as_of)) + np.arange(-months_back, 2)
        k_paid = due_month[None, :] - first_due[:, None]  # installments due by each month
        step = principal / term_m
        rate = _YIELD[prod]
        dpd = np.where(rng.random(lc.size) < 0.03, rng.integers(1, 200, lc.size), 0)
        missed = (dpd[:, None] > 0) & (dues > as_of - dpd[:, None]) & (dues <= as_of)
        outstanding = np.maximum(principal[:, None] - step[:, None] * np.clip(k_paid, 0, None), 0)
        next_due = np.where(dues > as_of, dues, np.iinfo(np.int64).max).min(axis=1)
        k_now = np.clip(int(_month_index(as_of)) - first_due, 0, None)
        owed_now = np.maximum(principal - step * k_now, 0)
        installment = step + owed_now * rate / 12
        acc = book.add_accounts(
            lc,
            prod,
            opened,
            maturity=(opened + term_m * 30.44).astype(np.int32),
            next_due=next_due.astype(np.int32),
            amount_due=_cents(installment * np.where(dpd > 0, 1 + dpd // 30, 1)),
            dpd=dpd.astype(np.int32),
        )
        start = np.maximum(opened, first - 1)
        before = np.where(dues <= start[:, None], outstanding, np.inf).min(axis=1)
        before = np.where(np.isinf(before), principal, before)
        book.add_balances(acc, start, _cents(before))
        paid = (dues > opened[:, None]) & (dues >= first) & (dues <= as_of) & (k_paid > 0) & ~missed
        ai, mi = np.nonzero(paid)
        # a missed installment stays owed: the balance only follows the installments actually paid
        left = np.maximum(principal[:, None] - step[:, None] * np.clip(k_paid - np.cumsum(missed, axis=1), 0, None), 0)
        book.add_balances(acc[ai], dues[ai, mi], _cents(left[ai, mi]))
        pay_amt = _cents(step[ai] + outstanding[ai, mi] * rate[ai] / 12)
        sec = dues[ai, mi] * DAY + 6 * 3600 + rng.integers(0, 3600, ai.size)
        book.add_tx(acc[ai], sec, pay_amt, CHANNEL["auto"], CATEGORY["repayment"])
        book.add_tx(cur[lc[ai]], sec, -pay_amt, CHANNEL["auto"], CATEGORY["repayment"])

    # --- payroll on the employer's pay day, quarterly interest, SMS fees
    pc_rows = rows[p.payroll]
    payday = rng.choice(np.array([5, 10, 15, 25]), pc_rows.size)
    pdays = _month_days(as_of, months_back, payday)
    ok = (pdays >= np.maximum(first, p.onboard[pc_rows])[:, None]) & (pdays <= as_of)
    ai, mi = np.nonzero(ok)
    salary = np.nan_to_num(p.income[pc_rows], nan=6000.0)[ai] * rng.uniform(0.97, 1.08, ai.size)
    employer = ak.pick(vocab.EMPLOYERS, (p.cust_no[pc_rows] * 31 % len(vocab.EMPLOYERS))[ai])
    book.add_tx(
        cur[pc_rows[ai]],
        pdays[ai, mi] * DAY + 9 * 3600 + rng.integers(0, 7200, ai.size),
        _cents(salary),
        CHANNEL["auto"],
        CATEGORY["payroll"],
        -1,
        employer,
    )
    q = _month_days(as_of, months_back, np.array([21]))[0]
    q_months = q.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12 + 1
    q = q[np.isin(q_months, [3, 6, 9, 12]) & (q >= first) & (q <= as_of)]
    interest = np.maximum(_cents(alloc["current"] * 0.0015 / 4), 1)
    qi, qj = np.nonzero(np.ones((n, q.size), bool) & (q[None, :] > p.onboard[:, None]))
    book.add_tx(cur[qi], q[qj] * DAY + 2 * 3600, interest[qi], CHANNEL["auto"], CATEGORY["interest"])
    fee_rows = rows[draw(0.2)]
    fdays = _month_days(as_of, months_back, np.ones(fee_rows.size, np.int64))
    ok = (fdays >= np.maximum(first, p.onboard[fee_rows])[:, None]) & (fdays <= as_of)
    ai, mi = np.nonzero(ok)
    book.add_tx(
        cur[fee_rows[ai]], fdays[ai, mi] * DAY + 3 * 3600, np.full(ai.size, -200), CHANNEL["auto"], CATEGORY["fee"]
    )

    # --- everyday money in and out balance month by month, so the current account does not drift:
    # a top-up early in the month covers a shortfall, and most of a surplus moves out at its end
    # (to savings elsewhere, family), as people who live on a salary do
    n_m = months_back + 2
    flow = np.zeros(n * n_m)
    for b, (acc_b, sec_b, cents_b) in enumerate(zip(book.tx["acc"], book.tx["sec"], book.tx["cents"], strict=True)):
        on_cur = acc_b < n  # the current accounts were added first, one per customer
        if b in capital or not on_cur.any():
            continue
        month = np.clip(_month_index(sec_b[on_cur] // DAY) - month0, 0, n_m - 1)
        flow += np.bincount(acc_b[on_cur] * n_m + month, weights=cents_b[on_cur], minlength=n * n_m)
    flow_m = flow.reshape(n, n_m)
    month_start = _month_days(as_of, months_back, np.ones(1, np.int64))[0]
    active = (month_start[None, :] + 27 >= lo[:, None]) & (month_start[None, :] <= hi[:, None])
    top_up = np.zeros((n, n_m), dtype=np.int64)
    sweep = np.zeros((n, n_m), dtype=np.int64)
    carry = np.zeros(n)
    for j in range(n_m):
        delta = flow_m[:, j] + carry
        top_up[:, j] = np.where(active[:, j], np.round(np.maximum(-delta, 0) * rng.uniform(1.0, 1.1, n), -2), 0)
        sweep[:, j] = np.where(active[:, j], np.round(np.maximum(delta, 0) * rng.uniform(0.9, 1.0, n), -2), 0)
        carry = delta + top_up[:, j] - sweep[:, j]
    chan = np.where(rng.random(n) < p.counter, CHANNEL["counter"], CHANNEL["mobile"])
    for amounts, sign, dom, cp_slot in ((top_up, 1, (1, 5), 0), (sweep, -1, (25, 29), 1)):
        ai, mi = np.nonzero(amounts >= 100)
        day = np.maximum(month_start[mi] + rng.integers(*dom, ai.size) - 1, lo[ai])
        ok = day <= np.minimum(hi[ai], as_of)
        ai, mi, day = ai[ok], mi[ok], day[ok]
        sec = day * DAY + rng.integers(9 * 3600, 21 * 3600, ai.size)
        category_m = CATEGORY["transfer_in"] if sign > 0 else CATEGORY["transfer_out"]
        cp_m = counterparty_accounts(p.cust_no[ai], np.full(ai.size, cp_slot))
        book.add_tx(cur[ai], sec, sign * amounts[ai, mi], chan[ai], category_m, -1, cp_m)

    # --- app and page-view events
    app = rows[np.isin(rows, mob)]
    ev_hi = hi[app]
    ev_span = np.maximum(ev_hi - lo[app] + 1, 0)
    rate = 0.3 * p.mobile[app] * np.where(p.growth[app], 1.5, 1.0)
    kinds = [("app_login", rate)] + [
        (e, np.full(app.size, 0.012)) for e in ("view_fund", "view_insurance", "view_wealth", "view_loan")
    ]
    kinds += [
        ("view_education", np.where(p.parent[app], 0.03, 0.004)),
        ("view_mortgage_rate", np.full(app.size, 0.002)),
    ]
    for event, lam in kinds:
        k = rng.poisson(lam * ev_span)
        ec = np.repeat(app, k)
        uu = rng.random(ec.size)
        uu = np.where(p.growth[ec], uu ** (1 / 1.9), uu)
        day = lo[ec] + (uu * np.maximum(hi[ec] - lo[ec] + 1, 0)).astype(np.int64)
        book.add_events(ec, _times(rng, day), EVENT[event])
    hh = rows[p.house_hunter & ~p.dormant]
    k = rng.integers(3, 9, hh.size)
    ec = np.repeat(hh, k)
    book.add_events(ec, _times(rng, as_of - rng.integers(0, 25, ec.size)), EVENT["view_mortgage_rate"])
    return book
