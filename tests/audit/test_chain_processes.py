"""Two separate processes appending to the audit log at once still leave one valid chain."""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import Engine, select

from bankcrm.audit.models import AuditEvent
from bankcrm.audit.service import verify
from bankcrm.config import Settings
from bankcrm.db.engine import session_factory, session_scope

WRITER = """
import pathlib
import sys
import time
from bankcrm.audit.service import Actor, record
from bankcrm.config import Settings
from bankcrm.db.engine import make_engine, session_factory, session_scope

settings = Settings(home=sys.argv[1], database_url=sys.argv[2] or None)
factory = session_factory(make_engine(settings))
go = pathlib.Path(sys.argv[5])
(go.parent / sys.argv[4]).touch()  # ready; both start writing when the test says go
while not go.exists():
    time.sleep(0.01)
for i in range(int(sys.argv[3])):
    with session_scope(factory) as s:
        record(s, Actor(sys.argv[4]), "customer.list", details={"page": i})
    time.sleep(0.002)  # leave the other writer a moment, so a busy machine still interleaves them
"""


def test_two_processes_keep_the_chain_linear(any_settings: Settings, any_engine: Engine, tmp_path: Path) -> None:
    url = any_settings.database_url or ""
    signals = tmp_path / "signals"
    signals.mkdir()
    go = signals / "go"
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(any_settings.home), url, "100", f"writer{n}", str(go)])
        for n in (1, 2)
    ]
    deadline = time.monotonic() + 120
    while not all((signals / f"writer{n}").exists() for n in (1, 2)):  # both processes have started
        assert time.monotonic() < deadline, "the writer processes did not start"
        assert all(p.poll() is None for p in procs), "a writer process exited before writing"
        time.sleep(0.02)
    go.touch()
    assert [p.wait(timeout=180) for p in procs] == [0, 0]
    with session_scope(session_factory(any_engine)) as s:
        result = verify(s)
        actors = list(s.scalars(select(AuditEvent.actor).order_by(AuditEvent.seq)))
    assert result.ok and result.rows_checked == 200
    # the writers really overlapped: the chain alternates between them at least once in the middle
    assert sum(a != b for a, b in itertools.pairwise(actors)) >= 2
