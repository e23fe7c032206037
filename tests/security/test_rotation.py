"""Key rotation: every field re-encrypted under the new key, readable throughout, blind indexes unchanged."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine, select, text
from typer.testing import CliRunner

from bankcrm.audit.service import search, verify
from bankcrm.cli.main import app
from bankcrm.config import Settings
from bankcrm.customers.models import ContactVersion, Customer
from bankcrm.db.engine import make_engine, session_factory, session_scope
from bankcrm.ingest.models import IngestLoad, IngestReject
from bankcrm.products.models import Account, Product
from bankcrm.security import rotation
from bankcrm.security.crypto import FieldCipher, cipher_for, load_or_create_keyring
from bankcrm.staff.models import Branch

PLAIN = {
    "C1": {
        "id_number": "110105199001011234",
        "phone": "13812345678",
        "address": "北京市朝阳区建国路88号",
        "email": "a@x.cn",
    },
    "C2": {"id_number": "11010519851231002X", "phone": "13987654321", "address": None, "email": None},
    "C3": {"id_number": "310101197001010011", "phone": "13700000000", "address": "上海市黄浦区", "email": "c@y.cn"},
}


def _load(settings: Settings, engine: Engine) -> None:
    cipher = cipher_for(settings.effective_key_file)
    with session_scope(session_factory(engine)) as s:
        s.add(Branch(branch_id="B1", name="b"))
        s.add(Product(product_id="P1", name="deposit", category="deposit_current"))
        s.add(IngestLoad(id=1, bundle_dir="x"))
        s.flush()
        for cid, p in PLAIN.items():
            s.add(
                Customer(
                    customer_id=cid,
                    name="张三",
                    gender="M",
                    birth_date=date(1980, 1, 1),
                    id_number_enc=cipher.encrypt(p["id_number"], context="id_number"),
                    id_number_bidx=cipher.blind_index(p["id_number"], field="id_number"),
                    phone_enc=cipher.encrypt(p["phone"], context="phone"),
                    phone_bidx=cipher.blind_index(p["phone"], field="phone"),
                    address_enc=cipher.encrypt(p["address"], context="address"),
                    email_enc=cipher.encrypt(p["email"], context="email"),
                    onboard_date=date(2020, 1, 1),
                    branch_id="B1",
                )
            )
            s.flush()
            s.add(
                ContactVersion(
                    customer_id=cid,
                    version=1,
                    phone_enc=cipher.encrypt(p["phone"], context="phone"),
                    address_enc=cipher.encrypt(p["address"], context="address"),
                    email_enc=cipher.encrypt(p["email"], context="email"),
                    source="extract",
                )
            )
            s.add(
                Account(
                    account_id=f"A{cid}",
                    customer_id=cid,
                    product_id="P1",
                    opened_on=date(2020, 1, 1),
                    account_number_enc=cipher.encrypt(f"62220200000{cid}", context="account_number"),
                    account_number_bidx=cipher.blind_index(f"62220200000{cid}", field="account_number"),
                )
            )
            s.add(
                IngestReject(
                    load_id=1,
                    file="customers.csv",
                    line=2,
                    reason="bad_id",
                    raw_enc=cipher.encrypt(cid, context="ingest_reject"),
                )
            )


def _snapshot(engine: Engine, cipher: FieldCipher) -> tuple[dict[str, object], set[str], list[str]]:
    """Every decrypted value, the key ids in use and the blind indexes."""
    values: dict[str, object] = {}
    keys: set[str] = set()
    with session_scope(session_factory(engine)) as s:
        for spec in rotation.ENCRYPTED_COLUMNS:
            cols = [spec.table.c[c] for c in spec.contexts]
            for row in s.execute(select(spec.table.c[spec.pk], *cols).order_by(spec.table.c[spec.pk])):
                for column, context in spec.contexts.items():
                    token = row._mapping[column]
                    if token is not None:
                        keys.add(cipher.key_id_of(token))
                    values[f"{spec.table.name}.{row[0]}.{column}"] = cipher.decrypt(token, context=context)
        bidx = list(s.scalars(select(Customer.phone_bidx).order_by(Customer.customer_id)))
        bidx += list(s.scalars(select(Customer.id_number_bidx).order_by(Customer.customer_id)))
        bidx += list(s.scalars(select(Account.account_number_bidx).order_by(Account.account_id)))
    return values, keys, bidx


def test_rotation_reencrypts_everything_and_readers_keep_working(any_settings: Settings, any_engine: Engine) -> None:
    _load(any_settings, any_engine)
    key_file = any_settings.effective_key_file
    before, keys_before, bidx_before = _snapshot(any_engine, cipher_for(key_file))
    assert keys_before == {"k1"} and before["customers.C1.phone_enc"] == "13812345678"

    ring = rotation.start_rotation(key_file)
    assert ring.active_key_id == "k2" and set(ring.data_keys) == {"k1", "k2"}

    def reader_check(_table: str, _rows: int) -> None:
        # between batches, a reader with the ring from the key file decrypts everything
        assert _snapshot(any_engine, cipher_for(key_file))[0] == before

    report = rotation.reencrypt_all(session_factory(any_engine), ring, batch_size=2, progress=reader_check)
    assert report.remaining == 0 and report.batches >= 8
    assert report.rewritten["customers.phone_enc"] == 3 and report.rewritten["customers.address_enc"] == 2
    after, keys_after, bidx_after = _snapshot(any_engine, cipher_for(key_file))
    assert after == before and keys_after == {"k2"} and bidx_after == bidx_before

    assert rotation.retire_unused_keys(session_factory(any_engine), key_file) == ["k1"]
    assert set(load_or_create_keyring(key_file).data_keys) == {"k2"}
    assert _snapshot(any_engine, cipher_for(key_file))[0] == before


def test_retiring_refused_while_old_keys_seal_data(settings: Settings, engine: Engine) -> None:
    _load(settings, engine)
    rotation.start_rotation(settings.effective_key_file)
    with pytest.raises(rotation.RotationError, match="k1: 23"):
        rotation.retire_unused_keys(session_factory(engine), settings.effective_key_file)


def test_keys_rotate_command_is_audited(settings: Settings, engine: Engine) -> None:
    _load(settings, engine)
    before = _snapshot(engine, cipher_for(settings.effective_key_file))
    result = CliRunner().invoke(
        app, ["keys", "rotate", "--home", str(settings.home), "--retire-old", "--batch-size", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "every sensitive field is under key k2; retired k1" in result.output
    values, keys, bidx = _snapshot(engine, cipher_for(settings.effective_key_file))
    assert values == before[0] and keys == {"k2"} and bidx == before[2]
    with session_scope(session_factory(make_engine(settings))) as s:
        assert [e.action for e in search(s, action="keys.")] == ["keys.retire", "keys.rotate"]
        assert verify(s).ok


def test_keys_rotate_vacuums_the_tables_it_rewrote(any_settings: Settings, any_engine: Engine) -> None:
    """On PostgreSQL: the customer list's index-only scans need the rewritten pages marked all-visible again."""
    _load(any_settings, any_engine)
    args = ["keys", "rotate", "--home", str(any_settings.home)]
    if any_settings.database_url:
        args += ["--database-url", any_settings.database_url]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    if any_engine.dialect.name != "postgresql":
        return  # nothing to vacuum elsewhere
    last_vacuum = text("SELECT last_vacuum FROM pg_stat_user_tables WHERE relid = to_regclass(:t)")
    with any_engine.connect() as conn:
        vacuumed = {t: conn.execute(last_vacuum, {"t": t}).scalar_one() is not None for t in ("customers", "accounts")}
    assert vacuumed == {"customers": True, "accounts": True}
