"""Gateways end to end: e-mail through a real local SMTP server (aiosmtpd), the file gateway, the command."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import time
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from outbox_bank import Bank, add_message_task, build_bank
from pydantic import SecretStr
from typer.testing import CliRunner

from bankcrm.audit.service import Actor
from bankcrm.cli.main import app
from bankcrm.config import Settings
from bankcrm.db.base import utcnow
from bankcrm.db.engine import session_factory, session_scope
from bankcrm.outbox import repository as repo
from bankcrm.outbox import service
from bankcrm.outbox.dispatcher import run_dispatcher
from bankcrm.outbox.gateways import FileGateway, GatewayError, OutgoingMessage, SmtpGateway, build_gateway
from bankcrm.outbox.policy import ContactPolicy
from bankcrm.security.crypto import cipher_for
from bankcrm.tasks.models import Task


class Inbox:
    """An aiosmtpd handler that keeps every delivered message; refuses recipients at refused.example."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.endswith("@refused.example"):
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 Message accepted for delivery"


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"bank", b"s3cret")
    return AuthResult(success=ok)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=_authenticate, auth_require_tls=False)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def _smtp_settings(bank: Bank, port: int, **extra: Any) -> Settings:
    return bank.settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_sender": "crm@bank.example", **extra}
    )


def test_email_over_smtp_end_to_end(bank: Bank, smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    settings = _smtp_settings(bank, port, smtp_user="bank", smtp_password=SecretStr("s3cret"))
    with session_scope(bank.factory) as s:
        # the real clock decides quiet hours here: switch them off for this test
        service.save_policy(s, ContactPolicy(quiet_start=time(0, 0), quiet_end=time(0, 0)), actor=Actor.cli())
        task = add_message_task(s, "C3", "birthday", channel="email", at=utcnow())
    total = run_dispatcher(settings, bank.engine, once=True)
    assert total.sent == 1
    ((rcpt, mail),) = inbox.messages
    assert rcpt == ["c3@example.com"]
    assert mail["Message-ID"] == f"<task-{task.task_id}@bank.example>"
    assert mail["From"] == "crm@bank.example"
    assert mail["Subject"] == "birthday"
    assert mail.get_payload(decode=True).decode("utf-8").strip() == "王芳，祝您生日快乐！"
    with session_scope(bank.factory) as s:
        (msg,) = repo.list_messages(s)
        assert (msg.status, msg.gateway_message_id) == ("sent", f"<task-{task.task_id}@bank.example>")
        assert s.get(Task, task.task_id).status == "done"  # type: ignore[union-attr]
    # the journal knows the key: asking again does not deliver twice
    gateway = build_gateway(settings, "email")
    assert isinstance(gateway, SmtpGateway)
    assert gateway.lookup(f"task-{task.task_id}") == f"<task-{task.task_id}@bank.example>"
    again = OutgoingMessage(f"task-{task.task_id}", "email", "c3@example.com", "x")
    assert gateway.send(again) == f"<task-{task.task_id}@bank.example>"
    assert len(inbox.messages) == 1


def test_smtp_refusals_and_outages(bank: Bank, smtp_server: tuple[Inbox, int], tmp_path: Any) -> None:
    inbox, port = smtp_server
    gw = SmtpGateway(host="127.0.0.1", port=port, sender="crm@bank.example", journal_path=tmp_path / "j.jsonl")
    with pytest.raises(GatewayError) as refused:
        gw.send(OutgoingMessage("k1", "email", "nobody@refused.example", "x"))
    assert refused.value.permanent
    down = SmtpGateway(
        host="127.0.0.1", port=_free_port(), sender="crm@bank.example", journal_path=tmp_path / "j2.jsonl", timeout=2
    )
    with pytest.raises(GatewayError) as unreachable:
        down.send(OutgoingMessage("k2", "email", "a@example.com", "x"))
    assert not unreachable.value.permanent
    assert inbox.messages == []


def test_file_gateway_writes_one_masked_line_per_key(tmp_path: Any) -> None:
    path = tmp_path / "outbox" / "sms.jsonl"
    gw = FileGateway(path, "sms")
    first = gw.send(OutgoingMessage("task-1", "sms", "13800001234", "您好。回复TD退订"))
    # another process (a second gateway object on the same file) sees the key and does not write again
    assert FileGateway(path, "sms").send(OutgoingMessage("task-1", "sms", "13800001234", "changed")) == first
    gw.send(OutgoingMessage("task-2", "sms", "13800005678", "b"))
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [r["key"] for r in rows] == ["task-1", "task-2"]
    assert rows[0]["to"] == "138****1234" and rows[0]["body"] == "您好。回复TD退订"
    assert "13800001234" not in path.read_text(encoding="utf-8")
    assert gw.lookup("task-2") == "sms-task-2" and gw.lookup("task-3") is None
    assert path.stat().st_mode & 0o077 == 0


def test_gateway_factory_from_settings(tmp_path: Any) -> None:
    settings = Settings(home=tmp_path)
    assert isinstance(build_gateway(settings, "email"), FileGateway)  # no SMTP host: the file stands in
    assert isinstance(build_gateway(settings, "wechat"), FileGateway)
    smtp = Settings(home=tmp_path, smtp_host="mail.example", email_gateway="auto")
    assert isinstance(build_gateway(smtp, "email"), SmtpGateway)
    plugged = Settings(home=tmp_path, sms_gateway="outbox_bank:make_recording_gateway")
    assert build_gateway(plugged, "sms").lookup("x") is None
    with pytest.raises(ValueError):
        build_gateway(Settings(home=tmp_path, sms_gateway="smtp"), "sms")


def test_dispatch_command_sends_through_the_file_gateway(settings: Settings, engine: Any) -> None:
    with session_scope(session_factory(engine)) as s:
        build_bank(s, cipher_for(settings.effective_key_file), {"C1": True})
        add_message_task(s, "C1", "repayment_due", at=utcnow(), facts={"amount": 88, "due_on": "2026-12-01"})
    result = CliRunner().invoke(app, ["dispatch", "--once", "--batch", "5", "--json", "--home", str(settings.home)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["sent"] == 1
    rows = (settings.home / "outbox" / "sms.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(rows[0])["body"] == "您的贷款将于2026-12-01到期还款88.00元。"


def test_contact_policy_command_shows_and_changes_the_stored_policy(settings: Settings) -> None:
    home = ["--home", str(settings.home)]
    runner = CliRunner()
    shown = runner.invoke(app, ["contact-policy", "show", "--json", *home])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["cap_7d"] == 2
    changed = runner.invoke(app, ["contact-policy", "set", "cap_7d=1", "quiet_start=20:30", *home])
    assert changed.exit_code == 0, changed.output
    stored = json.loads(runner.invoke(app, ["contact-policy", "show", "--json", *home]).output)
    assert (stored["cap_7d"], stored["quiet_start"]) == (1, "20:30:00")
    refused = runner.invoke(app, ["contact-policy", "set", "cap_30d=0", *home])
    assert refused.exit_code != 0
    assert "cap_30d must be at least cap_7d" in refused.output
    assert runner.invoke(app, ["contact-policy", "set", "nonsense=1", *home]).exit_code != 0
