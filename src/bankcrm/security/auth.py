"""Authentication rules that need no database: lock-out and session timeouts, secrets and their hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bankcrm.db.base import utcnow

Clock = Callable[[], datetime]

MAX_FAILED_ATTEMPTS = 5
LOCKOUT = timedelta(minutes=15)
SESSION_IDLE_TIMEOUT = timedelta(minutes=30)
SESSION_ABSOLUTE_TIMEOUT = timedelta(hours=12)
SECRET_BYTES = 32  # 256-bit session ids and API tokens
API_TOKEN_PREFIX = "bcrm_"

# the reasons recorded in the audit log; the person logging in only ever sees GENERIC_FAILURE
UNKNOWN_USER = "unknown_user"
BAD_PASSWORD = "bad_password"
LOCKED = "locked"
DISABLED = "disabled"
GENERIC_FAILURE = "invalid username or password"


def system_clock() -> datetime:
    return utcnow()


def new_secret() -> str:
    """A fresh 256-bit random value, URL-safe."""
    return secrets.token_urlsafe(SECRET_BYTES)


def new_api_token() -> str:
    return API_TOKEN_PREFIX + new_secret()


def hash_secret(secret: str) -> str:
    """SHA-256 of a session id or API token: enough for 256-bit random values, which need no slow KDF."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def same_secret(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


@dataclass(frozen=True)
class LoginOutcome:
    """The result of a login attempt. A failure is a value, not an exception, so the caller
    commits the failed-attempt counter and the audit row instead of rolling them back."""

    ok: bool
    reason: str | None = None
    user_id: int | None = None
    username: str | None = None
    session_token: str | None = None
    locked_until: datetime | None = None

    @property
    def message(self) -> str:
        """What the person at the login form is told: never whether the username exists."""
        return "ok" if self.ok else GENERIC_FAILURE


def is_locked(locked_until: datetime | None, now: datetime) -> bool:
    return locked_until is not None and now < locked_until


def session_is_live(*, last_seen_at: datetime, expires_at: datetime, revoked: bool, now: datetime) -> bool:
    """Not revoked, inside the absolute lifetime and active within the idle timeout."""
    return not revoked and now < expires_at and now < last_seen_at + SESSION_IDLE_TIMEOUT
