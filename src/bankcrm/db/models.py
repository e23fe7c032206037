"""Imports every table so that Alembic and the tests see the whole schema."""

from bankcrm.audit.models import AuditChainHead, AuditEvent
from bankcrm.customers.models import ConsentEvent, ContactVersion, Customer
from bankcrm.db.base import Base
from bankcrm.ingest.models import IngestLoad, IngestReject
from bankcrm.products.models import Account, Product
from bankcrm.scores.models import AppSetting, AppState, CustomerScore, NightlyRun, TierHistory
from bankcrm.security.models import ApiToken, User, UserSession
from bankcrm.staff.models import Branch, Staff, Team

__all__ = [
    "Account",
    "ApiToken",
    "AppSetting",
    "AppState",
    "AuditChainHead",
    "AuditEvent",
    "Base",
    "Branch",
    "ConsentEvent",
    "ContactVersion",
    "Customer",
    "CustomerScore",
    "IngestLoad",
    "IngestReject",
    "NightlyRun",
    "Product",
    "Staff",
    "Team",
    "TierHistory",
    "User",
    "UserSession",
]
