"""contact plans: a period and the counted contact purposes on rules

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 07:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rules", schema=None) as batch_op:
        batch_op.add_column(sa.Column("every_days", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("contact_purposes", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rules", schema=None) as batch_op:
        batch_op.drop_column("contact_purposes")
        batch_op.drop_column("every_days")
