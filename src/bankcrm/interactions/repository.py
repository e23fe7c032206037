"""All queries over interactions."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bankcrm.customers.models import Interaction


def add(session: Session, interaction: Interaction) -> Interaction:
    session.add(interaction)
    session.flush()
    return interaction


def timeline(session: Session, customer_id: str, *, limit: int, before: tuple[object, int] | None) -> list[Interaction]:
    """The customer's interactions newest first (by when they happened, then by id); ``before`` is a keyset cursor."""
    stmt = select(Interaction).where(Interaction.customer_id == customer_id)
    if before is not None:
        occurred_at, row_id = before
        stmt = stmt.where(
            (Interaction.occurred_at < occurred_at)
            | ((Interaction.occurred_at == occurred_at) & (Interaction.id < row_id))
        )
    stmt = stmt.order_by(Interaction.occurred_at.desc(), Interaction.id.desc()).limit(limit)
    return list(session.scalars(stmt).all())


def get(session: Session, customer_id: str, interaction_id: int) -> Interaction | None:
    return session.scalars(
        select(Interaction).where(Interaction.id == interaction_id, Interaction.customer_id == customer_id)
    ).one_or_none()
