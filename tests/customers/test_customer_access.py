"""Reading customers through a principal: scope, masking, reveal with reason, audit."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine

from bankcrm.audit.service import Actor, AuditError, search, verify
from bankcrm.config import Settings
from bankcrm.customers import service
from bankcrm.customers.models import Customer
from bankcrm.db.engine import session_factory, session_scope
from bankcrm.security.crypto import cipher_for
from bankcrm.security.masking import Masker
from bankcrm.security.permissions import NotFound, PermissionDenied
from bankcrm.staff.models import Branch, Staff
from factories import principal as who


@pytest.fixture
def bank(any_settings: Settings, any_engine: Engine):
    cipher = cipher_for(any_settings.effective_key_file)
    factory = session_factory(any_engine)
    with session_scope(factory) as s:
        s.add(Branch(branch_id="B1", name="b"))
        s.flush()
        s.add_all([Staff(staff_id=x, name=x, role="rm", branch_id="B1") for x in ("S1", "S2")])
        s.flush()
        for cid, rm in (("C1", "S1"), ("C2", "S2")):
            s.add(
                Customer(
                    customer_id=cid,
                    name="欧阳明华",
                    gender="F",
                    birth_date=date(1990, 1, 1),
                    id_number_enc=cipher.encrypt("110105199001011234", context="id_number"),
                    id_number_bidx="x" + cid,
                    phone_enc=cipher.encrypt("13812345678", context="phone"),
                    phone_bidx="y" + cid,
                    address_enc=cipher.encrypt("北京市朝阳区建国路88号", context="address"),
                    email_enc=None,
                    onboard_date=date(2020, 1, 1),
                    branch_id="B1",
                    rm_id=rm,
                )
            )
    return factory, cipher


def test_rm_sees_own_customer_masked_and_the_view_is_audited(bank) -> None:
    factory, cipher = bank
    actor = Actor.user(1, "rm-user", "10.0.0.1")
    with session_scope(factory) as s:
        view = service.view_customer(s, who("rm", "S1"), "C1", actor=actor, cipher=cipher, masker=Masker())
    assert (view.name, view.id_number, view.phone, view.address, view.email) == (
        "欧阳**",
        "110105199001******",
        "138****5678",
        "北京市朝阳区****",
        None,
    )
    with session_scope(factory) as s:
        (event,) = search(s, action="customer.view")
        assert (event.actor, event.target_id, event.client_address) == ("rm-user", "C1", "10.0.0.1")


def test_other_rms_customer_is_exactly_like_a_missing_one(bank) -> None:
    factory, cipher = bank
    messages = []
    for customer_id in ("C2", "C404"):
        with pytest.raises(NotFound) as err, session_scope(factory) as s:
            service.view_customer(s, who("rm", "S1"), customer_id, actor=Actor("rm"), cipher=cipher, masker=Masker())
        messages.append(str(err.value))
    assert messages == ["customer not found", "customer not found"]
    with session_scope(factory) as s:
        assert search(s, action="customer.view") == []


def test_reveal_needs_permission_scope_and_reason(bank) -> None:
    factory, cipher = bank
    with session_scope(factory) as s:
        value = service.reveal_field(
            s, who("rm", "S1"), "C1", "phone", reason="客户来电核实", actor=Actor("rm-user", 1), cipher=cipher
        )
    assert value == "13812345678"
    with pytest.raises(PermissionDenied), session_scope(factory) as s:
        service.reveal_field(s, who("compliance"), "C1", "phone", reason="review", actor=Actor("c"), cipher=cipher)
    with pytest.raises(NotFound), session_scope(factory) as s:
        service.reveal_field(s, who("rm", "S1"), "C2", "phone", reason="curious", actor=Actor("r"), cipher=cipher)
    with pytest.raises(AuditError, match="reason"), session_scope(factory) as s:
        service.reveal_field(s, who("rm", "S1"), "C1", "phone", reason=" ", actor=Actor("r"), cipher=cipher)
    with session_scope(factory) as s:
        (event,) = search(s, action="field.reveal")
        assert '"field":"phone"' in event.details_json and "客户来电核实" in event.details_json
        assert "13812345678" not in event.details_json
        assert verify(s).ok


def test_compliance_reads_masked_marketing_and_admin_not_at_all(bank) -> None:
    factory, cipher = bank
    with session_scope(factory) as s:
        view = service.view_customer(s, who("compliance"), "C2", actor=Actor("c"), cipher=cipher, masker=Masker())
        assert view.phone == "138****5678"
    for role in ("marketing", "admin"):
        with pytest.raises(PermissionDenied), session_scope(factory) as s:
            service.view_customer(s, who(role), "C1", actor=Actor(role), cipher=cipher, masker=Masker())


def test_list_total_on_every_page_including_one_past_the_end(bank) -> None:
    factory, cipher = bank
    manager = who("branch_manager", branch_id="B1")
    actor = Actor.user(1, "branch_manager-user")

    def page(number: int, **query: object) -> tuple[list[str], int]:
        with session_scope(factory) as s:
            found = service.list_customers(
                s,
                manager,
                service.CustomerQuery(page=number, page_size=1, **query),  # type: ignore[arg-type]
                actor=actor,
                cipher=cipher,
                masker=Masker(),
            )
        return [r.customer_id for r in found.rows], found.total

    assert page(1) == (["C1"], 2)
    assert page(2) == (["C2"], 2)
    assert page(3) == ([], 2)  # past the end: no row, the total still told
    assert page(1, q="张") == ([], 0)
    assert page(2, q="张") == ([], 0)
    # an RM's total counts only the RM's own customers
    with session_scope(factory) as s:
        mine = service.list_customers(
            s, who("rm", "S1"), service.CustomerQuery(), actor=actor, cipher=cipher, masker=Masker()
        )
    assert ([r.customer_id for r in mine.rows], mine.total) == (["C1"], 1)
