"""The in-memory ledger of one chunk of customers and its conversion to extract tables.

Generators (bulk and planted) add accounts, balance rows, transactions and events as NumPy
columns that point at accounts by position; :func:`assemble` turns them into the section 3
tables: it numbers accounts and transactions per customer (so ids do not depend on how the
run is chunked), derives running balances of current accounts and cards from their
transactions, and keeps one balance row per account and changed day.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bankcrm.reference import BEHAVIOR_EVENTS, MERCHANT_GROUPS, TX_CATEGORIES, TX_CHANNELS
from bankcrm.synth import arrowkit as ak
from bankcrm.synth.master import PRODUCTS

NULL_DAY = np.iinfo(np.int32).min
NULL_CENTS = np.iinfo(np.int64).min
DAY = 86400

CHANNEL = {c: i for i, c in enumerate(TX_CHANNELS)}
CATEGORY = {c: i for i, c in enumerate(TX_CATEGORIES)}
MERCHANT = {m: i for i, m in enumerate(MERCHANT_GROUPS)}
EVENT = {e: i for i, e in enumerate(BEHAVIOR_EVENTS)}
PRODUCT_INDEX = {p.product_id: i for i, p in enumerate(PRODUCTS)}
PRODUCT_CATEGORY = np.array([p.category for p in PRODUCTS])
# accounts whose balance is the running sum of their transactions: +1 current, -1 card (owed)
RUNNING_SIGN = np.array(
    [1 if p.category == "deposit_current" else -1 if p.category == "credit_card" else 0 for p in PRODUCTS],
    dtype=np.int64,
)
HAS_BALANCE = np.array(
    [p.category not in ("debit_card", "mobile_banking", "payroll_service") for p in PRODUCTS], dtype=bool
)


def _col(parts: list[np.ndarray], dtype: type | np.dtype) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.empty(0, dtype=dtype)


def _full(n: int, value: int, dtype: type) -> np.ndarray:
    return np.full(n, value, dtype=dtype)


@dataclass
class Book:
    n_accounts: int = 0
    acc: dict[str, list[np.ndarray]] = field(default_factory=dict)
    bal: dict[str, list[np.ndarray]] = field(default_factory=dict)
    tx: dict[str, list[np.ndarray]] = field(default_factory=dict)
    tx_cp: list[pa.Array] = field(default_factory=list)
    ev: dict[str, list[np.ndarray]] = field(default_factory=dict)

    @staticmethod
    def _push(store: dict[str, list[np.ndarray]], **cols: np.ndarray) -> None:
        for k, v in cols.items():
            store.setdefault(k, []).append(np.asarray(v))

    def add_accounts(
        self,
        cust: np.ndarray,
        product: np.ndarray | int,
        opened: np.ndarray,
        *,
        maturity: np.ndarray | None = None,
        closed: np.ndarray | None = None,
        next_due: np.ndarray | None = None,
        amount_due: np.ndarray | None = None,
        dpd: np.ndarray | None = None,
        opening: np.ndarray | None = None,
    ) -> np.ndarray:
        """Add accounts; returns their positions (what transactions and balances refer to)."""
        n = len(cust)
        pos = np.arange(self.n_accounts, self.n_accounts + n, dtype=np.int64)
        self.n_accounts += n
        self._push(
            self.acc,
            cust=np.asarray(cust, dtype=np.int64),
            product=np.broadcast_to(np.asarray(product, dtype=np.int64), (n,)),
            opened=np.asarray(opened, dtype=np.int32),
            maturity=_full(n, NULL_DAY, np.int32) if maturity is None else maturity,
            closed=_full(n, NULL_DAY, np.int32) if closed is None else closed,
            next_due=_full(n, NULL_DAY, np.int32) if next_due is None else next_due,
            amount_due=_full(n, NULL_CENTS, np.int64) if amount_due is None else amount_due,
            dpd=_full(n, -1, np.int32) if dpd is None else dpd,
            opening=np.zeros(n, dtype=np.int64) if opening is None else opening,
        )
        return pos

    def add_balances(self, acc: np.ndarray, day: np.ndarray, cents: np.ndarray) -> None:
        n = len(acc)
        self._push(
            self.bal,
            acc=np.asarray(acc, dtype=np.int64),
            day=np.broadcast_to(np.asarray(day, dtype=np.int32), (n,)),
            cents=np.broadcast_to(np.asarray(cents, dtype=np.int64), (n,)),
        )

    def add_tx(
        self,
        acc: np.ndarray,
        sec: np.ndarray,
        cents: np.ndarray,
        channel: np.ndarray | int,
        category: np.ndarray | int,
        merchant: np.ndarray | int = -1,
        counterparty: pa.Array | None = None,
    ) -> None:
        """Transactions; ``sec`` is local (Asia/Shanghai) wall-clock seconds since 1970."""
        n = len(acc)
        self._push(
            self.tx,
            acc=np.asarray(acc, dtype=np.int64),
            sec=np.asarray(sec, dtype=np.int64),
            cents=np.asarray(cents, dtype=np.int64),
            channel=np.broadcast_to(np.asarray(channel, dtype=np.int8), (n,)),
            category=np.broadcast_to(np.asarray(category, dtype=np.int8), (n,)),
            merchant=np.broadcast_to(np.asarray(merchant, dtype=np.int8), (n,)),
        )
        self.tx_cp.append(pa.nulls(n, pa.string()) if counterparty is None else counterparty)

    def add_events(self, cust: np.ndarray, sec: np.ndarray, event: np.ndarray | int) -> None:
        n = len(cust)
        self._push(
            self.ev,
            cust=np.asarray(cust, dtype=np.int64),
            sec=np.asarray(sec, dtype=np.int64),
            event=np.broadcast_to(np.asarray(event, dtype=np.int8), (n,)),
        )


def _rank_within(group: np.ndarray) -> np.ndarray:
    """0-based position of each element inside its run of equal (sorted) group values."""
    n = group.shape[0]
    if n == 0:
        return np.empty(0, dtype=np.int64)
    starts = np.r_[True, group[1:] != group[:-1]]
    first = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    return np.arange(n) - first


def _order(*keys: np.ndarray) -> np.ndarray:
    """Indices sorting by the keys (first is most significant); one packed int64 sort when they fit."""
    widths = [max(int(k.max()).bit_length(), 1) if k.size else 1 for k in keys]
    if keys[0].size == 0 or sum(widths) > 62 or any(int(k.min()) < 0 for k in keys):
        return np.lexsort(keys[::-1])
    packed = np.zeros(keys[0].shape[0], dtype=np.int64)
    for k, w in zip(keys, widths, strict=True):
        packed = (packed << w) | k.astype(np.int64)
    return np.argsort(packed)


def _nullable_days(days: np.ndarray) -> pa.Array:
    return ak.dates(np.where(days == NULL_DAY, 0, days), days != NULL_DAY)


def assemble(book: Book, cust_no: np.ndarray, as_of: int, first_day: int) -> dict[str, pa.Table]:
    """Accounts, balances, transactions and behaviour events of the chunk as tables (ts naive local)."""
    a_cust = _col(book.acc.get("cust", []), np.int64)
    a_prod = _col(book.acc.get("product", []), np.int64)
    a_opened = _col(book.acc.get("opened", []), np.int32)
    a_mat = _col(book.acc.get("maturity", []), np.int32)
    a_closed = _col(book.acc.get("closed", []), np.int32)
    a_due = _col(book.acc.get("next_due", []), np.int32)
    a_amt = _col(book.acc.get("amount_due", []), np.int64)
    a_dpd = _col(book.acc.get("dpd", []), np.int32)
    a_open_cents = _col(book.acc.get("opening", []), np.int64)
    n_acc = a_cust.shape[0]

    # account ids: customer number + position among the customer's accounts
    order = np.lexsort((np.arange(n_acc), a_cust))
    seq = np.empty(n_acc, dtype=np.int64)
    seq[order] = _rank_within(a_cust[order])
    a_no = cust_no[a_cust]
    account_id = ak.prefixed_ids("A", (a_no, 9), (seq, 2))
    cats = PRODUCT_CATEGORY[a_prod]
    is_credit = cats == "credit_card"
    no_number = (cats == "mobile_banking") | (cats == "payroll_service")
    serial = a_no * 100 + seq
    numbers = pc.if_else(
        pa.array(is_credit),
        ak.card_numbers("625900", serial % 10**9, 16),
        ak.card_numbers("621700", serial, 19),
    )
    numbers = pc.if_else(pa.array(no_number), pa.nulls(n_acc, pa.string()), numbers)
    accounts = pa.table(
        {
            "account_id": account_id,
            "customer_id": ak.prefixed_ids("C", (a_no, 9)),
            "product_id": ak.pick([p.product_id for p in PRODUCTS], a_prod),
            "opened_on": ak.dates(a_opened),
            "maturity_on": _nullable_days(a_mat),
            "closed_on": _nullable_days(a_closed),
            "next_due_on": _nullable_days(a_due),
            "amount_due": ak.money(np.where(a_amt == NULL_CENTS, 0, a_amt), a_amt != NULL_CENTS),
            "days_past_due": pa.array(a_dpd, type=pa.int32(), mask=a_dpd < 0),
            "account_number": numbers,
        }
    ).take(pa.array(order))

    # transactions, ordered by customer and time, numbered per customer
    t_acc = _col(book.tx.get("acc", []), np.int64)
    t_sec = _col(book.tx.get("sec", []), np.int64)
    t_cents = _col(book.tx.get("cents", []), np.int64)
    t_chan = _col(book.tx.get("channel", []), np.int8)
    t_cat = _col(book.tx.get("category", []), np.int8)
    t_merch = _col(book.tx.get("merchant", []), np.int8)
    t_cp = pa.concat_arrays(book.tx_cp) if book.tx_cp else pa.array([], pa.string())
    keep = (t_sec // DAY <= as_of) & (t_sec // DAY >= first_day)
    t_cust = a_cust[t_acc]
    t_order = _order(t_cust, t_sec - first_day * DAY, t_acc)
    t_order = t_order[keep[t_order]]
    t_seq = _rank_within(t_cust[t_order])
    o_acc = t_acc[t_order]
    o_merch = t_merch[t_order]
    transactions = pa.table(
        {
            "tx_id": ak.prefixed_ids("T", (cust_no[t_cust[t_order]], 9), (t_seq, 6)),
            "account_id": account_id.take(pa.array(o_acc)),
            "ts": pa.array(t_sec[t_order], type=pa.timestamp("s")),
            "amount": ak.money(t_cents[t_order]),
            "channel": ak.pick(TX_CHANNELS, t_chan[t_order]),
            "category": ak.pick(TX_CATEGORIES, t_cat[t_order]),
            "merchant_group": ak.pick((*MERCHANT_GROUPS, None), np.where(o_merch < 0, len(MERCHANT_GROUPS), o_merch)),
            "counterparty": t_cp.take(pa.array(t_order)),
        }
    )

    # balances: explicit rows, then running balances of current accounts and cards on top
    b_acc = [_col(book.bal.get("acc", []), np.int64)]
    b_day = [_col(book.bal.get("day", []), np.int32)]
    b_cents = [_col(book.bal.get("cents", []), np.int64)]
    b_prio = [np.zeros(b_acc[0].shape[0], dtype=np.int8)]
    sign = RUNNING_SIGN[a_prod]
    running = sign != 0
    r_acc = np.nonzero(running)[0]
    first = np.maximum(a_opened[r_acc], first_day - 1)
    b_acc.append(r_acc)
    b_day.append(first.astype(np.int32))
    b_cents.append(a_open_cents[r_acc])
    b_prio.append(np.zeros(r_acc.shape[0], dtype=np.int8))
    tsel = running[o_acc]
    if tsel.any():
        acc_r = o_acc[tsel]
        day_r = (t_sec[t_order][tsel] // DAY).astype(np.int64)
        amt_r = t_cents[t_order][tsel] * sign[acc_r]
        k = _order(acc_r, day_r - (first_day - 1))
        acc_r, day_r, amt_r = acc_r[k], day_r[k], amt_r[k]
        csum = np.cumsum(amt_r)
        new_acc = np.r_[True, acc_r[1:] != acc_r[:-1]]
        base = np.maximum.accumulate(np.where(new_acc, np.arange(acc_r.shape[0]), 0))
        before = csum[base] - amt_r[base]
        level = np.maximum(a_open_cents[acc_r] + csum - before, 0)
        last_of_day = np.r_[(acc_r[1:] != acc_r[:-1]) | (day_r[1:] != day_r[:-1]), True]
        b_acc.append(acc_r[last_of_day])
        b_day.append(day_r[last_of_day].astype(np.int32))
        b_cents.append(level[last_of_day])
        b_prio.append(np.ones(int(last_of_day.sum()), dtype=np.int8))
    # an account closed in the history has nothing from its closing day on
    closed_in = np.nonzero((a_closed != NULL_DAY) & (a_closed >= first_day) & HAS_BALANCE[a_prod])[0]
    b_acc.append(closed_in)
    b_day.append(a_closed[closed_in])
    b_cents.append(np.zeros(closed_in.shape[0], dtype=np.int64))
    b_prio.append(np.full(closed_in.shape[0], 2, dtype=np.int8))
    ba, bd, bc, bp = (np.concatenate(x) for x in (b_acc, b_day, b_cents, b_prio))
    ok = (bd <= as_of) & ((a_closed[ba] == NULL_DAY) | (bd <= a_closed[ba]))
    ba, bd, bc, bp = ba[ok], bd[ok], bc[ok], bp[ok]
    # customer/account order of the output, then by day; the highest priority wins a day
    bkey_cust = a_cust[ba] * 100 + seq[ba]
    k = _order(bkey_cust, bd.astype(np.int64) - (first_day - 1), bp.astype(np.int64))
    ba, bd, bc, bkey_cust = ba[k], bd[k], bc[k], bkey_cust[k]
    last = np.r_[(bkey_cust[1:] != bkey_cust[:-1]) | (bd[1:] != bd[:-1]), True]
    ba, bd, bc, bkey_cust = ba[last], bd[last], bc[last], bkey_cust[last]
    changed = np.r_[True, (bkey_cust[1:] != bkey_cust[:-1]) | (bc[1:] != bc[:-1])]
    ba, bd, bc = ba[changed], bd[changed], bc[changed]
    balances = pa.table({"account_id": account_id.take(pa.array(ba)), "date": ak.dates(bd), "balance": ak.money(bc)})

    # behaviour events, de-duplicated on (customer, ts, event)
    e_cust = _col(book.ev.get("cust", []), np.int64)
    e_sec = _col(book.ev.get("sec", []), np.int64)
    e_ev = _col(book.ev.get("event", []), np.int8)
    e_ok = (e_sec // DAY <= as_of) & (e_sec // DAY >= first_day)
    e_cust, e_sec, e_ev = e_cust[e_ok], e_sec[e_ok], e_ev[e_ok]
    k = _order(e_cust, e_sec - first_day * DAY, e_ev.astype(np.int64))
    e_cust, e_sec, e_ev = e_cust[k], e_sec[k], e_ev[k]
    uniq = np.r_[True, (e_cust[1:] != e_cust[:-1]) | (e_sec[1:] != e_sec[:-1]) | (e_ev[1:] != e_ev[:-1])]
    events = pa.table(
        {
            "customer_id": ak.prefixed_ids("C", (cust_no[e_cust[uniq]], 9)),
            "ts": pa.array(e_sec[uniq], type=pa.timestamp("s")),
            "event": ak.pick(BEHAVIOR_EVENTS, e_ev[uniq]),
        }
    )
    return {"accounts": accounts, "balances": balances, "transactions": transactions, "behavior_events": events}
