"""Imports every table so that Alembic and the tests see the whole schema."""

from bankcrm.customers.models import ConsentEvent, ContactVersion, Customer
from bankcrm.db.base import Base
from bankcrm.ingest.models import IngestLoad, IngestReject
from bankcrm.products.models import Account, Product
from bankcrm.staff.models import Branch, Staff, Team

__all__ = [
    "Account",
    "Base",
    "Branch",
    "ConsentEvent",
    "ContactVersion",
    "Customer",
    "IngestLoad",
    "IngestReject",
    "Product",
    "Staff",
    "Team",
]
