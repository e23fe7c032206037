"""What the app holds for its lifetime: settings, database, keys, masking, password hasher, clock."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bankcrm.audit.sealer import BackgroundSealer
from bankcrm.config import Settings
from bankcrm.security.auth import Clock, system_clock
from bankcrm.security.crypto import CipherSource, FieldCipher
from bankcrm.security.masking import Masker
from bankcrm.security.passwords import PasswordHasher


@dataclass
class WebRuntime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    cipher_source: CipherSource
    masker: Masker
    hasher: PasswordHasher
    clock: Clock = system_clock
    cookie_secure: bool = False
    sealer: BackgroundSealer | None = None  # PostgreSQL: audit events are sealed off the request path

    def flush_audit(self) -> None:
        """Seal every committed audit event now (before reading the log), when a background sealer defers it."""
        if self.sealer is not None:
            self.sealer.flush()

    @property
    def cipher(self) -> FieldCipher:
        """The current key ring (follows a rotation without a restart)."""
        return self.cipher_source.get()
