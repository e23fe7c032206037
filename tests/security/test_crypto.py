"""Field encryption: round trip, authenticated context, key file safety, rotation-ready ring."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from bankcrm.security.crypto import FieldCipher, KeyError_, load_or_create_keyring, write_keyring


def test_key_file_created_with_owner_only_permissions(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    ring = load_or_create_keyring(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_keyring(path) == ring


def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    load_or_create_keyring(path)
    os.chmod(path, 0o644)
    with pytest.raises(KeyError_, match="must not be readable"):
        load_or_create_keyring(path)


def test_round_trip_and_fresh_nonce(tmp_path: Path) -> None:
    cipher = FieldCipher(load_or_create_keyring(tmp_path / "k.json"))
    a = cipher.encrypt("13812345678", context="phone")
    b = cipher.encrypt("13812345678", context="phone")
    assert a != b and "13812345678" not in (a or "")
    assert cipher.decrypt(a, context="phone") == "13812345678"


def test_ciphertext_bound_to_its_field(tmp_path: Path) -> None:
    cipher = FieldCipher(load_or_create_keyring(tmp_path / "k.json"))
    token = cipher.encrypt("11010519491231002X", context="id_number")
    with pytest.raises(InvalidTag):
        cipher.decrypt(token, context="phone")


def test_blind_index_is_deterministic_keyed_and_per_field(tmp_path: Path) -> None:
    one = FieldCipher(load_or_create_keyring(tmp_path / "a.json"))
    two = FieldCipher(load_or_create_keyring(tmp_path / "b.json"))
    assert one.blind_index("13812345678", field="phone") == one.blind_index("13812345678", field="phone")
    assert one.blind_index("13812345678", field="phone") != one.blind_index("13812345678", field="id_number")
    assert one.blind_index("13812345678", field="phone") != two.blind_index("13812345678", field="phone")


def test_rotated_ring_reads_old_values_and_writes_with_new_key(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    ring = load_or_create_keyring(path)
    old = FieldCipher(ring).encrypt("secret", context="x")
    rotated = ring.with_new_active_key()
    write_keyring(path, rotated)
    cipher = FieldCipher(load_or_create_keyring(path))
    assert cipher.decrypt(old, context="x") == "secret"
    new = cipher.encrypt("secret", context="x")
    assert cipher.key_id_of(new or "") == "k2" and cipher.key_id_of(old or "") == "k1"
    # the blind index survives data-key rotation
    assert FieldCipher(ring).blind_index("v", field="f") == cipher.blind_index("v", field="f")
