"""Customer JSON API: list and search, the masked 360 view, reveal of one field."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query

from bankcrm.customers import service
from bankcrm.customers.schemas import (
    Customer360Read,
    CustomerListPage,
    CustomerListParams,
    RevealRequest,
    RevealResponse,
)
from bankcrm.web.deps import Call, CurrentPrincipal, DbSession, RequestActor, Runtime

router = APIRouter(prefix="/customers", tags=["customers"])


# The list and the 360 are the API's busiest reads: each authenticates the caller, runs its work and
# commits in one worker thread (``Call``, ``ApiCall.run``) instead of a thread-pool hop per step.


@router.get("", response_model=CustomerListPage)
async def list_customers(call: Call, params: Annotated[CustomerListParams, Query()]) -> CustomerListPage:
    """The caller's customers (record scope), masked, with the current run's scores; audited."""
    query = service.CustomerQuery(**params.model_dump())
    runtime = call.runtime
    today = runtime.clock().astimezone(ZoneInfo(runtime.settings.timezone)).date()
    result = await call.run(
        lambda db, auth, actor: service.list_customers(
            db, auth.principal, query, actor=actor, cipher=runtime.cipher, masker=runtime.masker, today=today
        )
    )
    return CustomerListPage.of(result)


@router.get("/{customer_id}", response_model=Customer360Read)
async def get_customer(customer_id: str, call: Call) -> Customer360Read:
    """The masked 360 view with the latest scores; 404 when missing or outside the caller's scope."""
    runtime = call.runtime
    view = await call.run(
        lambda db, auth, actor: service.customer_360(
            db, auth.principal, customer_id, actor=actor, cipher=runtime.cipher, masker=runtime.masker
        )
    )
    return Customer360Read.of(view)


@router.post("/{customer_id}/reveal", response_model=RevealResponse)
def reveal(
    customer_id: str,
    body: RevealRequest,
    db: DbSession,
    runtime: Runtime,
    principal: CurrentPrincipal,
    actor: RequestActor,
) -> RevealResponse:
    """One field in clear, with a stated reason; needs ``customer.reveal`` and is audited as ``field.reveal``."""
    value = service.reveal_field(
        db, principal, customer_id, body.field, reason=body.reason, actor=actor, cipher=runtime.cipher
    )
    return RevealResponse(customer_id=customer_id, field=body.field, value=value)
