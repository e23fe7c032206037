"""Indexes that let the customer list find a page without visiting a heap page per customer

The list joined every customer of the RM to the current run's scores, reading one `customers`
heap page and one `customer_scores` heap page per customer (about 2,800 buffers for an RM with
567 customers) to show 20 of them. With the RM's customer ids in an index of their own and, on
PostgreSQL, the list's score columns included in the scores index, the page is found by
index-only scans and only its 20 customer rows are read.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 18:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIST_INCLUDE = ["tier", "segment", "value_class", "aum_avg_30d", "value_index"]


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customers_rm_id"))
        batch_op.create_index("ix_customers_rm_id_customer_id", ["rm_id", "customer_id"], unique=False)
    with op.batch_alter_table("customer_scores", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_scores_customer_run")
        batch_op.create_index(
            "ix_customer_scores_customer_run", ["customer_id", "run_id"], unique=False, postgresql_include=LIST_INCLUDE
        )


def downgrade() -> None:
    with op.batch_alter_table("customer_scores", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_scores_customer_run")
        batch_op.create_index("ix_customer_scores_customer_run", ["customer_id", "run_id"], unique=False)
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index("ix_customers_rm_id_customer_id")
        batch_op.create_index(batch_op.f("ix_customers_rm_id"), ["rm_id"], unique=False)
