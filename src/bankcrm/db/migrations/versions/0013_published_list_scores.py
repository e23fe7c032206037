"""The current run's list scores on the customer row, in the indexes that hold the record scope

The customer list joined every customer in the principal's scope to the current run's scores to
sort and count them, a score-index probe per customer (about 1,900 buffers for an RM with 567
customers) to show 20. Publishing a run now copies the five list columns onto the customers, and
the RM and branch indexes (which the record scope uses) include them on PostgreSQL, so a page and
its total come from an index-only scan of a few pages. The scores index goes back to its two key
columns. The columns are filled from the current run, when there is one.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIST_COLUMNS = ("tier", "segment", "value_class", "aum_avg_30d", "value_index")
PUBLISHED = [f"published_{name}" for name in LIST_COLUMNS]


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("published_tier", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("published_segment", sa.String(length=1), nullable=True))
        batch_op.add_column(sa.Column("published_value_class", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("published_aum_avg_30d", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("published_value_index", sa.Float(), nullable=True))
    assignments = ", ".join(f"{p} = s.{c}" for p, c in zip(PUBLISHED, LIST_COLUMNS, strict=True))
    op.execute(
        f"UPDATE customers SET {assignments} FROM customer_scores AS s, app_state AS a "
        "WHERE a.key = 'current_run_id' AND s.run_id = CAST(a.value AS INTEGER) "
        "AND s.customer_id = customers.customer_id"
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index("ix_customers_rm_id_customer_id")
        batch_op.drop_index(batch_op.f("ix_customers_branch_id"))
        batch_op.create_index(
            "ix_customers_rm_id_customer_id", ["rm_id", "customer_id"], unique=False, postgresql_include=PUBLISHED
        )
        batch_op.create_index(
            "ix_customers_branch_id", ["branch_id", "customer_id"], unique=False, postgresql_include=PUBLISHED
        )
    with op.batch_alter_table("customer_scores", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_scores_customer_run")
        batch_op.create_index("ix_customer_scores_customer_run", ["customer_id", "run_id"], unique=False)
    op.create_index(
        "ix_accounts_maturing",
        "accounts",
        ["customer_id", "maturity_on"],
        unique=False,
        postgresql_include=["closed_on", "product_id"],
        postgresql_where=sa.text("maturity_on IS NOT NULL"),
        sqlite_where=sa.text("maturity_on IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_accounts_maturing", table_name="accounts")
    with op.batch_alter_table("customer_scores", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_scores_customer_run")
        batch_op.create_index(
            "ix_customer_scores_customer_run",
            ["customer_id", "run_id"],
            unique=False,
            postgresql_include=list(LIST_COLUMNS),
        )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index("ix_customers_branch_id")
        batch_op.drop_index("ix_customers_rm_id_customer_id")
        batch_op.create_index(batch_op.f("ix_customers_branch_id"), ["branch_id"], unique=False)
        batch_op.create_index("ix_customers_rm_id_customer_id", ["rm_id", "customer_id"], unique=False)
        for name in reversed(PUBLISHED):
            batch_op.drop_column(name)
