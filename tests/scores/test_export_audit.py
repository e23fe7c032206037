"""Every scores export leaves an audit event naming the run, the row count and the file."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

from sqlalchemy import Engine
from typer.testing import CliRunner

from bankcrm.audit.service import search, verify
from bankcrm.cli.main import app
from bankcrm.config import Settings
from bankcrm.db.engine import session_factory, session_scope


def test_export_is_audited(settings: Settings, engine: Engine, publish: Callable[..., int], tmp_path: Path) -> None:
    run_id = publish(engine, date(2026, 3, 31), ["C1", "C2", "C3"], ["vip", "potential", "ordinary"])
    out = tmp_path / "scores.csv"
    result = CliRunner().invoke(app, ["scores", "export", str(out), "--home", str(settings.home)])
    assert result.exit_code == 0, result.output
    with session_scope(session_factory(engine)) as s:
        (event,) = search(s, action="export")
        assert (event.actor, event.target_type, event.target_id) == ("cli", "scores_run", str(run_id))
        assert json.loads(event.details_json) == {"what": "scores", "run_id": run_id, "rows": 3, "file": str(out)}
        assert verify(s).ok
