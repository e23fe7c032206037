"""Fixtures for the security tests: a cheap argon2id hasher and a clock the test moves."""

from __future__ import annotations

import pytest
from security_org import CountingHasher, FakeClock


@pytest.fixture
def hasher() -> CountingHasher:
    # argon2id with a tiny cost: the tests check behaviour, not the cost
    return CountingHasher(time_cost=1, memory_cost_kib=1024, parallelism=1)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
