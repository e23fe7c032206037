"""All queries over contact versions."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bankcrm.customers.models import ContactVersion


def add_version(session: Session, version: ContactVersion) -> None:
    session.add(version)
    session.flush()


def versions_of(session: Session, customer_id: str, *, limit: int) -> list[ContactVersion]:
    stmt = (
        select(ContactVersion)
        .where(ContactVersion.customer_id == customer_id)
        .order_by(ContactVersion.version.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt).all())
