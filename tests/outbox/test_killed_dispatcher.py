"""`bankcrm dispatch` killed with SIGKILL in the middle of a batch, restarted: every message exactly once."""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from outbox_bank import add_message_task, build_bank
from sqlalchemy import Engine

from bankcrm.config import Settings
from bankcrm.db.base import utcnow
from bankcrm.db.engine import session_factory, session_scope
from bankcrm.outbox import repository as repo
from bankcrm.outbox import service
from bankcrm.security.crypto import cipher_for

HERE = Path(__file__).parent
MESSAGES = 16


def _env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BANKCRM_")}
    env.update(
        {
            "BANKCRM_HOME": str(settings.home),
            "BANKCRM_SMS_GATEWAY": "slow_gateway:make",
            "BANKCRM_OUTBOX_LEASE_SECONDS": "1",
            "PYTHONPATH": os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")]),
        }
    )
    if settings.database_url:
        env["BANKCRM_DATABASE_URL"] = settings.database_url
    return env


def _dispatch(settings: Settings, *extra: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "bankcrm.cli", "dispatch", "--batch", "8", "--interval", "0.2", *extra]
    return subprocess.Popen(cmd, env=_env(settings), stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def test_killed_mid_batch_and_restarted_sends_each_message_once(any_settings: Settings, any_engine: Engine) -> None:
    with session_scope(session_factory(any_engine)) as s:
        build_bank(s, cipher_for(any_settings.effective_key_file), {"C1": True})
        for n in range(MESSAGES):
            # service reminders: quiet hours and caps do not hold them, whatever the wall clock says
            add_message_task(s, "C1", "repayment_due", at=utcnow(), facts={"amount": n, "due_on": "2026-12-01"})
    sms = any_settings.home / "outbox" / "sms.jsonl"
    kills = 0
    left_sending = 0
    for _round in range(2):
        before = len(_lines(sms))
        proc = _dispatch(any_settings)
        deadline = time.monotonic() + 60
        while len(_lines(sms)) < before + 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        time.sleep(0.05)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=30)
        with session_scope(session_factory(any_engine)) as s:
            left_sending += len(repo.list_messages(s, status="sending"))
        time.sleep(1.1)  # let the dead worker's lease run out
    assert kills == 2
    assert len(_lines(sms)) < MESSAGES  # the kills really landed mid-run
    final = _dispatch(any_settings, "--once", "--json")
    out, err = final.communicate(timeout=120)
    assert final.returncode == 0, err.decode()
    summary = json.loads(out)
    keys = [json.loads(line)["key"] for line in _lines(sms)]
    with session_scope(session_factory(any_engine)) as s:
        messages = repo.list_messages(s)
        assert len(messages) == MESSAGES
        assert {m.status for m in messages} == {"sent"}
        assert sorted(keys) == sorted(m.idempotency_key for m in messages)  # each delivered exactly once
        reconciled = sum(1 for m in messages for a in repo.attempts_of(s, m.id) if a.outcome == "reconciled")
        assert service.enqueue_task_messages(s, utcnow()).queued == 0
    assert len(keys) == len(set(keys)) == MESSAGES
    # a message handed over before a kill was recorded by lookup, not handed over again
    calls = collections.Counter(line.split()[1] for line in _lines(sms.parent / "calls.log"))
    assert max(calls.values()) <= 2
    assert sum(calls.values()) - MESSAGES <= kills
    # the restart finished what the kills left: sends, and hand-overs recorded without a second send
    assert summary["sent"] + summary["reconciled"] >= 1
    assert reconciled <= left_sending
