"""Correcting contact details from the 360 page's form (then back to the page)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated

from fastapi import APIRouter, Form, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from bankcrm.contacts import service
from bankcrm.contacts.schemas import ContactUpdate
from bankcrm.web.deps import CurrentPrincipal, DbSession, RequestActor, Runtime
from bankcrm.web.errors import error_response

router = APIRouter(include_in_schema=False)


@router.post("/customers/{customer_id}/contact", name="correct_contact")
def correct_contact(
    request: Request,
    customer_id: str,
    db: DbSession,
    runtime: Runtime,
    principal: CurrentPrincipal,
    actor: RequestActor,
    phone: Annotated[str, Form(max_length=20)] = "",
    address: Annotated[str, Form(max_length=400)] = "",
    email: Annotated[str, Form(max_length=200)] = "",
    occupation: Annotated[str, Form(max_length=32)] = "",
    income_monthly: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=400)] = "",
    expected_version: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Empty fields stay as they are; the rest become the next contact version."""
    fields: dict[str, object] = {"reason": reason}
    for name, value in (("phone", phone), ("address", address), ("email", email), ("occupation", occupation)):
        if value.strip():
            fields[name] = value.strip()
    try:
        if income_monthly.strip():
            fields["income_monthly"] = Decimal(income_monthly.strip())
        if expected_version.strip():
            fields["expected_version"] = int(expected_version)
        update = ContactUpdate.model_validate(fields)
        service.update_contact(
            db,
            principal,
            customer_id,
            update,
            actor=actor,
            cipher=runtime.cipher,
            masker=runtime.masker,
            clock=runtime.clock,
        )
    except service.ContactConflict:
        return error_response(request, 409, "Someone changed the contact details meanwhile: reload and try again")
    except (ValidationError, ValueError, InvalidOperation):
        return error_response(request, 400, "The contact details were not changed: check the values and give a reason")
    return RedirectResponse(f"/customers/{customer_id}#contact", status_code=303)
