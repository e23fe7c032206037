"""The sections of the customer 360 page beyond the profile: holdings, AUM trend, value quadrant, contacts.

Called by the 360 page after ``service.customer_360`` has checked scope and audited the view
of the whole customer, so the sections read without auditing again (one audit row per page
view). Everything here reads the operational database only; the transactions, which live in
the lake, have a page of their own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from bankcrm.assignments import repository as assignments_repo
from bankcrm.assignments.schemas import AssignmentRead
from bankcrm.contacts import service as contacts
from bankcrm.contacts.schemas import ContactVersionRead
from bankcrm.holdings import service as holdings_service
from bankcrm.insights import service as insights
from bankcrm.interactions import service as interactions
from bankcrm.interactions.schemas import CHANNELS, PURPOSES, InteractionPage
from bankcrm.reference import OCCUPATIONS
from bankcrm.security.crypto import FieldCipher
from bankcrm.security.masking import Masker
from bankcrm.security.permissions import NotFound, Permission, Principal

TIMELINE_ON_PAGE = 10
CONTACT_VERSIONS_ON_PAGE = 10
ASSIGNMENTS_ON_PAGE = 10


@dataclass(frozen=True)
class Sections:
    holdings: holdings_service.Holdings | None
    trend: holdings_service.AumTrend | None
    value: insights.ValueView
    interactions: InteractionPage
    contact_versions: list[ContactVersionRead]
    assignments: list[AssignmentRead]
    can_log_interaction: bool
    can_edit_contact: bool
    channels: tuple[str, ...] = CHANNELS
    purposes: tuple[str, ...] = PURPOSES
    occupations: tuple[str, ...] = OCCUPATIONS

    def trend_json(self) -> str:
        """The trend as JSON for the chart's ``data-`` attribute (amounts as numbers, dates as text)."""
        points = self.trend.points if self.trend else []
        return json.dumps(
            {
                "month_end": [p.month_end.isoformat() for p in points],
                "aum": [float(p.aum) for p in points],
                "aum_avg": [float(p.aum_avg) for p in points],
                "liability": [float(p.liability) for p in points],
            }
        )


def sections_of(
    session: Session, principal: Principal, customer_id: str, *, cipher: FieldCipher, masker: Masker
) -> Sections:
    """Every section's data for a customer the caller has just been allowed to view (NotFound otherwise)."""
    if not principal.can(Permission.CUSTOMER_READ):
        raise NotFound("customer")
    return Sections(
        holdings=holdings_service.holdings_of(session, customer_id),
        trend=holdings_service.aum_trend_of(session, customer_id),
        value=insights.value_view_of(session, customer_id),
        interactions=interactions.timeline_of(session, customer_id, limit=TIMELINE_ON_PAGE),
        contact_versions=contacts.history_of(
            session, customer_id, cipher=cipher, masker=masker, limit=CONTACT_VERSIONS_ON_PAGE
        ),
        assignments=[
            AssignmentRead.model_validate(r)
            for r in assignments_repo.history_of(session, customer_id, limit=ASSIGNMENTS_ON_PAGE)
        ],
        can_log_interaction=principal.can(Permission.INTERACTION_WRITE),
        can_edit_contact=principal.can(Permission.CUSTOMER_WRITE_CONTACT),
    )


def as_context(sections: Sections) -> dict[str, Any]:
    """What the 360 template's section blocks expect."""
    return {"sections": sections, "trend_json": sections.trend_json(), "label": label}


# code lists shown on the 360 and team pages: code -> English message (translated through the catalog)
LABELS: dict[str, dict[str, str]] = {
    "category": {
        "deposit_current": "Current deposits",
        "deposit_time": "Time deposits",
        "wealth": "Wealth management",
        "fund": "Funds",
        "insurance": "Insurance",
        "precious_metal": "Precious metals",
        "bond": "Bonds",
        "loan_mortgage": "Mortgage loans",
        "loan_consumer": "Consumer loans",
        "loan_business": "Business loans",
        "credit_card": "Credit cards",
    },
    "channel": {
        "visit": "Visit",
        "call": "Phone call",
        "wecom": "WeCom",
        "sms": "SMS",
        "email": "E-mail",
        "app": "App",
        "branch_event": "Branch event",
    },
    "purpose": {
        "care": "Care",
        "review": "Portfolio review",
        "service": "Service",
        "marketing": "Marketing",
        "survey": "Survey",
        "task": "Task follow-up",
    },
    "tx_category": {
        "payroll": "Payroll",
        "transfer_in": "Transfer in",
        "transfer_out": "Transfer out",
        "purchase": "Purchase",
        "repayment": "Repayment",
        "fee": "Fee",
        "interest": "Interest",
        "investment": "Investment",
        "redemption": "Redemption",
        "cash": "Cash",
    },
    "tx_channel": {
        "counter": "Counter",
        "atm": "ATM",
        "mobile": "Mobile banking",
        "online": "Online banking",
        "pos": "POS",
        "auto": "Automatic",
    },
    "occupation": {
        "executive": "Executive",
        "professional": "Professional",
        "civil_servant": "Civil servant",
        "private_business": "Private business owner",
        "employee": "Employee",
        "worker": "Worker",
        "farmer": "Farmer",
        "student": "Student",
        "retired": "Retired",
        "other": "Other",
    },
    "quadrant": {
        "high_high": "High current value, high potential",
        "high_low": "High current value, low potential",
        "low_high": "Low current value, high potential",
        "low_low": "Low current value, low potential",
    },
    "source": {"extract": "Bank systems", "staff": "Corrected by staff"},
}


def label(kind: str, code: str | None) -> str:
    """The English message of a code (translate it with ``_``); unknown codes as they are."""
    if code is None:
        return "—"
    return LABELS.get(kind, {}).get(code, code)
