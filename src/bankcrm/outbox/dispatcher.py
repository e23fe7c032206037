"""The dispatcher: claims due messages under a lease and sends them, one committed step at a time.

Each message goes through three transactions — this module is their boundary:

1. claim (with the batch): ``claimed_by``/``claimed_at`` set on up to N due messages;
2. ``prepare_send``: lease renewed, policy re-checked, status ``sending`` and an open attempt,
   committed *before* the gateway is called;
3. after the gateway answered: ``record_sent`` or ``record_failure``.

A dispatcher killed between 2 and 3 leaves the message ``sending``. Once its lease runs out
another run claims it and first asks the gateway whether it already accepted that idempotency
key: if so the message is recorded sent without a second send; if not, it goes through step 2
again (policy re-checked) and is sent. So each message is handed over at most once per key as
far as the gateway can tell, and never lost.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bankcrm.config import Settings
from bankcrm.db.base import utcnow
from bankcrm.db.engine import make_engine, session_factory, session_scope
from bankcrm.outbox import repository as repo
from bankcrm.outbox import service
from bankcrm.outbox.gateways import Gateway, GatewayError, OutgoingMessage, build_gateways
from bankcrm.security.crypto import CipherSource

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class DispatchOptions:
    """Lease, batch and retry settings (from Settings by default)."""

    batch: int = 50
    lease_seconds: float = 120.0
    max_attempts: int = 5
    backoff_seconds: float = 60.0
    backoff_max_seconds: float = 3600.0

    @classmethod
    def from_settings(cls, settings: Settings, *, batch: int | None = None) -> DispatchOptions:
        return cls(
            batch=batch or settings.outbox_batch,
            lease_seconds=settings.outbox_lease_seconds,
            max_attempts=settings.outbox_max_attempts,
            backoff_seconds=settings.outbox_backoff_seconds,
            backoff_max_seconds=settings.outbox_backoff_max_seconds,
        )


@dataclass
class DispatchSummary:
    """What a dispatch run did."""

    claimed: int = 0
    sent: int = 0
    reconciled: int = 0
    deferred_or_blocked: int = 0
    failed: int = 0
    dead: int = 0
    batches: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: DispatchSummary) -> None:
        for name in ("claimed", "sent", "reconciled", "deferred_or_blocked", "failed", "dead", "batches"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)

    def to_dict(self) -> dict[str, object]:
        return {
            "claimed": self.claimed,
            "sent": self.sent,
            "reconciled": self.reconciled,
            "deferred_or_blocked": self.deferred_or_blocked,
            "failed": self.failed,
            "dead": self.dead,
            "batches": self.batches,
        }


def new_worker_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Dispatcher:
    """Sends the outbox through the gateways; safe to run in several processes at once."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        gateways: Mapping[str, Gateway],
        cipher_source: CipherSource,
        *,
        options: DispatchOptions | None = None,
        clock: Clock = utcnow,
        worker: str | None = None,
    ) -> None:
        self.factory = factory
        self.gateways = gateways
        self.cipher_source = cipher_source
        self.options = options or DispatchOptions()
        self.clock = clock
        self.worker = worker or new_worker_id()

    def claim(self) -> list[int]:
        now = self.clock()
        with session_scope(self.factory) as session:
            return repo.claim_due(
                session,
                worker=self.worker,
                now=now,
                lease_cutoff=now - timedelta(seconds=self.options.lease_seconds),
                limit=self.options.batch,
            )

    def run_batch(self) -> DispatchSummary:
        """Claim one batch and handle each message of it."""
        summary = DispatchSummary(batches=1)
        ids = self.claim()
        summary.claimed = len(ids)
        with session_scope(self.factory) as session:
            policy = service.load_policy(session)
        for message_id in ids:
            try:
                self._handle(message_id, policy, summary)
            except Exception as exc:  # one bad message must not stop the batch
                log.exception("outbox message %s", message_id)
                summary.errors.append(f"message {message_id}: {exc}")
        return summary

    def drain(self, *, stop_event: threading.Event | None = None, max_batches: int | None = None) -> DispatchSummary:
        """Batches until nothing is due (or stopped)."""
        total = DispatchSummary()
        while not (stop_event and stop_event.is_set()):
            batch = self.run_batch()
            total.add(batch)
            if batch.claimed == 0 or (max_batches is not None and total.batches >= max_batches):
                break
        return total

    def _handle(self, message_id: int, policy: service.ContactPolicy, summary: DispatchSummary) -> None:
        with session_scope(self.factory) as session:
            state = service.message_status(session, message_id)
        if state is None:
            return
        status, key = state
        if status == "sending":
            # left by a killed dispatcher: did the gateway get it?
            with session_scope(self.factory) as session:
                message = repo.get_message(session, message_id)
                channel = message.channel if message else None
            gateway = self.gateways.get(channel or "")
            known = gateway.lookup(key) if gateway is not None else None
            if known is not None:
                with session_scope(self.factory) as session:
                    service.record_sent(
                        session,
                        message_id,
                        gateway_message_id=known,
                        now=self.clock(),
                        worker=self.worker,
                        reconciled=True,
                    )
                summary.reconciled += 1
                return
        with session_scope(self.factory) as session:
            plan = service.prepare_send(
                session,
                message_id,
                worker=self.worker,
                now=self.clock(),
                policy=policy,
                cipher=self.cipher_source.get(),
            )
        if plan is None:
            summary.deferred_or_blocked += 1
            return
        gateway = self.gateways[plan.channel]
        try:
            gateway_id = gateway.send(
                OutgoingMessage(
                    idempotency_key=plan.idempotency_key,
                    channel=plan.channel,
                    recipient=plan.recipient,
                    body=plan.body,
                    subject=plan.subject,
                    language=plan.language,
                )
            )
        except GatewayError as exc:
            self._failed(plan, str(exc), exc.permanent, summary)
            return
        except Exception as exc:  # an adapter's own bug or network error: retry later
            self._failed(plan, f"{type(exc).__name__}: {exc}", False, summary)
            return
        with session_scope(self.factory) as session:
            service.record_sent(
                session, plan.message_id, gateway_message_id=gateway_id, now=self.clock(), attempt_id=plan.attempt_id
            )
        summary.sent += 1

    def _failed(self, plan: service.SendPlan, error: str, permanent: bool, summary: DispatchSummary) -> None:
        with session_scope(self.factory) as session:
            status = service.record_failure(
                session,
                plan.message_id,
                error=error,
                permanent=permanent,
                now=self.clock(),
                attempt_id=plan.attempt_id,
                max_attempts=self.options.max_attempts,
                base_seconds=self.options.backoff_seconds,
                max_seconds=self.options.backoff_max_seconds,
            )
        if status == "dead":
            summary.dead += 1
        else:
            summary.failed += 1


def dispatcher_for(settings: Settings, engine: Engine, *, batch: int | None = None) -> Dispatcher:
    """A dispatcher with the configured gateways, key file and retry settings."""
    return Dispatcher(
        session_factory(engine),
        build_gateways(settings),
        CipherSource(settings.effective_key_file),
        options=DispatchOptions.from_settings(settings, batch=batch),
    )


def run_dispatcher(
    settings: Settings,
    engine: Engine,
    *,
    once: bool = False,
    batch: int | None = None,
    stop_event: threading.Event | None = None,
    interval: float | None = None,
    on_batch: Callable[[DispatchSummary], None] | None = None,
    enqueue: bool = True,
) -> DispatchSummary:
    """Send what is due; with ``once`` stop when nothing is left, else poll every ``interval`` until stopped.

    Each pass first turns new message tasks into outbox messages (``enqueue``), so messages a
    person or the web app raised between nightly runs go out too.
    """
    dispatcher = dispatcher_for(settings, engine, batch=batch)
    stop = stop_event or threading.Event()
    wait = interval if interval is not None else settings.outbox_interval_seconds
    total = DispatchSummary()
    while not stop.is_set():
        try:
            if enqueue:
                with session_scope(dispatcher.factory) as session:
                    service.enqueue_task_messages(session, utcnow())
            done = dispatcher.drain(stop_event=stop)
        except Exception:  # the database went away for a moment: keep the loop alive
            if once:
                raise
            log.exception("dispatcher pass failed; retrying in %s s", wait)
            done = DispatchSummary()
        total.add(done)
        if on_batch is not None and done.claimed:
            on_batch(done)
        if once:
            break
        stop.wait(wait)
    return total


def run_dispatcher_loop(
    settings: Settings, stop_event: threading.Event, interval: float | None = None, *, engine: Engine | None = None
) -> None:
    """The background loop for ``serve``: run it in a daemon thread; set ``stop_event`` to end it."""
    own_engine = engine is None
    db_engine = engine or make_engine(settings)
    try:
        run_dispatcher(settings, db_engine, stop_event=stop_event, interval=interval)
    finally:
        if own_engine:
            db_engine.dispose()
