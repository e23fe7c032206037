"""Customer JSON API: list and search, the masked 360 view, reveal of one field."""

from __future__ import annotations

from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query

from bankcrm.customers import service
from bankcrm.customers.schemas import Customer360Read, CustomerListPage, RevealRequest, RevealResponse
from bankcrm.web.deps import Call, CurrentPrincipal, DbSession, RequestActor, Runtime

router = APIRouter(prefix="/customers", tags=["customers"])


# The list and the 360 are the API's busiest reads: each authenticates the caller, runs its work and
# commits in one worker thread (``Call``, ``ApiCall.run``) instead of a thread-pool hop per step.


@router.get("", response_model=CustomerListPage)
async def list_customers(
    call: Call,
    tier: Literal["vip", "potential", "ordinary"] | None = None,
    segment: Literal["A", "B", "C", "D"] | None = None,
    value_class: Literal["high_value", "micro_profit", "breakeven", "loss"] | None = None,
    q: Annotated[str | None, Query(max_length=100, description="name prefix, or exact mobile / ID number")] = None,
    sort: Literal["value_index", "aum"] = "value_index",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=service.MAX_PAGE_SIZE)] = 20,
    maturing_within_days: Annotated[
        int | None,
        Query(
            ge=0,
            le=service.MAX_MATURITY_DAYS,
            description="only customers with an open time deposit or wealth product maturing within this many days",
        ),
    ] = None,
) -> CustomerListPage:
    """The caller's customers (record scope), masked, with the current run's scores; audited."""
    query = service.CustomerQuery(tier, segment, value_class, q, sort, page, page_size, maturing_within_days)
    runtime = call.runtime
    today = runtime.clock().astimezone(ZoneInfo(runtime.settings.timezone)).date()
    result = await call.run(
        lambda auth, actor: service.list_customers(
            call.db, auth.principal, query, actor=actor, cipher=runtime.cipher, masker=runtime.masker, today=today
        )
    )
    return CustomerListPage.of(result)


@router.get("/{customer_id}", response_model=Customer360Read)
async def get_customer(customer_id: str, call: Call) -> Customer360Read:
    """The masked 360 view with the latest scores; 404 when missing or outside the caller's scope."""
    runtime = call.runtime
    view = await call.run(
        lambda auth, actor: service.customer_360(
            call.db, auth.principal, customer_id, actor=actor, cipher=runtime.cipher, masker=runtime.masker
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
