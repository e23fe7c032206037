"""published account positions and month-end AUM for the customer 360 view

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 07:12:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # no foreign key to nightly_runs: checking it row by row made the nightly COPY 2.6 times slower,
    # and the publisher itself removes rows of runs that are not current (publish_holdings)
    op.create_table(
        "account_positions",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("product_id", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("balance", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("balance_avg_30d", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "account_id", name=op.f("pk_account_positions")),
    )
    op.create_index("ix_account_positions_customer_run", "account_positions", ["customer_id", "run_id"], unique=False)
    op.create_table(
        "customer_month_aum",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("month_end", sa.Date(), nullable=False),
        sa.Column("aum", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("aum_avg", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("liability", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "customer_id", "month_end", name=op.f("pk_customer_month_aum")),
    )


def downgrade() -> None:
    op.drop_table("customer_month_aum")
    op.drop_index("ix_account_positions_customer_run", table_name="account_positions")
    op.drop_table("account_positions")
