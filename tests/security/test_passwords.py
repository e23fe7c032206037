"""Password policy, argon2id parameters and the key file a long-running reader follows."""

from __future__ import annotations

from pathlib import Path

import pytest

from bankcrm.config import Settings
from bankcrm.security.crypto import CipherSource, FieldCipher, load_or_create_keyring
from bankcrm.security.passwords import PasswordHasher, PasswordPolicyError, check_password_policy, hasher_for
from bankcrm.security.rotation import start_rotation


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("Short1!", "at least 12"),
        ("x" * 257, "at most 256"),
        ("aaaaaaaaaaaaaa", "one repeated character"),
        ("abcdefghijklmn", "at least two of"),
        ("123456789012345", "at least two of"),
        ("zhangwei-Secret-2026", "must not contain the username"),
    ],
)
def test_policy_refusals(password: str, message: str) -> None:
    with pytest.raises(PasswordPolicyError, match=message):
        check_password_policy(password, username="zhangwei")


@pytest.mark.parametrize(
    "password",
    ["correct horse 42", "Tr0ub4dor&3xyz", "客户经理的密码很长很长1", "abcdefghijkL", "spaces are other  x"],
)
def test_policy_accepts(password: str) -> None:
    check_password_policy(password, username="zhangwei")


def test_argon2id_with_configured_cost_and_salt() -> None:
    hasher = hasher_for(Settings(password_hash_time_cost=2, password_hash_memory_kib=4096, password_hash_parallelism=1))
    a, b = hasher.hash("correct horse 42"), hasher.hash("correct horse 42")
    assert a.startswith("$argon2id$v=19$m=4096,t=2,p=1$") and a != b  # fresh salt each time
    assert hasher.verify(a, "correct horse 42") and not hasher.verify(a, "correct horse 43")
    assert not hasher.verify("not a hash", "correct horse 42")
    assert hasher.needs_rehash("not a hash")


def test_default_cost_is_rfc9106_second_option() -> None:
    assert "m=65536,t=3,p=4" in PasswordHasher().hash("correct horse 42")


def test_reader_follows_a_rotation(tmp_path: Path) -> None:
    key_file = tmp_path / "keys.json"
    source = CipherSource(key_file)
    old = source.get()
    assert source.get() is old  # no change, no reload
    start_rotation(key_file)
    new_token = FieldCipher(load_or_create_keyring(key_file)).encrypt("13812345678", context="phone")
    assert new_token and new_token.startswith("k2$")
    assert source.get().decrypt(new_token, context="phone") == "13812345678"
