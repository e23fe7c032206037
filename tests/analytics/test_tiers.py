"""Tiers (SPEC 4.3): handbook thresholds at their edges and the downgrade hysteresis over successive runs."""

from __future__ import annotations

from datetime import date

import ibis
import pyarrow as pa
import pytest
from nightly_tables import collect, evaluate

from bankcrm.analytics.config import NightlyConfig
from bankcrm.analytics.tiers import apply_hysteresis, is_month_end, with_tier_raw


def _raw_tiers(rows: list[tuple[str, float | None, float | None, float | None]]) -> dict[str, str]:
    table = ibis.memtable(
        pa.table(
            {
                "customer_id": [r[0] for r in rows],
                "aum_avg_30d": pa.array([r[1] for r in rows], pa.float64()),
                "aum_growth_6m": pa.array([r[2] for r in rows], pa.float64()),
                "tx_volume_growth_6m": pa.array([r[3] for r in rows], pa.float64()),
            }
        )
    )
    return {cid: row["tier_raw"] for cid, row in collect(with_tier_raw(table)).items()}


def test_tier_raw_thresholds() -> None:
    tiers = _raw_tiers(
        [
            ("at_vip", 500_000.0, None, None),
            ("just_under", 499_999.99, None, None),
            ("aum_growth", 499_999.99, 0.30, None),
            ("tx_growth", 1_000.0, None, 0.30),
            ("both_under", 1_000.0, 0.2999, 0.2999),
            ("vip_beats_growth", 600_000.0, 2.0, 2.0),
            ("negative", 0.0, -0.5, None),
        ]
    )
    assert tiers == {
        "at_vip": "vip",
        "just_under": "ordinary",
        "aum_growth": "potential",
        "tx_growth": "potential",
        "both_under": "ordinary",
        "vip_beats_growth": "vip",
        "negative": "ordinary",
    }


HISTORY_SCHEMA = pa.schema(
    [("customer_id", pa.string()), ("as_of", pa.date32()), ("tier_raw", pa.string()), ("tier", pa.string())]
)


class Runs:
    """Successive nightly runs, each publishing its tiers into the history the next run reads."""

    def __init__(self, history: list[tuple[str, date, str, str]]) -> None:
        self.history = pa.Table.from_pylist(
            [{"customer_id": c, "as_of": d, "tier_raw": r, "tier": t} for c, d, r, t in history],
            schema=HISTORY_SCHEMA,
        )

    def run(self, as_of: date, raw: dict[str, str], config: NightlyConfig | None = None) -> dict[str, str]:
        current = ibis.memtable(pa.table({"customer_id": list(raw), "tier_raw": list(raw.values())}))
        published = evaluate(apply_hysteresis(current, ibis.memtable(self.history), as_of, config))
        self.history = pa.concat_tables(
            [
                self.history,
                published.select(["customer_id", "tier_raw", "tier"])
                .append_column("as_of", pa.array([as_of] * published.num_rows, pa.date32()))
                .select(HISTORY_SCHEMA.names)
                .cast(HISTORY_SCHEMA),
            ]
        )
        return dict(zip(published["customer_id"].to_pylist(), published["tier"].to_pylist(), strict=True))


def test_month_end() -> None:
    assert is_month_end(date(2026, 2, 28)) and not is_month_end(date(2028, 2, 28))
    assert is_month_end(date(2028, 2, 29)) and is_month_end(date(2026, 12, 31))


def test_hysteresis_over_three_month_end_runs() -> None:
    dec31 = date(2025, 12, 31)
    runs = Runs(
        [
            ("falls", dec31, "vip", "vip"),
            ("wobbles", dec31, "vip", "vip"),
            ("rises", dec31, "ordinary", "ordinary"),
            ("two_steps", dec31, "vip", "vip"),
            # upgraded in the middle of January: earlier month-ends belong to the old tier
            ("late_vip", dec31, "potential", "potential"),
            ("late_vip", date(2026, 1, 15), "vip", "vip"),
        ]
    )
    # run 1, 31 Jan (month-end 1 of 3 for the fallers)
    assert runs.run(
        date(2026, 1, 31),
        {
            "falls": "potential",
            "wobbles": "potential",
            "rises": "vip",
            "new": "ordinary",
            "two_steps": "ordinary",
            "late_vip": "potential",
        },
    ) == {
        "falls": "vip",
        "wobbles": "vip",
        "rises": "vip",  # upgrades take effect at once
        "new": "ordinary",  # no earlier run: tier = tier_raw
        "two_steps": "vip",
        "late_vip": "vip",
    }
    # a mid-month run neither counts nor breaks the streak
    assert runs.run(date(2026, 2, 15), {"falls": "ordinary", "wobbles": "potential"}) == {
        "falls": "vip",
        "wobbles": "vip",
    }
    # run 2, 28 Feb (month-end 2 of 3); "wobbles" qualifies again, which breaks its streak
    assert runs.run(
        date(2026, 2, 28),
        {
            "falls": "potential",
            "wobbles": "vip",
            "rises": "potential",
            "two_steps": "ordinary",
            "late_vip": "potential",
        },
    ) == {"falls": "vip", "wobbles": "vip", "rises": "vip", "two_steps": "vip", "late_vip": "vip"}
    # run 3, 31 Mar: the third consecutive lower month-end → downgrade to this run's tier_raw
    assert runs.run(
        date(2026, 3, 31),
        {
            "falls": "potential",
            "wobbles": "potential",
            "rises": "potential",
            "two_steps": "potential",
            "late_vip": "ordinary",
        },
    ) == {
        "falls": "potential",
        "wobbles": "vip",  # only 1 lower month-end since 28 Feb
        "rises": "vip",  # vip since 31 Jan: lower at 28 Feb and 31 Mar only
        "two_steps": "potential",
        # 31 Dec was potential under the old tier, so it does not count: 31 Jan, 28 Feb, 31 Mar do
        "late_vip": "ordinary",
    }
    # and the following month-end continues from the new tier
    assert runs.run(date(2026, 4, 30), {"falls": "potential", "rises": "ordinary"}) == {
        "falls": "potential",
        "rises": "ordinary",  # 28 Feb, 31 Mar, 30 Apr all below vip
    }


def test_a_rerun_of_the_same_day_ignores_its_own_earlier_result() -> None:
    runs = Runs([("c", date(2026, 1, 31), "vip", "vip"), ("c", date(2026, 2, 28), "ordinary", "ordinary")])
    # the 28 Feb row is the run being redone; the reference is 31 Jan's vip
    assert runs.run(date(2026, 2, 28), {"c": "ordinary"}) == {"c": "vip"}


@pytest.mark.parametrize(("months", "expected"), [(1, "ordinary"), (2, "vip")])
def test_downgrade_months_are_configuration(months: int, expected: str) -> None:
    runs = Runs([("c", date(2026, 1, 31), "vip", "vip")])
    config = NightlyConfig(downgrade_after_month_ends=months)
    assert runs.run(date(2026, 2, 28), {"c": "ordinary"}, config) == {"c": expected}
