"""nightly runs, published scores, tier history, app state and settings

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 04:18:02.589155
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "app_settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value_json", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_app_settings")),
    )
    op.create_table(
        "app_state",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_app_state")),
    )
    op.create_table(
        "nightly_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("engine", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("config_json", sa.Text(), nullable=False),
        sa.Column("timings_json", sa.Text(), nullable=True),
        sa.Column("summary_json", sa.Text(), nullable=True),
        sa.Column("segment_model_json", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nightly_runs")),
    )
    with op.batch_alter_table("nightly_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_nightly_runs_as_of"), ["as_of"], unique=False)

    op.create_table(
        "customer_scores",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("aum_avg_30d", sa.Float(), nullable=True),
        sa.Column("aum_avg_90d", sa.Float(), nullable=True),
        sa.Column("aum_avg_180d", sa.Float(), nullable=True),
        sa.Column("aum_growth_6m", sa.Float(), nullable=True),
        sa.Column("liability_balance", sa.Float(), nullable=True),
        sa.Column("tx_count_90d", sa.Integer(), nullable=True),
        sa.Column("tx_amount_90d", sa.Float(), nullable=True),
        sa.Column("tx_volume_growth_6m", sa.Float(), nullable=True),
        sa.Column("mobile_share_90d", sa.Float(), nullable=True),
        sa.Column("counter_share_90d", sa.Float(), nullable=True),
        sa.Column("last_tx_date", sa.Date(), nullable=True),
        sa.Column("recency_days", sa.Integer(), nullable=True),
        sa.Column("active_months_6m", sa.Integer(), nullable=True),
        sa.Column("payroll_months_3m", sa.Integer(), nullable=True),
        sa.Column("product_count", sa.Integer(), nullable=True),
        sa.Column("age", sa.Integer(), nullable=True),
        sa.Column("tenure_years", sa.Float(), nullable=True),
        sa.Column("revenue_annual", sa.Float(), nullable=True),
        sa.Column("cost_annual", sa.Float(), nullable=True),
        sa.Column("net_contribution", sa.Float(), nullable=True),
        sa.Column("value_class", sa.String(length=16), nullable=True),
        sa.Column("tier_raw", sa.String(length=12), nullable=True),
        sa.Column("tier", sa.String(length=12), nullable=True),
        sa.Column("segment", sa.String(length=1), nullable=True),
        sa.Column("current_value", sa.Float(), nullable=True),
        sa.Column("potential_value", sa.Float(), nullable=True),
        sa.Column("value_index", sa.Float(), nullable=True),
        sa.Column("clv_historical", sa.Float(), nullable=True),
        sa.Column("clv_current", sa.Float(), nullable=True),
        sa.Column("clv_potential", sa.Float(), nullable=True),
        sa.Column("p_alive", sa.Float(), nullable=True),
        sa.Column("tags", sa.String(length=400), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["nightly_runs.id"], name=op.f("fk_customer_scores_run_id_nightly_runs")),
        sa.PrimaryKeyConstraint("run_id", "customer_id", name=op.f("pk_customer_scores")),
    )
    with op.batch_alter_table("customer_scores", schema=None) as batch_op:
        batch_op.create_index("ix_customer_scores_customer_run", ["customer_id", "run_id"], unique=False)

    op.create_table(
        "tier_history",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("tier_raw", sa.String(length=12), nullable=False),
        sa.Column("tier", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["nightly_runs.id"], name=op.f("fk_tier_history_run_id_nightly_runs")),
        sa.PrimaryKeyConstraint("run_id", "customer_id", name=op.f("pk_tier_history")),
    )
    with op.batch_alter_table("tier_history", schema=None) as batch_op:
        batch_op.create_index("ix_tier_history_customer_run", ["customer_id", "run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tier_history", schema=None) as batch_op:
        batch_op.drop_index("ix_tier_history_customer_run")

    op.drop_table("tier_history")
    with op.batch_alter_table("customer_scores", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_scores_customer_run")

    op.drop_table("customer_scores")
    with op.batch_alter_table("nightly_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_nightly_runs_as_of"))

    op.drop_table("nightly_runs")
    op.drop_table("app_state")
    op.drop_table("app_settings")
