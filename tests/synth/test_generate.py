"""The synthetic bank: determinism, valid master data, integrity, SPEC balance rules, distributions, formats, CLI."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from synth_rules import AS_OF, rule_hits
from typer.testing import CliRunner

from bankcrm.cli.main import app
from bankcrm.customers.identity import id_birth_date, is_valid_id_number, is_valid_phone
from bankcrm.reference import (
    BEHAVIOR_EVENTS,
    CUSTOMER_RISK_LEVELS,
    MERCHANT_GROUPS,
    OCCUPATIONS,
    PRODUCT_CATEGORIES,
    ROLES,
    STAFF_LEVELS,
    TX_CATEGORIES,
    TX_CHANNELS,
)
from bankcrm.synth import BundleSummary, generate_bundle, history_start, vocab
from bankcrm.synth.arrowkit import local_iso
from bankcrm.synth.writer import FILES

SMALL = {"customers": 300, "months": 3, "as_of": AS_OF}


def read_csv(path: Path) -> pa.Table:
    """A CSV bundle file with every column as text (empty means null)."""
    header = path.read_text(encoding="utf-8").split("\n", 1)[0]
    names = [h.strip('"') for h in header.split(",")]
    options = pcsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=True)
    return pcsv.read_csv(path, convert_options=options)


def test_history_start_counts_whole_months_back() -> None:
    assert history_start(date(2026, 11, 25), 12) == date(2025, 11, 26)
    assert history_start(date(2026, 3, 31), 1) == date(2026, 3, 1)
    assert history_start(date(2026, 1, 15), 6) == date(2025, 7, 16)


def test_same_inputs_give_identical_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    a = generate_bundle(tmp_path / "a", seed=1, **SMALL)  # type: ignore[arg-type]
    b = generate_bundle(tmp_path / "b", seed=1, **SMALL)  # type: ignore[arg-type]
    c = generate_bundle(tmp_path / "c", seed=2, **SMALL)  # type: ignore[arg-type]
    assert a.rows == b.rows
    for name in FILES:
        assert (tmp_path / "a" / f"{name}.csv").read_bytes() == (tmp_path / "b" / f"{name}.csv").read_bytes(), name
    assert (tmp_path / "a" / "customers.csv").read_bytes() != (tmp_path / "c" / "customers.csv").read_bytes()
    assert (tmp_path / "a" / "transactions.csv").read_bytes() != (tmp_path / "c" / "transactions.csv").read_bytes()
    assert c.rows["transactions"] > 0


def test_parquet_runs_are_identical_row_for_row(tmp_path: Path) -> None:
    for d in ("a", "b"):
        generate_bundle(tmp_path / d, seed=5, fmt="parquet", **SMALL)  # type: ignore[arg-type]
    for name in FILES:
        assert pq.read_table(tmp_path / "a" / f"{name}.parquet").equals(
            pq.read_table(tmp_path / "b" / f"{name}.parquet")
        )


def test_customers_have_valid_ids_phones_and_codes(csv_bundle: tuple[Path, BundleSummary]) -> None:
    customers = read_csv(csv_bundle[0] / "customers.csv").to_pylist()
    city_codes = {city: {code for _, code in districts} for city, districts in vocab.CITIES.items()}
    for c in customers:
        idn = c["id_number"]
        assert is_valid_id_number(idn), idn
        assert id_birth_date(idn) == date.fromisoformat(c["birth_date"])
        assert int(idn[16]) % 2 == (1 if c["gender"] == "M" else 0)  # the sequence digit is odd for men
        assert idn[:6] in city_codes[c["city"]]
        assert is_valid_phone(c["phone"]) and re.fullmatch(r"1(3\d|5\d|8\d|9\d)\d{8}", c["phone"])
        assert c["occupation"] in OCCUPATIONS and c["marketing_consent"] in ("Y", "N")
        assert c["risk_level"] in CUSTOMER_RISK_LEVELS
        assert 2 <= len(c["name"]) <= 4
    genders = {c["gender"] for c in customers}
    assert genders == {"M", "F"}
    assert 0.05 < sum(c["rm_id"] is None for c in customers) / len(customers) < 0.3  # some unassigned
    assert any(c["risk_assessed_on"] is None for c in customers)
    assert any(
        c["risk_assessed_on"] and date.fromisoformat(c["risk_assessed_on"]) < AS_OF - timedelta(days=365)
        for c in customers
    )


def test_staff_branches_and_products_look_like_a_bank(
    con: duckdb.DuckDBPyConnection, csv_bundle: tuple[Path, BundleSummary]
) -> None:
    staff = read_csv(csv_bundle[0] / "staff.csv").to_pylist()
    assert {s["role"] for s in staff} == set(ROLES)
    rms = [s for s in staff if s["role"] == "rm"]
    assert {s["level"] for s in rms} == set(STAFF_LEVELS)
    assert all(set(s["skills"].split(";")) <= set(PRODUCT_CATEGORIES) for s in rms)
    assert all(int(s["capacity"]) > 0 for s in rms)
    leads = {s["team_id"] for s in staff if s["role"] == "team_lead"}
    assert {s["team_id"] for s in rms} == leads  # every team has a lead
    branches = read_csv(csv_bundle[0] / "branches.csv").to_pylist()
    heads = [b for b in branches if b["parent_id"] is None]
    assert len(heads) == 1
    managed = {s["branch_id"] for s in staff if s["role"] == "branch_manager"}
    subs = {b["branch_id"] for b in branches if b["parent_id"] not in (None, heads[0]["branch_id"])}
    assert subs and subs <= managed
    products = read_csv(csv_bundle[0] / "products.csv").to_pylist()
    assert {p["category"] for p in products} == set(PRODUCT_CATEGORIES)
    for p in products:
        if p["category"] in ("wealth", "fund", "insurance", "precious_metal", "bond"):
            assert p["risk_level"] in ("R1", "R2", "R3", "R4", "R5")
    assert {p["risk_level"] for p in products} >= {"R1", "R2", "R3", "R4", "R5"}
    numbers = con.execute("select account_number from accounts where account_number is not null").fetchall()
    assert all(re.fullmatch(r"\d{16,19}", n) for (n,) in numbers)


def test_referential_integrity_and_unique_keys(con: duckdb.DuckDBPyConnection) -> None:
    parents = [  # child table, column, the keys it must point at
        ("customers", "branch_id", "select branch_id from br"),
        ("customers", "rm_id", "select staff_id from st where role = 'rm'"),
        ("accounts", "customer_id", "select customer_id from customers"),
        ("accounts", "product_id", "select product_id from products"),
        ("balances", "account_id", "select account_id from accounts"),
        ("transactions_raw", "account_id", "select account_id from accounts"),
        ("behavior_events", "customer_id", "select customer_id from customers"),
        ("st", "branch_id", "select branch_id from br"),
        ("br", "parent_id", "select branch_id from br"),
    ]
    for table, column, keys_sql in parents:
        sql = f"select count(*) from {table} where {column} is not null and {column} not in ({keys_sql})"
        assert con.execute(sql).fetchone() == (0,), (table, column)
    keys = {
        "customers": "customer_id",
        "accounts": "account_id",
        "transactions_raw": "tx_id",
        "balances": "account_id, date",
        "behavior_events": "customer_id, ts, event",
        "st": "staff_id",
        "br": "branch_id",
        "products": "product_id",
    }
    for table, key in keys.items():
        dup = con.execute(
            f"select count(*) from (select {key} from {table} group by all having count(*) > 1)"
        ).fetchone()
        assert dup == (0,), table
    codes = con.execute(
        "select list(distinct channel), list(distinct category), list(distinct merchant_group) from transactions"
    ).fetchone()
    assert codes is not None
    assert set(codes[0]) == set(TX_CHANNELS)
    assert set(codes[1]) <= set(TX_CATEGORIES) and {"payroll", "purchase", "investment", "repayment"} <= set(codes[1])
    assert {g for g in codes[2] if g} <= set(MERCHANT_GROUPS)
    events = {e for (e,) in con.execute("select distinct event from behavior_events").fetchall()}
    assert events <= set(BEHAVIOR_EVENTS) and "app_login" in events


def test_balances_one_row_per_change_and_history_start(
    con: duckdb.DuckDBPyConnection, csv_bundle: tuple[Path, BundleSummary]
) -> None:
    first = date.fromisoformat(csv_bundle[1].first_day)
    same = con.execute(
        "select count(*) from (select balance, lag(balance) over (partition by account_id order by date) as prev "
        "from balances) "
        "where balance = prev"
    ).fetchone()
    assert same == (0,)
    late = con.execute(
        f"""select count(*) from accounts a
            join (select account_id, min(date) as d from balances group by all) b using (account_id)
            where a.opened_on < date '{first}' and b.d > date '{first}'"""
    ).fetchone()
    assert late == (0,)
    assert con.execute(f"select count(*) from balances where date > date '{AS_OF}' or balance < 0").fetchone() == (0,)
    services = "('debit_card', 'mobile_banking', 'payroll_service')"
    assert con.execute(
        f"select count(*) from balances join accounts using (account_id) where category in {services}"
    ).fetchone() == (0,)
    no_history = con.execute(
        f"""select count(*) from accounts where category not in {services}
            and account_id not in (select account_id from balances)"""
    ).fetchone()
    assert no_history == (0,)
    # loans and cards: owed amounts with due dates, some overdue; some deposits matured and closed
    stats = con.execute(
        """select count(*) filter (where category like 'loan%' and next_due_on is not null),
                  count(*) filter (where days_past_due > 0),
                  count(*) filter (where category in ('deposit_time', 'wealth') and closed_on is not null),
                  count(*) filter (where category in ('deposit_time', 'wealth', 'bond') and maturity_on is not null)
           from accounts"""
    ).fetchone()
    assert stats is not None and all(v > 0 for v in stats)


def test_few_vips_hold_most_assets(con: duckdb.DuckDBPyConnection) -> None:
    share, aum_share = con.execute(
        f"""select count(*) filter (where v >= 500000)::double / count(*),
                   sum(v) filter (where v >= 500000) / sum(v)
            from (select c.customer_id, coalesce(avg(a.aum), 0) as v from customers c
                  left join aum a on a.customer_id = c.customer_id
                   and a.d between date '{AS_OF}' - 29 and date '{AS_OF}'
                  group by all)"""
    ).fetchone()  # type: ignore[misc]
    assert 0.01 <= share <= 0.04
    assert aum_share > 0.70


def test_young_mobile_customers_and_older_counter_customers(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute(
        f"""select case when date_diff('year', birth_date, date '{AS_OF}') < 35 then 'young'
                        when date_diff('year', birth_date, date '{AS_OF}') >= 60 then 'old' end as grp,
                   avg(case when channel in ('mobile', 'online') then 1.0 else 0 end) as mobile,
                   avg(case when channel = 'counter' then 1.0 else 0 end) as counter
            from initiated join customers using (customer_id) where grp is not null group by grp"""
    ).fetchall()
    by = {g: (m, c) for g, m, c in rows}
    assert by["young"][0] > by["old"][0] + 0.3
    assert by["old"][1] > by["young"][1] + 0.1
    payroll = con.execute("select count(distinct customer_id) from transactions where category = 'payroll'").fetchone()
    assert payroll is not None and payroll[0] > 500


def test_every_event_and_needs_rule_fires(
    con: duckdb.DuckDBPyConnection, csv_bundle: tuple[Path, BundleSummary]
) -> None:
    hits = rule_hits(con, AS_OF)
    planted = csv_bundle[1].planted
    for rule, customers in hits.items():
        assert customers, f"{rule} never fires"
        if rule in planted:
            assert set(planted[rule]) <= customers, rule
    assert planted["maturity"][0] in hits["need_reinvest"]
    assert len(hits["dormancy"]) > 20 and len(hits["attrition_risk"]) > 5  # they also arise naturally


def test_large_outflow_drains_the_account(
    con: duckdb.DuckDBPyConnection, csv_bundle: tuple[Path, BundleSummary]
) -> None:
    for customer in csv_bundle[1].planted["large_outflow"]:
        before, after = con.execute(
            f"""select (select balance from balances where account_id = a.account_id and date < date '{AS_OF}'
                        order by date desc limit 1),
                       (select balance from balances where account_id = a.account_id and date = date '{AS_OF}')
                from accounts a where customer_id = '{customer}' and category = 'deposit_current'"""
        ).fetchone()  # type: ignore[misc]
        assert before - after >= 500_000


def _as_text(table: pa.Table) -> pa.Table:
    """A Parquet table rendered the way the CSV bundle writes it."""
    cols = {}
    for name in table.column_names:
        col = table[name]
        if pa.types.is_timestamp(col.type):
            local = pc.add(col.cast(pa.int64()), 8 * 3600 * 1_000_000)
            text = local_iso(pc.divide(local, 1_000_000).to_numpy())
            cols[name] = text
        else:
            cols[name] = col.cast(pa.string())
    return pa.table(cols)


def test_csv_and_parquet_bundles_hold_the_same_data(tmp_path: Path) -> None:
    generate_bundle(tmp_path / "csv", seed=3, fmt="csv", **SMALL)  # type: ignore[arg-type]
    generate_bundle(tmp_path / "pq", seed=3, fmt="parquet", **SMALL)  # type: ignore[arg-type]
    for name in FILES:
        from_csv = read_csv(tmp_path / "csv" / f"{name}.csv")
        from_pq = pq.read_table(tmp_path / "pq" / f"{name}.parquet")
        assert from_csv.column_names == from_pq.column_names, name
        assert _as_text(from_pq).equals(from_csv), name
    ts = pq.read_table(tmp_path / "pq" / "transactions.parquet").schema.field("ts").type
    assert ts == pa.timestamp("us", tz="UTC")


def test_timestamps_are_local_iso_with_offset(csv_bundle: tuple[Path, BundleSummary]) -> None:
    tx = read_csv(csv_bundle[0] / "transactions.csv").slice(0, 2000)
    for ts in tx["ts"].to_pylist():
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", ts)
        assert datetime.fromisoformat(ts).date() <= AS_OF
    amounts = tx["amount"].to_pylist()
    assert all(re.fullmatch(r"-?\d+\.\d\d", a) for a in amounts)


# --- injected errors -------------------------------------------------------------------------------

REQUIRED = {
    "branches": ("branch_id", "name"),
    "staff": ("staff_id", "name", "role", "branch_id"),
    "customers": ("customer_id", "name", "gender", "birth_date", "id_number", "phone", "onboard_date", "branch_id"),
    "products": ("product_id", "name", "category"),
    "accounts": ("account_id", "customer_id", "product_id", "opened_on"),
    "balances": ("account_id", "date", "balance"),
    "transactions": ("tx_id", "account_id", "ts", "amount", "channel", "category"),
    "behavior_events": ("customer_id", "ts", "event"),
}
TYPES = {
    "birth_date": date.fromisoformat,
    "onboard_date": date.fromisoformat,
    "risk_assessed_on": date.fromisoformat,
    "opened_on": date.fromisoformat,
    "maturity_on": date.fromisoformat,
    "closed_on": date.fromisoformat,
    "next_due_on": date.fromisoformat,
    "date": date.fromisoformat,
    "ts": datetime.fromisoformat,
    "income_monthly": float,
    "amount_due": float,
    "balance": float,
    "amount": float,
    "expected_yield": float,
    "term_days": int,
    "days_past_due": int,
    "capacity": int,
}
LISTS = {
    "role": ROLES,
    "level": STAFF_LEVELS,
    "gender": ("M", "F"),
    "occupation": OCCUPATIONS,
    "marketing_consent": ("Y", "N"),
    "risk_level": (*CUSTOMER_RISK_LEVELS, "R1", "R2", "R3", "R4", "R5"),
    "category": (*PRODUCT_CATEGORIES, *TX_CATEGORIES),
    "is_agency": ("Y", "N"),
    "channel": TX_CHANNELS,
}
KEYS = {
    "branches": ("branch_id",),
    "staff": ("staff_id",),
    "customers": ("customer_id",),
    "products": ("product_id",),
    "accounts": ("account_id",),
    "balances": ("account_id", "date"),
    "transactions": ("tx_id",),
}
PARENTS = {
    "staff": {"branch_id": "branches"},
    "customers": {"branch_id": "branches"},
    "accounts": {"customer_id": "customers", "product_id": "products"},
    "balances": {"account_id": "accounts"},
    "transactions": {"account_id": "accounts"},
    "behavior_events": {"customer_id": "customers"},
}


def _classify(file: str, row: dict[str, str | None], accepted: dict[str, set[tuple[str, ...]]]) -> str | None:
    """An independent reading of SPEC section 3's loading rules, in the agreed precedence."""
    if any(not row.get(c) for c in REQUIRED[file]) or (
        file == "products"
        and row["category"] in ("wealth", "fund", "insurance", "precious_metal", "bond")
        and not row["risk_level"]
    ):
        return "missing_required"
    for col, parse in TYPES.items():
        if row.get(col):
            try:
                parse(row[col])  # type: ignore[operator]
            except ValueError:
                return "bad_type"
    for col, allowed in LISTS.items():
        if row.get(col) and row[col] not in allowed:
            return "invalid_value"
    if file == "customers":
        if not is_valid_id_number(row["id_number"] or ""):
            return "id_checksum"
        if not is_valid_phone(row["phone"] or ""):
            return "bad_phone"
    for col, parent in PARENTS.get(file, {}).items():
        if (row[col],) not in accepted[parent]:
            return "unknown_key"
    if file in KEYS and tuple(row[k] or "" for k in KEYS[file]) in accepted[file]:
        return "duplicate_key"
    return None


def test_inject_errors_writes_a_consistent_expected_report(tmp_path: Path) -> None:
    summary = generate_bundle(tmp_path, seed=9, inject_errors=True, **SMALL)  # type: ignore[arg-type]
    expected = json.loads((tmp_path / "expected_load.json").read_text(encoding="utf-8"))
    injected: dict[str, dict[int, dict[str, object]]] = {}
    for item in expected["injected"]:
        injected.setdefault(item["file"], {})[item["row"]] = item
    accepted: dict[str, set[tuple[str, ...]]] = {}
    all_reasons: set[str] = set()
    for name in FILES:
        rows = read_csv(tmp_path / f"{name}.csv").to_pylist()
        report = expected["files"][name]
        assert report["read"] == len(rows) == summary.rows[name]
        assert report["accepted"] + report["rejected"] == report["read"]
        assert sum(report["reasons"].values()) == report["rejected"]
        keys = KEYS.get(name, ("customer_id",))
        accepted[name] = set()
        counted: dict[str, int] = {}
        warnings = 0
        for i, row in enumerate(rows, start=1):
            mine = injected.get(name, {}).get(i)
            reason = _classify(name, row, accepted) if mine else None
            if mine:
                assert reason == mine["reason"], (name, i, row)
                if reason:
                    counted[reason] = counted.get(reason, 0) + 1
                if name == "customers" and row["rm_id"] and not row["rm_id"].startswith("S000"):
                    warnings += 1
            if reason is None:
                accepted[name].add(tuple(row[k] or "" for k in keys))
        assert counted == report["reasons"], name
        assert warnings == report["warnings"], name
        all_reasons |= set(counted)
    assert all_reasons == {
        "missing_required",
        "bad_type",
        "invalid_value",
        "id_checksum",
        "bad_phone",
        "unknown_key",
        "duplicate_key",
    }
    assert expected["files"]["customers"]["warnings"] == 1
    # a child of a rejected parent is rejected too
    assert any(i["file"] == "accounts" and i["key"]["account_id"] == "A90000000002" for i in expected["injected"])


def test_inject_errors_in_parquet_leaves_out_only_bad_types(tmp_path: Path) -> None:
    summary = generate_bundle(tmp_path, seed=9, fmt="parquet", inject_errors=True, **SMALL)  # type: ignore[arg-type]
    expected = json.loads((tmp_path / "expected_load.json").read_text(encoding="utf-8"))
    reasons = {r for f in expected["files"].values() for r in f["reasons"]}
    assert "bad_type" not in reasons and {"id_checksum", "bad_phone", "duplicate_key", "unknown_key"} <= reasons
    for name in FILES:
        assert (
            pq.read_metadata(tmp_path / f"{name}.parquet").num_rows
            == expected["files"][name]["read"]
            == summary.rows[name]
        )


# --- command line ----------------------------------------------------------------------------------


def test_cli_writes_the_bundle_and_reports_speed(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    result = CliRunner().invoke(
        app,
        ["--home", str(tmp_path / "home"), "generate", str(out), "--customers", "150", "--months", "2",
         "--seed", "4", "--as-of", "2026-11-25", "--format", "parquet", "--database-url", "sqlite:///unused.db"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "rows/s" in result.output
    for name in FILES:
        assert (out / f"{name}.parquet").exists()
    customers = pq.read_table(out / "customers.parquet")
    assert customers.num_rows == 150
    assert np.all(np.array([is_valid_id_number(x) for x in customers["id_number"].to_pylist()]))


def test_cli_rejects_a_bad_date(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["generate", str(tmp_path), "--customers", "150", "--as-of", "25/11/2026"])
    assert result.exit_code != 0


def test_a_history_of_one_month_generates(tmp_path: Path) -> None:
    # shorter than the 40 days over which two sector funds make their big move
    summary = generate_bundle(tmp_path / "b", customers=100, months=1, seed=3, as_of=AS_OF)
    assert summary.rows["customers"] == 100 and summary.rows["transactions"] > 0


def test_the_sector_funds_make_their_whole_move_in_a_short_history() -> None:
    from bankcrm.synth.master import PRODUCTS, SECTOR_DOWN_FUND, SECTOR_UP_FUND
    from bankcrm.synth.population import nav_paths

    as_of = int(np.datetime64(AS_OF, "D").astype(np.int64))
    for days in (10, 39, 40, 120):
        nav = nav_paths(np.random.default_rng(5), as_of, as_of - days + 1)
        ids = [p.product_id for p in PRODUCTS]
        up, down = nav[ids.index(SECTOR_UP_FUND)], nav[ids.index(SECTOR_DOWN_FUND)]
        window = min(40, days)
        assert up[-1] / up[-1 - window] == pytest.approx(1.24)
        assert down[-1] / down[-1 - window] == pytest.approx(0.83)
