"""Imports every table so that Alembic and the tests see the whole schema."""

from bankcrm.audit.models import AuditChainHead, AuditEvent, AuditPending
from bankcrm.customers.models import ConsentEvent, ContactVersion, Customer, CustomerAssignment, Interaction
from bankcrm.db.base import Base
from bankcrm.holdings.models import AccountPosition, CustomerMonthAum
from bankcrm.ingest.models import IngestLoad, IngestReject
from bankcrm.outbox.models import DeliveryAttempt, OutboxMessage
from bankcrm.products.models import Account, Product
from bankcrm.scores.models import AppSetting, AppState, CustomerScore, NightlyRun, TierHistory
from bankcrm.security.models import ApiToken, User, UserSession
from bankcrm.staff.models import Branch, Staff, Team
from bankcrm.tasks.models import Rule, RuleVersion, Task, TaskEvent, TaskRunHit

__all__ = [
    "Account",
    "AccountPosition",
    "ApiToken",
    "AppSetting",
    "AppState",
    "AuditChainHead",
    "AuditEvent",
    "AuditPending",
    "Base",
    "Branch",
    "ConsentEvent",
    "ContactVersion",
    "Customer",
    "CustomerAssignment",
    "CustomerMonthAum",
    "CustomerScore",
    "DeliveryAttempt",
    "IngestLoad",
    "IngestReject",
    "Interaction",
    "NightlyRun",
    "OutboxMessage",
    "Product",
    "Rule",
    "RuleVersion",
    "Staff",
    "Task",
    "TaskEvent",
    "TaskRunHit",
    "Team",
    "TierHistory",
    "User",
    "UserSession",
]
