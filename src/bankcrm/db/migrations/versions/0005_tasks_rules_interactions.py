"""maintenance rules, tasks and their history; interactions and customer reassignments

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 06:57:04.045941
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "rules",
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("name_zh", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("condition", sa.Text(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("tier_actions_json", sa.Text(), nullable=False),
        sa.Column("product_category", sa.String(length=32), nullable=True),
        sa.Column("offer", sa.String(length=200), nullable=True),
        sa.Column("priority", sa.String(length=10), nullable=False),
        sa.Column("sla_hours", sa.Integer(), nullable=False),
        sa.Column("sla_working_days", sa.Integer(), nullable=True),
        sa.Column("escalates", sa.Boolean(), nullable=False),
        sa.Column("marketing", sa.Boolean(), nullable=False),
        sa.Column("cooldown_days", sa.Integer(), nullable=False),
        sa.Column("template_zh", sa.Text(), nullable=False),
        sa.Column("template_en", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("rule_id", name=op.f("pk_rules")),
    )
    op.create_table(
        "rule_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("snapshot_json", sa.Text(), nullable=False),
        sa.Column("change", sa.String(length=20), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["rule_id"], ["rules.rule_id"], name=op.f("fk_rule_versions_rule_id_rules")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_versions")),
    )
    with op.batch_alter_table("rule_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rule_versions_rule_id"), ["rule_id"], unique=False)

    op.create_table(
        "customer_assignments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("from_rm_id", sa.String(length=32), nullable=True),
        sa.Column("to_rm_id", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.String(length=400), nullable=False),
        sa.Column("changed_by", sa.String(length=64), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.customer_id"], name=op.f("fk_customer_assignments_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_assignments")),
    )
    with op.batch_alter_table("customer_assignments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_assignments_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "interactions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("staff_id", sa.String(length=32), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("next_step", sa.String(length=400), nullable=True),
        sa.Column("next_step_on", sa.Date(), nullable=True),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.customer_id"], name=op.f("fk_interactions_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interactions")),
    )
    with op.batch_alter_table("interactions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_interactions_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_interactions_occurred_at"), ["occurred_at"], unique=False)

    op.create_table(
        "tasks",
        sa.Column("task_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=True),
        sa.Column("rule_version", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("priority", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=True),
        sa.Column("marketing", sa.Boolean(), nullable=False),
        sa.Column("product_category", sa.String(length=32), nullable=True),
        sa.Column("facts_json", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_to", sa.String(length=32), nullable=True),
        sa.Column("queue_branch_id", sa.String(length=32), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated_to", sa.String(length=32), nullable=True),
        sa.Column("snoozed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("open_key", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.customer_id"], name=op.f("fk_tasks_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("task_id", name=op.f("pk_tasks")),
        sa.UniqueConstraint("open_key", name=op.f("uq_tasks_open_key")),
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index("ix_tasks_assigned_status_due", ["assigned_to", "status", "due_at"], unique=False)
        batch_op.create_index("ix_tasks_customer_rule", ["customer_id", "rule_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tasks_queue_branch_id"), ["queue_branch_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tasks_run_id"), ["run_id"], unique=False)

    op.create_table(
        "task_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("detail_json", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.task_id"], name=op.f("fk_task_events_task_id_tasks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_events")),
    )
    with op.batch_alter_table("task_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_events_task_id"), ["task_id"], unique=False)

    op.create_table(
        "task_run_hits",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.task_id"], name=op.f("fk_task_run_hits_task_id_tasks")),
        sa.PrimaryKeyConstraint("run_id", "task_id", name=op.f("pk_task_run_hits")),
    )


def downgrade() -> None:

    op.drop_table("task_run_hits")
    with op.batch_alter_table("task_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_events_task_id"))

    op.drop_table("task_events")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tasks_run_id"))
        batch_op.drop_index(batch_op.f("ix_tasks_queue_branch_id"))
        batch_op.drop_index("ix_tasks_customer_rule")
        batch_op.drop_index("ix_tasks_assigned_status_due")

    op.drop_table("tasks")
    with op.batch_alter_table("interactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_interactions_occurred_at"))
        batch_op.drop_index(batch_op.f("ix_interactions_customer_id"))

    op.drop_table("interactions")
    with op.batch_alter_table("customer_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_assignments_customer_id"))

    op.drop_table("customer_assignments")
    with op.batch_alter_table("rule_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rule_versions_rule_id"))

    op.drop_table("rule_versions")
    op.drop_table("rules")
