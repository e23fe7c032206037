"""A later extract does not undo what staff changed in bankcrm unless the extract itself changed it."""

from __future__ import annotations

from pathlib import Path

from ingest_bundles import base_bundle, load, table_rows, write_bundle
from sqlalchemy import Engine, update

from bankcrm.config import Settings
from bankcrm.customers.models import Customer
from bankcrm.db.engine import session_factory, session_scope
from bankcrm.security.crypto import cipher_for


def _staff_edit(settings: Settings, engine: Engine, customer_id: str, rm_id: str, phone: str) -> None:
    """What a reassignment and a contact correction leave behind (the services' own tests cover them)."""
    cipher = cipher_for(settings.effective_key_file)
    with session_scope(session_factory(engine)) as s:
        s.execute(
            update(Customer)
            .where(Customer.customer_id == customer_id)
            .values(
                rm_id=rm_id,
                phone_enc=cipher.encrypt(phone, context="phone"),
                phone_bidx=cipher.blind_index(phone, field="phone"),
            )
        )


def test_reassignment_and_contact_correction_survive_an_unrelated_extract_change(
    any_settings: Settings, any_engine: Engine, tmp_path: Path
) -> None:
    first = base_bundle()
    original_rm = first["customers"][0]["rm_id"]
    other_rm = next(s["staff_id"] for s in first["staff"] if s["staff_id"] != original_rm)
    load(any_settings, any_engine, write_bundle(tmp_path / "b1", first))
    _staff_edit(any_settings, any_engine, "C001", other_rm, "13911112222")

    later = base_bundle()
    later["customers"][0].update({"risk_level": "C4"})  # the row changes, its RM and contact do not
    assert load(any_settings, any_engine, write_bundle(tmp_path / "b2", later)).ok
    customer = {r["customer_id"]: r for r in table_rows(any_engine, Customer)}["C001"]
    cipher = cipher_for(any_settings.effective_key_file)
    assert (customer["risk_level"], customer["rm_id"]) == ("C4", other_rm)
    assert cipher.decrypt(customer["phone_enc"], context="phone") == "13911112222"

    # the extract itself now names another RM and a new phone: the extract wins
    latest = base_bundle()
    latest["customers"][0].update({"risk_level": "C4", "rm_id": original_rm, "phone": "13800009999"})
    latest["customers"][0]["rm_id"] = original_rm
    assert load(any_settings, any_engine, write_bundle(tmp_path / "b3", latest)).ok
    customer = {r["customer_id"]: r for r in table_rows(any_engine, Customer)}["C001"]
    assert cipher.decrypt(customer["phone_enc"], context="phone") == "13800009999"
    # the extract's RM did not change since the last extract, so the reassignment still stands
    assert customer["rm_id"] == other_rm

    moved = base_bundle()
    moved["customers"][0].update({"risk_level": "C4", "phone": "13800009999", "rm_id": other_rm})
    assert load(any_settings, any_engine, write_bundle(tmp_path / "b4", moved)).ok
    moved_back = base_bundle()
    moved_back["customers"][0].update({"risk_level": "C4", "phone": "13800009999", "rm_id": original_rm})
    assert load(any_settings, any_engine, write_bundle(tmp_path / "b5", moved_back)).ok
    customer = {r["customer_id"]: r for r in table_rows(any_engine, Customer)}["C001"]
    assert customer["rm_id"] == original_rm  # the extract changed its RM (other → original): applied
