"""Test helpers: a small bank with encrypted contact details, message rules and tasks, a fake clock and gateway."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bankcrm.config import Settings
from bankcrm.customers.models import Customer, Interaction
from bankcrm.outbox.dispatcher import Dispatcher, DispatchOptions
from bankcrm.outbox.gateways import GatewayError, OutgoingMessage
from bankcrm.security.crypto import CipherSource, FieldCipher
from bankcrm.staff.models import Branch, Staff
from bankcrm.tasks.models import Rule, Task

SHANGHAI = ZoneInfo("Asia/Shanghai")


def sh(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    """A Shanghai wall-clock time as an aware UTC datetime."""
    return datetime(y, mo, d, h, mi, tzinfo=SHANGHAI).astimezone(UTC)


RULES = {
    # rule id: (marketing, template zh, template en)
    "need_salary_plan": (
        True,
        "{customer_name}您好，为您推荐工资理财计划。",
        "Dear {customer_name}, a salary plan for you.",
    ),
    "birthday": (False, "{name}，祝您生日快乐！", "Happy birthday, {name}!"),
    "repayment_due": (
        False,
        "您的贷款将于{due_on}到期还款{amount:,.2f}元。",
        "Your repayment of {amount:,.2f} is due {due_on}.",
    ),
}


def build_bank(session: Session, cipher: FieldCipher, customers: dict[str, bool], *, with_email: bool = True) -> None:
    """Customers by id → marketing consent; phone 1380000xxxx, email cid@example.com."""
    session.add(Branch(branch_id="B1", name="Chaoyang"))
    session.flush()
    session.add(Staff(staff_id="S1", name="staff S1", role="rm", branch_id="B1", active=True))
    session.flush()
    for n, (cid, consent) in enumerate(customers.items()):
        phone = f"1380000{n:04d}"
        session.add(
            Customer(
                customer_id=cid,
                name="王芳",
                gender="F",
                birth_date=date(1985, 5, 5),
                id_number_enc=cipher.encrypt("110105198505050000", context="id_number") or "",
                id_number_bidx=f"id-{cid}",
                phone_enc=cipher.encrypt(phone, context="phone") or "",
                phone_bidx=f"ph-{cid}",
                email_enc=cipher.encrypt(f"{cid.lower()}@example.com", context="email") if with_email else None,
                onboard_date=date(2020, 1, 1),
                branch_id="B1",
                rm_id="S1",
                marketing_consent=consent,
            )
        )
    for rule_id, (marketing, zh, en) in RULES.items():
        session.add(
            Rule(
                rule_id=rule_id,
                category="event",
                name_zh=rule_id,
                name_en=rule_id,
                condition="true",
                action="message",
                priority="normal",
                sla_hours=24,
                marketing=marketing,
                template_zh=zh,
                template_en=en,
            )
        )
    session.flush()


def add_message_task(
    session: Session,
    customer_id: str,
    rule_id: str,
    *,
    channel: str | None = "sms",
    at: datetime,
    facts: dict[str, object] | None = None,
) -> Task:
    task = Task(
        customer_id=customer_id,
        rule_id=rule_id,
        kind="message",
        priority="normal",
        status="open",
        channel=channel,
        marketing=RULES[rule_id][0],
        facts_json=json.dumps(facts or {}),
        created_at=at,
        due_at=at + timedelta(days=1),
        open_key=None,
    )
    session.add(task)
    session.flush()
    return task


def log_marketing_call(session: Session, customer_id: str, at: datetime) -> None:
    session.add(Interaction(customer_id=customer_id, channel="call", purpose="marketing", occurred_at=at))
    session.flush()


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


class RecordingGateway:
    """Remembers every accepted message with the clock time; can fail on demand; dedups by key."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock
        self.sent: dict[str, tuple[OutgoingMessage, datetime | None]] = {}
        self.calls = 0
        self.fail_next: list[GatewayError] = []

    def send(self, message: OutgoingMessage) -> str:
        self.calls += 1
        if self.fail_next:
            raise self.fail_next.pop(0)
        if message.idempotency_key not in self.sent:
            self.sent[message.idempotency_key] = (message, self.clock() if self.clock else None)
        return f"gw-{message.idempotency_key}"

    def lookup(self, idempotency_key: str) -> str | None:
        return f"gw-{idempotency_key}" if idempotency_key in self.sent else None


@dataclass
class Bank:
    settings: Settings
    engine: Engine
    factory: sessionmaker[Session]
    cipher: FieldCipher
    clock: FakeClock
    gateway: RecordingGateway

    def dispatcher(self, *, worker: str = "w1", **options: float) -> Dispatcher:
        return Dispatcher(
            self.factory,
            {"sms": self.gateway, "email": self.gateway, "wechat": self.gateway},
            CipherSource(self.settings.effective_key_file),
            options=DispatchOptions(**options),  # type: ignore[arg-type]
            clock=self.clock,
            worker=worker,
        )


def make_recording_gateway(settings: Settings, channel: str) -> RecordingGateway:
    """A gateway factory named in settings (``outbox_bank:make_recording_gateway``)."""
    return RecordingGateway()
