"""Separate processes recording audit events at once still leave one valid chain, with no event lost or left pending."""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import Engine, func, select

from bankcrm.audit.models import AuditEvent, AuditPending
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

WRITERS = (1, 2, 3)


def test_processes_keep_the_chain_linear_and_lose_nothing(
    any_settings: Settings, any_engine: Engine, tmp_path: Path
) -> None:
    url = any_settings.database_url or ""
    signals = tmp_path / "signals"
    signals.mkdir()
    go = signals / "go"
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(any_settings.home), url, "100", f"writer{n}", str(go)])
        for n in WRITERS
    ]
    deadline = time.monotonic() + 120
    while not all((signals / f"writer{n}").exists() for n in WRITERS):  # both processes have started
        assert time.monotonic() < deadline, "the writer processes did not start"
        assert all(p.poll() is None for p in procs), "a writer process exited before writing"
        time.sleep(0.02)
    go.touch()
    assert [p.wait(timeout=180) for p in procs] == [0] * len(WRITERS)
    # no explicit seal here: each commit's own seal, or the sealer at work, chained every event
    with session_scope(session_factory(any_engine)) as s:
        result = verify(s)
        actors = list(s.scalars(select(AuditEvent.actor).order_by(AuditEvent.seq)))
        pages = {
            n: list(s.scalars(select(AuditEvent.details_json).where(AuditEvent.actor == f"writer{n}").order_by("seq")))
            for n in WRITERS
        }
        pending = s.scalar(select(func.count()).select_from(AuditPending))
    assert result.ok and result.rows_checked == 100 * len(WRITERS) and result.pending == pending == 0
    # every writer's events are there, in the order it wrote them
    assert pages == {n: [f'{{"page":{i}}}' for i in range(100)] for n in WRITERS}
    # the writers really overlapped: the chain alternates between them at least once in the middle
    assert sum(a != b for a, b in itertools.pairwise(actors)) >= 2
