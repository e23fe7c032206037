"""The ingest → lake → nightly contract: transaction dates are Asia/Shanghai calendar dates end to end."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bankcrm.analytics.engines import compute_features
from bankcrm.config import Settings
from bankcrm.customers.identity import id_check_char
from bankcrm.ingest.service import ingest_bundle

# as_of − 89 = 2026-04-01
AS_OF = date(2026, 6, 29)


def _write(folder: Path, name: str, rows: list[dict[str, str]]) -> None:
    with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _tx(tx_id: str, ts: str, amount: str) -> dict[str, str]:
    return {
        "tx_id": tx_id,
        "account_id": "A1",
        "ts": ts,
        "amount": amount,
        "channel": "mobile",
        "category": "purchase",
        "merchant_group": "",
        "counterparty": "",
    }


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    folder = tmp_path / "bundle"
    folder.mkdir()
    first17 = "11010519900307123"
    _write(folder, "branches", [{"branch_id": "B001", "name": "Head office", "city": "Shanghai", "parent_id": ""}])
    _write(
        folder,
        "customers",
        [
            {
                "customer_id": "C001",
                "name": "张伟",
                "gender": "M",
                "birth_date": "1990-03-07",
                "id_number": first17 + id_check_char(first17),
                "phone": "13812345678",
                "onboard_date": "2020-05-01",
                "branch_id": "B001",
            }
        ],
    )
    _write(folder, "products", [{"product_id": "P1", "name": "活期储蓄", "category": "deposit_current"}])
    _write(
        folder,
        "accounts",
        [{"account_id": "A1", "customer_id": "C001", "product_id": "P1", "opened_on": "2021-01-10"}],
    )
    _write(folder, "balances", [{"account_id": "A1", "date": "2025-01-15", "balance": "100000.00"}])
    _write(
        folder,
        "transactions",
        [
            _tx("T1", "2026-04-01T00:30:00+08:00", "-250.00"),  # 1 April local: first day of the 90
            _tx("T2", "2026-03-31T23:59:00+08:00", "-40.00"),  # 31 March local: outside
            _tx("T3", "2026-03-31T16:30:00+00:00", "-60.00"),  # given in UTC, 1 April 00:30 local: inside
            _tx("T4", "2026-06-30T00:10:00+08:00", "-99.00"),  # after as_of locally (29 June in UTC): ignored
        ],
    )
    return folder


def test_ingested_transactions_are_windowed_by_their_shanghai_date(
    settings: Settings, engine: Engine, bundle: Path
) -> None:
    ingest_bundle(settings, engine, bundle)
    rows = compute_features(settings.lake_dir, AS_OF, threads=1).to_pylist()
    assert len(rows) == 1
    c = rows[0]
    assert c["tx_count_90d"] == 2  # T1 and T3
    assert c["tx_amount_90d"] == 310.0
    assert c["last_tx_date"] == date(2026, 4, 1)
    assert c["recency_days"] == 89
    assert c["active_months_6m"] == 2  # March (T2) and April
    assert c["aum_avg_30d"] == 100_000.0
