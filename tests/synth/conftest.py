"""Bundles generated once per test session, loaded into DuckDB for the SPEC checks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from synth_rules import AS_OF, connect_csv, prepare_rules

from bankcrm.synth import BundleSummary, generate_bundle

CUSTOMERS = 5000


@pytest.fixture(scope="session")
def csv_bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, BundleSummary]:
    out = tmp_path_factory.mktemp("bundle_csv")
    return out, generate_bundle(out, customers=CUSTOMERS, months=8, seed=7, as_of=AS_OF, fmt="csv")


@pytest.fixture(scope="session")
def con(csv_bundle: tuple[Path, BundleSummary]) -> Iterator[duckdb.DuckDBPyConnection]:
    c = connect_csv(csv_bundle[0])
    prepare_rules(c, AS_OF)
    yield c
    c.close()
