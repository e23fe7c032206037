"""Pluggable message gateways: e-mail over SMTP, and a file gateway that stands in for SMS and WeChat.

Every gateway takes the message's idempotency key and can say whether it already accepted a
message with that key (``lookup``), which is how a restarted dispatcher finishes a send a
killed one left in 'sending' without sending it twice:

- ``FileGateway`` appends one JSON line per message under ``home/outbox/<channel>.jsonl``
  while holding an exclusive lock on the file, and refuses a key it already wrote (it returns
  the first line's gateway id). The line holds the masked recipient only, so no clear contact
  data rests in the home.
- ``SmtpGateway`` sets ``Message-ID`` from the key and appends the key to its journal
  (``home/outbox/smtp-sent.jsonl``, fsynced) as soon as the server accepted the message.
  SMTP itself cannot deduplicate, so a duplicate remains possible only if the process dies in
  the instant between the server's ``250`` and that journal line; a receiving mail client
  would still show the two as one message (same Message-ID).

A bank plugs in its own SMS or WeChat vendor by naming a factory ``package.module:function``
in ``BANKCRM_SMS_GATEWAY`` / ``BANKCRM_WECHAT_GATEWAY`` / ``BANKCRM_EMAIL_GATEWAY``; the
factory is called with ``(settings, channel)`` and returns an object with ``send`` and ``lookup``.
"""

from __future__ import annotations

import fcntl
import importlib
import json
import os
import smtplib
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any, Protocol

from bankcrm.config import Settings
from bankcrm.outbox.policy import CHANNELS
from bankcrm.security.masking import mask_email, mask_phone


@dataclass(frozen=True)
class OutgoingMessage:
    """What a gateway is asked to deliver."""

    idempotency_key: str
    channel: str
    recipient: str
    body: str
    subject: str | None = None
    language: str = "zh"


class GatewayError(Exception):
    """A refused or failed hand-over; ``permanent`` errors are not retried."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Gateway(Protocol):
    def send(self, message: OutgoingMessage) -> str:
        """Deliver the message and return the gateway's id for it; raise GatewayError on failure."""
        ...

    def lookup(self, idempotency_key: str) -> str | None:
        """The gateway id of a message already accepted under this key, or None."""
        ...


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


class _KeyJournal:
    """An append-only JSON-lines file indexed by idempotency key (re-read when another process appended)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._index: dict[str, str] = {}
        self._offset = 0

    def _refresh(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as fh:
            fh.seek(self._offset)
            for raw in fh:
                if not raw.endswith(b"\n"):
                    break  # a line still being written; read it next time
                self._offset += len(raw)
                try:
                    row = json.loads(raw)
                except json.JSONDecodeError:
                    continue
                self._index.setdefault(row["key"], row["gateway_message_id"])

    def get(self, key: str) -> str | None:
        with _locked(self.path):
            self._refresh()
            return self._index.get(key)

    def append_once(self, key: str, make_row: Callable[[], dict[str, Any]]) -> tuple[str, bool]:
        """Append the row unless the key is there; (gateway id, True when written now)."""
        with _locked(self.path):
            self._refresh()
            if key in self._index:
                return self._index[key], False
            row = make_row()
            line = (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
            self._refresh()
            return row["gateway_message_id"], True


def _mask(channel: str, recipient: str) -> str | None:
    return mask_email(recipient) if channel == "email" else mask_phone(recipient)


class FileGateway:
    """The embedded default for SMS and WeChat (and e-mail without an SMTP server): one JSON line per message."""

    def __init__(self, path: Path, channel: str) -> None:
        self.channel = channel
        self.journal = _KeyJournal(path)

    @property
    def path(self) -> Path:
        return self.journal.path

    def send(self, message: OutgoingMessage) -> str:
        def row() -> dict[str, Any]:
            return {
                "key": message.idempotency_key,
                "gateway_message_id": f"{self.channel}-{message.idempotency_key}",
                "channel": self.channel,
                "to": _mask(self.channel, message.recipient),
                "subject": message.subject,
                "body": message.body,
                "language": message.language,
                "at": datetime.now(UTC).isoformat(),
            }

        gateway_id, _ = self.journal.append_once(message.idempotency_key, row)
        return gateway_id

    def lookup(self, idempotency_key: str) -> str | None:
        return self.journal.get(idempotency_key)


class SmtpGateway:
    """E-mail over SMTP (plain, STARTTLS or implicit TLS), Message-ID from the idempotency key."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        journal_path: Path,
        user: str | None = None,
        password: str | None = None,
        tls: str = "none",
        timeout: float = 30.0,
    ) -> None:
        if tls not in ("none", "starttls", "ssl"):
            raise ValueError("smtp tls: expected none, starttls or ssl")
        self.host, self.port, self.sender = host, port, sender
        self.user, self.password, self.tls, self.timeout = user, password, tls, timeout
        self.journal = _KeyJournal(journal_path)

    def message_id(self, key: str) -> str:
        domain = self.sender.rpartition("@")[2] or "bankcrm.local"
        return f"<{key}@{domain}>"

    def build(self, message: OutgoingMessage) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.recipient
        mail["Subject"] = message.subject or ("Message from your bank" if message.language == "en" else "银行通知")
        mail["Message-ID"] = self.message_id(message.idempotency_key)
        mail["Date"] = formatdate(localtime=False)
        mail.set_content(message.body)
        return mail

    def _connect(self) -> smtplib.SMTP:
        if self.tls == "ssl":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=ssl.create_default_context())
        client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.tls == "starttls":
            client.starttls(context=ssl.create_default_context())
        return client

    def send(self, message: OutgoingMessage) -> str:
        known = self.journal.get(message.idempotency_key)
        if known is not None:
            return known
        mail = self.build(message)
        try:
            with self._connect() as client:
                if self.user:
                    client.login(self.user, self.password or "")
                refused = client.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            raise GatewayError(f"recipient refused: {exc.recipients}", permanent=True) from exc
        except smtplib.SMTPResponseException as exc:
            raise GatewayError(
                f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", permanent=500 <= exc.smtp_code < 600
            ) from exc
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            raise GatewayError(f"SMTP: {exc}") from exc
        if refused:
            raise GatewayError(f"recipient refused: {refused}", permanent=True)
        gateway_id = mail["Message-ID"]
        self.journal.append_once(
            message.idempotency_key,
            lambda: {
                "key": message.idempotency_key,
                "gateway_message_id": gateway_id,
                "at": datetime.now(UTC).isoformat(),
            },
        )
        return gateway_id

    def lookup(self, idempotency_key: str) -> str | None:
        return self.journal.get(idempotency_key)


def outbox_dir(settings: Settings) -> Path:
    return settings.home / "outbox"


def _load_factory(spec: str) -> Callable[[Settings, str], Gateway]:
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"gateway {spec!r}: expected file, smtp or package.module:function")
    factory: Callable[[Settings, str], Gateway] = getattr(importlib.import_module(module_name), attr)
    return factory


def build_gateway(settings: Settings, channel: str) -> Gateway:
    """The gateway configured for a channel."""
    spec = {"sms": settings.sms_gateway, "wechat": settings.wechat_gateway, "email": settings.email_gateway}[channel]
    if spec == "auto":
        spec = "smtp" if channel == "email" and settings.smtp_host else "file"
    if spec == "file":
        return FileGateway(outbox_dir(settings) / f"{channel}.jsonl", channel)
    if spec == "smtp":
        if channel != "email" or not settings.smtp_host:
            raise ValueError("the smtp gateway carries e-mail only and needs BANKCRM_SMTP_HOST")
        return SmtpGateway(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_sender,
            user=settings.smtp_user,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            tls=settings.smtp_tls,
            timeout=settings.smtp_timeout_seconds,
            journal_path=outbox_dir(settings) / "smtp-sent.jsonl",
        )
    return _load_factory(spec)(settings, channel)


def build_gateways(settings: Settings) -> dict[str, Gateway]:
    return {channel: build_gateway(settings, channel) for channel in CHANNELS}
