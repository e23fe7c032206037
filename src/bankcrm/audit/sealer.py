"""Sealing the audit log off the request path: one background thread per web process (PostgreSQL).

Sealing right after each commit (``service.install_seal_hook`` without a sealer) costs every
audited request a second transaction: lock the chain head, read the pending rows, insert them
into the chain, move the head, delete them, commit (a second WAL flush), look again. Under load
most of those transactions chain one event each. A ``BackgroundSealer`` does the same work for
all of a process's requests together: a commit that recorded an event only wakes it, and it
seals whatever is pending a moment later, in one transaction for many events.

What this changes, and what it does not:

- An event still commits or rolls back with its action (``record`` is unchanged); only the
  moment it joins the chain moves, by ``delay`` plus one seal, instead of right after the commit.
- A wake is one round: one batch in one transaction (``seal_round``), not ``seal``'s look
  again after the commit. Under load an event commits during nearly every round, and chasing
  those sealed one event per transaction, continuously; each such commit has woken the thread
  for a later round anyway.
- Nothing committed is left behind: a commit after the thread cleared its wake flag wakes it
  for another round; a round that found the head taken by another process's sealer, or a full
  batch, comes back after the delay; the thread also seals every ``interval`` seconds when
  nothing woke it, which picks up events another process committed and did not seal (a worker
  killed between its commit and its seal); and ``stop`` seals everything pending before it
  returns.
- Readers of the log (``flush``): the audit search and the compliance pages seal first, so
  they show every event committed before they were asked, as before.

Used on PostgreSQL only. SQLite, the embedded default, has one writer at a time, and a reader
that sealed on a second connection could wait on its own request's write lock; it keeps
sealing after each commit.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import Engine

from bankcrm.audit.service import seal, seal_round

logger = logging.getLogger(__name__)

# after a wake, so the events of concurrent requests share one transaction: a seal costs about the
# same for one event as for fifty (lock the head, read, insert, delete, move the head, commit), so
# under load fewer, larger rounds leave the requests more of the process's time (benchmarks/README.md)
DELAY_SECONDS = 0.1
INTERVAL_SECONDS = 1.0  # a seal at least this often, woken or not


class BackgroundSealer:
    """Seals pending audit events in a daemon thread, woken by the commits that recorded them."""

    def __init__(self, engine: Engine, *, delay: float = DELAY_SECONDS, interval: float = INTERVAL_SECONDS) -> None:
        if delay < 0 or interval <= 0:
            raise ValueError("delay must be ≥ 0 and interval > 0 seconds")
        self.engine = engine
        self.delay = delay
        self.interval = interval
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.rounds = 0  # seals done by the thread (for tests and diagnostics)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wake(self) -> None:
        """Ask for a seal soon (called after a commit that recorded an event); starts the thread on first use."""
        if self._thread is None:
            self._start()
        self._wake.set()

    def flush(self) -> int:
        """Seal everything committed so far, now, in the caller's thread; returns how many were sealed.

        Waits for a seal at work (this process's thread or another process's) to commit, so every
        event committed before the call is in the chain when it returns.
        """
        return seal(self.engine, wait=True)

    def stop(self, timeout: float = 30.0) -> None:
        """End the thread after one last seal (a no-op when it never started)."""
        with self._lock:
            thread = self._thread
            if thread is None:
                return
            self._stopping.set()
            self._wake.set()
        thread.join(timeout)
        with self._lock:
            self._thread = None
            self._stopping.clear()
            self._wake.clear()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None and not self._stopping.is_set():
                self._thread = threading.Thread(target=self._run, name="audit-sealer", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._stopping.is_set():
            woken = self._wake.wait(self.interval)
            if woken and self.delay and not self._stopping.is_set():
                self._stopping.wait(self.delay)
            # cleared before sealing: a commit that wakes us from here on gets a round of its own
            self._wake.clear()
            if self._logged(lambda: seal_round(self.engine).again):
                self._wake.set()
            self.rounds += 1
        self._logged(lambda: seal(self.engine) > 0)  # everything pending, before the process ends
        self.rounds += 1

    def _logged(self, work: Callable[[], bool]) -> bool:
        """``work()``; a failure is logged (False: the next wake or the interval tries again)."""
        try:
            return work()
        except Exception as exc:
            # the driver's message only: a statement's parameters would carry event details into the log
            logger.warning(
                "sealing the audit log failed (the events stay pending until the next seal): %s: %s",
                type(exc).__name__,
                getattr(exc, "orig", None) or exc,
            )
            return False
