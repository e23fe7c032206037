"""Several dispatchers at once on one outbox: disjoint claims, one hand-over per message, caps per customer."""

from __future__ import annotations

import collections
import threading

from outbox_bank import Bank, add_message_task

from bankcrm.db.engine import session_scope
from bankcrm.outbox import repository as repo
from bankcrm.outbox import service
from bankcrm.outbox.gateways import OutgoingMessage


class CountingGateway:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: collections.Counter[str] = collections.Counter()

    def send(self, message: OutgoingMessage) -> str:
        with self.lock:
            self.calls[message.idempotency_key] += 1
        return f"gw-{message.idempotency_key}"

    def lookup(self, idempotency_key: str) -> str | None:
        with self.lock:
            return f"gw-{idempotency_key}" if self.calls[idempotency_key] else None


def test_concurrent_dispatchers_share_the_work_and_keep_the_caps(bank: Bank) -> None:
    with session_scope(bank.factory) as s:
        for _ in range(6):
            add_message_task(s, "C1", "need_salary_plan", channel="sms", at=bank.clock())
            add_message_task(s, "C1", "birthday", channel="email", at=bank.clock())
        for n in range(12):
            add_message_task(s, "C3", "repayment_due", at=bank.clock(), facts={"amount": n, "due_on": "d"})
        service.enqueue_task_messages(s, bank.clock())
    gateway = CountingGateway()
    workers = [bank.dispatcher(worker=f"w{i}", batch=3) for i in range(3)]
    for w in workers:
        w.gateways = {"sms": gateway, "email": gateway, "wechat": gateway}
    errors: list[BaseException] = []

    def run(w: object) -> None:
        try:
            w.drain()  # type: ignore[attr-defined]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert max(gateway.calls.values()) == 1  # no message handed over twice
    with session_scope(bank.factory) as s:
        messages = repo.list_messages(s)
        sent = [m for m in messages if m.status == "sent"]
        assert sorted(gateway.calls) == sorted(m.idempotency_key for m in sent)
        # all twelve service reminders, and exactly the 7-day cap of C1's twelve marketing and care messages
        assert sum(1 for m in sent if m.customer_id == "C3") == 12
        assert sum(1 for m in sent if m.customer_id == "C1") == 2
        assert {m.status for m in messages if m.customer_id == "C1" and m.status != "sent"} == {"pending"}
        assert {m.claimed_by for m in messages} == {None}
