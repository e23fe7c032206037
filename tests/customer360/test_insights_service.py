"""Latest scores, tier history and the value quadrant for the 360 view."""

from __future__ import annotations

from datetime import date

import pytest
from bank360 import ACTOR, AS_OF, RM1, RM2, Bank

from bankcrm.db.engine import session_scope
from bankcrm.insights import service
from bankcrm.security.permissions import NotFound


def test_scores_history_and_quadrant(bank: Bank) -> None:
    with session_scope(bank.factory) as s:
        view = service.value_view(s, RM1, "C1", actor=ACTOR)
        assert view.score is not None and view.score.tier == "vip"
    assert (view.run_id, view.as_of) == (bank.run_id, AS_OF)
    assert [(t.as_of, t.tier) for t in view.tier_history] == [(AS_OF, "vip"), (date(2026, 5, 31), "potential")]
    q = view.quadrant
    assert q is not None
    assert (q.current_value, q.potential_value, q.segment, q.name) == (72.5, 31.0, "B", "high_low")
    assert [(c.segment, c.current_value, c.potential_value) for c in q.centres] == [
        ("B", 80.0, 40.0),
        ("A", 30.0, 70.0),
    ]


def test_no_scores_means_no_quadrant(bank: Bank) -> None:
    with session_scope(bank.factory) as s:
        view = service.value_view_of(s, "C9")
    assert (view.score, view.quadrant, view.tier_history) == (None, None, [])


def test_other_rms_customer_is_not_found(bank: Bank) -> None:
    with pytest.raises(NotFound), session_scope(bank.factory) as s:
        service.value_view(s, RM2, "C1", actor=ACTOR)
