"""Password policy and argon2id hashing.

Policy: at least 12 characters (at most 256, so hashing cannot be used to burn CPU), drawn
from at least two character classes (lower-case letters, upper-case letters, digits, and
everything else — symbols, spaces, CJK characters), not a single repeated character, and
not containing the username. Length matters far more than composition; the two-class rule
only rules out the weakest all-digit or all-lower-case choices.
"""

from __future__ import annotations

import secrets
from functools import cached_property

from argon2 import PasswordHasher as _Argon2
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from bankcrm.config import Settings

MIN_LENGTH = 12
MAX_LENGTH = 256
MIN_CLASSES = 2


class PasswordPolicyError(ValueError):
    """A password that does not meet the policy; the message says which rule."""


def character_classes(password: str) -> int:
    """How many of the four classes (lower, upper, digit, other) the password uses."""
    classes = set()
    for ch in password:
        if ch.isascii() and ch.islower():
            classes.add("lower")
        elif ch.isascii() and ch.isupper():
            classes.add("upper")
        elif ch.isdigit():
            classes.add("digit")
        else:
            classes.add("other")
    return len(classes)


def check_password_policy(password: str, *, username: str | None = None) -> None:
    """Raise PasswordPolicyError naming the first rule the password breaks."""
    if len(password) < MIN_LENGTH:
        raise PasswordPolicyError(f"password must be at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise PasswordPolicyError(f"password must be at most {MAX_LENGTH} characters")
    if len(set(password)) == 1:
        raise PasswordPolicyError("password must not be one repeated character")
    if character_classes(password) < MIN_CLASSES:
        raise PasswordPolicyError(
            "password must mix at least two of: lower-case letters, upper-case letters, digits, other characters"
        )
    if username and len(username) >= 3 and username.casefold() in password.casefold():
        raise PasswordPolicyError("password must not contain the username")


class PasswordHasher:
    """argon2id with explicit parameters; verification tells when a stored hash needs upgrading."""

    def __init__(self, *, time_cost: int = 3, memory_cost_kib: int = 65536, parallelism: int = 4) -> None:
        # defaults are RFC 9106's second recommended option (64 MiB, 3 passes)
        self._argon2 = _Argon2(
            time_cost=time_cost,
            memory_cost=memory_cost_kib,
            parallelism=parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )

    def hash(self, password: str) -> str:
        return self._argon2.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        """True when the password matches; False for a mismatch or a malformed hash."""
        try:
            return self._argon2.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the hash was made with other parameters (or another argon2 type)."""
        try:
            return self._argon2.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

    @cached_property
    def dummy_hash(self) -> str:
        """A hash of a random secret, verified against for unknown users so they take as long as known ones."""
        return self.hash(secrets.token_urlsafe(24))

    def burn(self, password: str) -> None:
        """Spend the time of one verification without any outcome (unknown user, disabled or locked account)."""
        self.verify(self.dummy_hash, password)


def hasher_for(settings: Settings) -> PasswordHasher:
    """The hasher with the configured argon2id cost."""
    return PasswordHasher(
        time_cost=settings.password_hash_time_cost,
        memory_cost_kib=settings.password_hash_memory_kib,
        parallelism=settings.password_hash_parallelism,
    )
