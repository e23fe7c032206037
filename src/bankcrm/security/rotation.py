"""Key rotation: re-encrypt every sensitive field under a new data key while readers keep working.

Order of work: (1) add a new data key to the ring and make it active, keeping the old keys,
and write the key file — from then on every new write uses the new key and readers can
decrypt both; (2) walk each encrypted column in primary-key batches, each batch its own short
transaction, replacing a ciphertext only if it is still the one read (a concurrent write
wins); (3) repeat until no ciphertext under an old key is left; (4) optionally retire the old
keys once nothing uses them. Blind indexes use a separate key and do not change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session, sessionmaker

from bankcrm.audit.service import Actor, AuditAction, record
from bankcrm.customers.models import ContactVersion, Customer
from bankcrm.db.engine import session_scope
from bankcrm.ingest.models import IngestReject
from bankcrm.products.models import Account
from bankcrm.security import repository as repo
from bankcrm.security.crypto import FieldCipher, KeyRing, load_or_create_keyring, write_keyring


@dataclass(frozen=True)
class EncryptedColumns:
    """A table's encrypted columns, each with the context (authenticated data) it was sealed with."""

    table: Table
    pk: str
    contexts: dict[str, str]


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


# every column holding field ciphertext (the contexts are those the writers use)
ENCRYPTED_COLUMNS: tuple[EncryptedColumns, ...] = (
    EncryptedColumns(
        _table(Customer),
        "customer_id",
        {"id_number_enc": "id_number", "phone_enc": "phone", "address_enc": "address", "email_enc": "email"},
    ),
    EncryptedColumns(
        _table(ContactVersion), "id", {"phone_enc": "phone", "address_enc": "address", "email_enc": "email"}
    ),
    EncryptedColumns(_table(Account), "account_id", {"account_number_enc": "account_number"}),
    EncryptedColumns(_table(IngestReject), "id", {"raw_enc": "ingest_reject"}),
)


class RotationError(Exception):
    """Rotation could not finish or retiring keys would strand ciphertext."""


@dataclass
class RotationReport:
    new_key_id: str
    old_key_ids: list[str]
    rewritten: dict[str, int] = field(default_factory=dict)  # "table.column" -> values re-encrypted
    batches: int = 0
    passes: int = 0
    remaining: int = 0
    retired: list[str] = field(default_factory=list)

    @property
    def rewritten_tables(self) -> list[str]:
        """The tables in which at least one value was re-encrypted."""
        return sorted({key.split(".", 1)[0] for key, n in self.rewritten.items() if n})


def start_rotation(key_file: Path) -> KeyRing:
    """Add a new active data key to the ring file (old keys stay for reading) and return the new ring."""
    ring = load_or_create_keyring(key_file).with_new_active_key()
    write_keyring(key_file, ring)
    return ring


def reencrypt_all(
    factory: sessionmaker[Session],
    ring: KeyRing,
    *,
    batch_size: int = 1000,
    max_passes: int = 3,
    progress: Callable[[str, int], None] | None = None,
) -> RotationReport:
    """Re-encrypt every stale ciphertext under the ring's active key, one short transaction per batch."""
    cipher = FieldCipher(ring)
    active = ring.active_key_id
    report = RotationReport(active, sorted(k for k in ring.data_keys if k != active))
    for _ in range(max_passes):
        report.passes += 1
        changed = 0
        for spec in ENCRYPTED_COLUMNS:
            changed += _rotate_table(factory, cipher, spec, batch_size, report, progress)
        report.remaining = count_stale(factory, active)
        if report.remaining == 0 or changed == 0:
            break
    return report


def _rotate_table(
    factory: sessionmaker[Session],
    cipher: FieldCipher,
    spec: EncryptedColumns,
    batch_size: int,
    report: RotationReport,
    progress: Callable[[str, int], None] | None,
) -> int:
    active = cipher.ring.active_key_id
    columns = list(spec.contexts)
    after: Any = None
    total = 0
    while True:
        with session_scope(factory) as session:
            rows = repo.stale_ciphertexts(session, spec.table, spec.pk, columns, active, after=after, limit=batch_size)
            if not rows:
                break
            for column, context in spec.contexts.items():
                changes = []
                for row in rows:
                    old = row[column]
                    if old is None or cipher.key_id_of(old) == active:
                        continue
                    plain = cipher.decrypt(old, context=context)
                    changes.append(
                        {"b_pk": row[spec.pk], "b_old": old, "b_new": cipher.encrypt(plain, context=context)}
                    )
                n = repo.replace_ciphertexts(session, spec.table, spec.pk, column, changes)
                key = f"{spec.table.name}.{column}"
                report.rewritten[key] = report.rewritten.get(key, 0) + n
                total += n
            after = rows[-1][spec.pk]
        report.batches += 1
        if progress:
            progress(spec.table.name, len(rows))
    return total


def count_stale(factory: sessionmaker[Session], active_key_id: str) -> int:
    """Ciphertexts anywhere that are not under the active key."""
    with session_scope(factory) as session:
        return sum(
            repo.count_not_under(session, spec.table, column, active_key_id)
            for spec in ENCRYPTED_COLUMNS
            for column in spec.contexts
        )


def keys_in_use(factory: sessionmaker[Session], ring: KeyRing) -> dict[str, int]:
    """How many ciphertexts each key of the ring still seals."""
    with session_scope(factory) as session:
        return {
            key_id: sum(
                repo.count_under_key(session, spec.table, column, key_id)
                for spec in ENCRYPTED_COLUMNS
                for column in spec.contexts
            )
            for key_id in ring.data_keys
        }


def retire_unused_keys(factory: sessionmaker[Session], key_file: Path) -> list[str]:
    """Drop from the ring every non-active key no ciphertext uses; refuses while any still does."""
    ring = load_or_create_keyring(key_file)
    usage = keys_in_use(factory, ring)
    old = [k for k in ring.data_keys if k != ring.active_key_id]
    busy = {k: usage[k] for k in old if usage[k]}
    if busy:
        detail = ", ".join(f"{k}: {n}" for k, n in sorted(busy.items()))
        raise RotationError(f"refused: old keys still seal data ({detail}); run the rotation to the end first")
    kept = {ring.active_key_id: ring.data_keys[ring.active_key_id]}
    write_keyring(key_file, KeyRing(kept, ring.active_key_id, ring.blind_index_key))
    return sorted(old)


def record_rotation(session: Session, actor: Actor, report: RotationReport) -> None:
    record(
        session,
        actor,
        AuditAction.KEYS_ROTATE,
        target_type="key_ring",
        target_id=report.new_key_id,
        details={
            "new_key_id": report.new_key_id,
            "old_key_ids": report.old_key_ids,
            "rewritten": report.rewritten,
            "batches": report.batches,
            "remaining": report.remaining,
        },
    )
    if report.retired:
        record(
            session,
            actor,
            AuditAction.KEYS_RETIRE,
            target_type="key_ring",
            target_id=report.new_key_id,
            details={"retired": report.retired},
        )
