"""Field encryption (AES-256-GCM) and keyed-hash blind indexes for sensitive customer fields.

Ciphertexts are text: ``<key id>$<base64(nonce || ciphertext+tag)>``. The key id lets a
rotation re-encrypt field by field while readers keep decrypting old values with the
retired key. The blind index is HMAC-SHA256 under a separate key, so an exact lookup by
phone or ID number never needs the plaintext in the database.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE_BYTES = 12


class KeyError_(Exception):
    """The key file is missing, unreadable or unsafe."""


@dataclass(frozen=True)
class KeyRing:
    """Data keys by id, the active one, and the blind-index key."""

    data_keys: dict[str, bytes]
    active_key_id: str
    blind_index_key: bytes

    def to_json(self) -> str:
        return json.dumps(
            {
                "active": self.active_key_id,
                "data_keys": {k: _b64(v) for k, v in self.data_keys.items()},
                "blind_index_key": _b64(self.blind_index_key),
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> KeyRing:
        raw = json.loads(text)
        keys = {k: base64.b64decode(v) for k, v in raw["data_keys"].items()}
        if raw["active"] not in keys:
            raise KeyError_("key file names an active key it does not hold")
        for key_id, key in keys.items():
            if len(key) != 32:
                raise KeyError_(f"data key {key_id} is not 256 bits")
        return cls(keys, raw["active"], base64.b64decode(raw["blind_index_key"]))

    @classmethod
    def generate(cls) -> KeyRing:
        return cls({"k1": AESGCM.generate_key(bit_length=256)}, "k1", secrets.token_bytes(32))

    def with_new_active_key(self) -> KeyRing:
        """A ring with one more data key, made active; old keys stay for reading."""
        n = 1 + max(int(k[1:]) for k in self.data_keys if k[1:].isdigit())
        new_id = f"k{n}"
        keys = dict(self.data_keys)
        keys[new_id] = AESGCM.generate_key(bit_length=256)
        return KeyRing(keys, new_id, self.blind_index_key)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def load_or_create_keyring(path: Path) -> KeyRing:
    """Read the key file; create it with mode 0600 on first use."""
    if path.exists():
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise KeyError_(f"{path}: key file must not be readable by group or others (mode {mode:o})")
        return KeyRing.from_json(path.read_text())
    ring = KeyRing.generate()
    write_keyring(path, ring)
    return ring


def write_keyring(path: Path, ring: KeyRing) -> None:
    """Write atomically with 0600 permissions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(ring.to_json())
    os.replace(tmp, path)


class FieldCipher:
    """Encrypts, decrypts and blind-indexes sensitive field values."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring
        self._aead = {key_id: AESGCM(key) for key_id, key in ring.data_keys.items()}

    def encrypt(self, plaintext: str | None, *, context: str = "") -> str | None:
        """Encrypt under the active key; ``context`` (e.g. the field name) is authenticated."""
        if plaintext is None:
            return None
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead[self.ring.active_key_id].encrypt(nonce, plaintext.encode("utf-8"), context.encode("utf-8"))
        return f"{self.ring.active_key_id}${_b64(nonce + sealed)}"

    def encrypt_many(self, plaintexts: Sequence[str | None], *, context: str = "") -> list[str | None]:
        """``encrypt`` of each value (same format), for a whole column: one AEAD object, one urandom call."""
        key_id = self.ring.active_key_id
        seal = self._aead[key_id].encrypt
        aad = context.encode("utf-8")
        prefix = f"{key_id}$"
        n = _NONCE_BYTES
        pool = os.urandom(n * len(plaintexts))
        nonces = [pool[i : i + n] for i in range(0, len(pool), n)]
        b64 = binascii.b2a_base64
        return [
            None
            if value is None
            else prefix + b64(nonce + seal(nonce, value.encode("utf-8"), aad), newline=False).decode("ascii")
            for value, nonce in zip(plaintexts, nonces, strict=True)
        ]

    def decrypt(self, token: str | None, *, context: str = "") -> str | None:
        if token is None:
            return None
        key_id, _, body = token.partition("$")
        aead = self._aead.get(key_id)
        if aead is None:
            raise KeyError_(f"no key {key_id!r} in the key ring")
        raw = base64.b64decode(body)
        return aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode("utf-8")).decode("utf-8")

    def key_id_of(self, token: str) -> str:
        return token.partition("$")[0]

    def blind_index(self, value: str | None, *, field: str) -> str | None:
        """Deterministic keyed hash for exact-match lookup; the field name separates domains."""
        if value is None:
            return None
        mac = hmac.new(self.ring.blind_index_key, f"{field}\x00{value}".encode(), hashlib.sha256)
        return mac.hexdigest()[:40]

    def blind_index_many(self, values: Sequence[str | None], *, field: str) -> list[str | None]:
        """``blind_index`` of each value, for a whole column."""
        key = self.ring.blind_index_key
        prefix = f"{field}\x00".encode()
        digest = hmac.digest
        return [None if v is None else digest(key, prefix + v.encode(), "sha256").hex()[:40] for v in values]


def cipher_for(key_file: Path) -> FieldCipher:
    return FieldCipher(load_or_create_keyring(key_file))


class CipherSource:
    """A FieldCipher that follows the key file, for long-running readers such as the web app.

    ``bankcrm keys rotate`` writes a ring with a new active key before re-encrypting anything;
    a process still holding the old ring could not read the rows already moved. Checking the
    file's modification stamp on each use (one stat call) picks the new ring up at once.
    """

    def __init__(self, key_file: Path) -> None:
        self.key_file = key_file
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._cipher: FieldCipher | None = None

    def get(self) -> FieldCipher:
        try:
            st = self.key_file.stat()  # one system call per use (not exists() and then stat())
        except FileNotFoundError:
            st = None
        stamp = (st.st_mtime_ns, st.st_ino) if st else None
        if self._cipher is None or stamp != self._stamp:
            with self._lock:
                if self._cipher is None or stamp != self._stamp:
                    self._cipher = cipher_for(self.key_file)
                    self._stamp = stamp if stamp else self._stamp_now()
        return self._cipher

    def _stamp_now(self) -> tuple[int, int]:
        st = self.key_file.stat()
        return (st.st_mtime_ns, st.st_ino)
