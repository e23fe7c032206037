"""Contact-detail corrections and their version history, as JSON (masked)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from bankcrm.contacts import service
from bankcrm.contacts.schemas import ContactUpdate, ContactVersionRead
from bankcrm.web.deps import CurrentPrincipal, DbSession, RequestActor, Runtime

router = APIRouter(prefix="/customers", tags=["customers"])


@router.get("/{customer_id}/contact-versions", response_model=list[ContactVersionRead])
def contact_versions(
    customer_id: str, db: DbSession, runtime: Runtime, principal: CurrentPrincipal, actor: RequestActor
) -> list[ContactVersionRead]:
    """Every version of the contact details, newest first, masked; audited."""
    return service.contact_history(
        db, principal, customer_id, actor=actor, cipher=runtime.cipher, masker=runtime.masker
    )


@router.post("/{customer_id}/contact", response_model=ContactVersionRead)
def correct_contact(
    customer_id: str,
    body: ContactUpdate,
    db: DbSession,
    runtime: Runtime,
    principal: CurrentPrincipal,
    actor: RequestActor,
) -> ContactVersionRead:
    """Correct phone, address, e-mail, occupation or income with a reason: a new version (409 on a stale form)."""
    try:
        return service.update_contact(
            db,
            principal,
            customer_id,
            body,
            actor=actor,
            cipher=runtime.cipher,
            masker=runtime.masker,
            clock=runtime.clock,
        )
    except service.ContactConflict as exc:
        raise HTTPException(409, str(exc)) from exc
    except service.ContactError as exc:
        raise HTTPException(422, str(exc)) from exc
