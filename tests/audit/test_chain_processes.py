"""Two separate processes appending to the audit log at once still leave one valid chain."""

from __future__ import annotations

import itertools
import subprocess
import sys
import time

from sqlalchemy import Engine, select

from bankcrm.audit.models import AuditEvent
from bankcrm.audit.service import verify
from bankcrm.config import Settings
from bankcrm.db.engine import session_factory, session_scope

WRITER = """
import sys
import time
from bankcrm.audit.service import Actor, record
from bankcrm.config import Settings
from bankcrm.db.engine import make_engine, session_factory, session_scope

settings = Settings(home=sys.argv[1], database_url=sys.argv[2] or None)
factory = session_factory(make_engine(settings))
time.sleep(max(0.0, float(sys.argv[5]) - time.time()))  # both start writing at the same moment
for i in range(int(sys.argv[3])):
    with session_scope(factory) as s:
        record(s, Actor(sys.argv[4]), "customer.list", details={"page": i})
"""


def test_two_processes_keep_the_chain_linear(any_settings: Settings, any_engine: Engine) -> None:
    url = any_settings.database_url or ""
    start = str(time.time() + 4)
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(any_settings.home), url, "100", f"writer{n}", start])
        for n in (1, 2)
    ]
    assert [p.wait(timeout=180) for p in procs] == [0, 0]
    with session_scope(session_factory(any_engine)) as s:
        result = verify(s)
        actors = list(s.scalars(select(AuditEvent.actor).order_by(AuditEvent.seq)))
    assert result.ok and result.rows_checked == 200
    # the writers really overlapped: the chain alternates between them at least once in the middle
    assert sum(a != b for a, b in itertools.pairwise(actors)) >= 2
