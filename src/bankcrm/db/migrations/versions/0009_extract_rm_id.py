"""customers.extract_rm_id: the RM the last extract named, so reassignments in bankcrm stand

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("extract_rm_id", sa.String(length=32), nullable=True))
    # until now every customer's RM came from an extract
    op.execute("UPDATE customers SET extract_rm_id = rm_id")


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("extract_rm_id")
