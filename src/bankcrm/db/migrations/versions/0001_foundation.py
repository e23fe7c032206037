"""foundation: branches, staff, customers, products, accounts, ingest

Revision ID: 0001
Revises:
Create Date: 2026-11-26 04:11:26.578485
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "branches",
        sa.Column("branch_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=True),
        sa.Column("parent_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["parent_id"], ["branches.branch_id"], name=op.f("fk_branches_parent_id_branches")),
        sa.PrimaryKeyConstraint("branch_id", name=op.f("pk_branches")),
    )
    with op.batch_alter_table("branches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_branches_parent_id"), ["parent_id"], unique=False)

    op.create_table(
        "ingest_loads",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("bundle_dir", sa.String(length=1000), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("report_json", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_loads")),
    )
    op.create_table(
        "products",
        sa.Column("product_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("risk_level", sa.String(length=2), nullable=True),
        sa.Column("term_days", sa.Integer(), nullable=True),
        sa.Column("expected_yield", sa.Numeric(precision=9, scale=6), nullable=True),
        sa.Column("is_agency", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("product_id", name=op.f("pk_products")),
    )
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_products_category"), ["category"], unique=False)

    op.create_table(
        "ingest_rejects",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("load_id", sa.Integer(), nullable=False),
        sa.Column("file", sa.String(length=200), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.String(length=400), nullable=True),
        sa.Column("raw_enc", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["load_id"], ["ingest_loads.id"], name=op.f("fk_ingest_rejects_load_id_ingest_loads")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_rejects")),
    )
    with op.batch_alter_table("ingest_rejects", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ingest_rejects_load_id"), ["load_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ingest_rejects_reason"), ["reason"], unique=False)

    op.create_table(
        "teams",
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("branch_id", sa.String(length=32), nullable=False),
        sa.Column("lead_staff_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["branch_id"], ["branches.branch_id"], name=op.f("fk_teams_branch_id_branches")),
        sa.PrimaryKeyConstraint("team_id", name=op.f("pk_teams")),
    )
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_teams_branch_id"), ["branch_id"], unique=False)

    op.create_table(
        "staff",
        sa.Column("staff_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("branch_id", sa.String(length=32), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=True),
        sa.Column("level", sa.String(length=20), nullable=True),
        sa.Column("skills", sa.String(length=400), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["branch_id"], ["branches.branch_id"], name=op.f("fk_staff_branch_id_branches")),
        sa.ForeignKeyConstraint(["team_id"], ["teams.team_id"], name=op.f("fk_staff_team_id_teams")),
        sa.PrimaryKeyConstraint("staff_id", name=op.f("pk_staff")),
    )
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_branch_id"), ["branch_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_staff_role"), ["role"], unique=False)
        batch_op.create_index(batch_op.f("ix_staff_team_id"), ["team_id"], unique=False)

    op.create_table(
        "customers",
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("customer_type", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("gender", sa.String(length=1), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("id_number_enc", sa.String(length=200), nullable=False),
        sa.Column("id_number_bidx", sa.String(length=40), nullable=False),
        sa.Column("phone_enc", sa.String(length=200), nullable=False),
        sa.Column("phone_bidx", sa.String(length=40), nullable=False),
        sa.Column("address_enc", sa.Text(), nullable=True),
        sa.Column("email_enc", sa.String(length=400), nullable=True),
        sa.Column("city", sa.String(length=100), nullable=True),
        sa.Column("occupation", sa.String(length=32), nullable=True),
        sa.Column("income_monthly", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("onboard_date", sa.Date(), nullable=False),
        sa.Column("branch_id", sa.String(length=32), nullable=False),
        sa.Column("rm_id", sa.String(length=32), nullable=True),
        sa.Column("marketing_consent", sa.Boolean(), nullable=False),
        sa.Column("risk_level", sa.String(length=2), nullable=True),
        sa.Column("risk_assessed_on", sa.Date(), nullable=True),
        sa.Column("contact_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["branch_id"], ["branches.branch_id"], name=op.f("fk_customers_branch_id_branches")),
        sa.ForeignKeyConstraint(["rm_id"], ["staff.staff_id"], name=op.f("fk_customers_rm_id_staff")),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customers")),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customers_branch_id"), ["branch_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_customers_id_number_bidx"), ["id_number_bidx"], unique=False)
        batch_op.create_index(batch_op.f("ix_customers_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_customers_phone_bidx"), ["phone_bidx"], unique=False)
        batch_op.create_index(batch_op.f("ix_customers_rm_id"), ["rm_id"], unique=False)

    op.create_table(
        "accounts",
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("product_id", sa.String(length=32), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("maturity_on", sa.Date(), nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("next_due_on", sa.Date(), nullable=True),
        sa.Column("amount_due", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("days_past_due", sa.Integer(), nullable=True),
        sa.Column("account_number_enc", sa.String(length=200), nullable=True),
        sa.Column("account_number_bidx", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.customer_id"], name=op.f("fk_accounts_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(["product_id"], ["products.product_id"], name=op.f("fk_accounts_product_id_products")),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_accounts")),
    )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_accounts_account_number_bidx"), ["account_number_bidx"], unique=False)
        batch_op.create_index(batch_op.f("ix_accounts_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_accounts_product_id"), ["product_id"], unique=False)

    op.create_table(
        "consent_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("consent", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=True),
        sa.Column("note", sa.String(length=400), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.customer_id"], name=op.f("fk_consent_events_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_events")),
    )
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consent_events_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "contact_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("phone_enc", sa.String(length=200), nullable=True),
        sa.Column("address_enc", sa.Text(), nullable=True),
        sa.Column("email_enc", sa.String(length=400), nullable=True),
        sa.Column("occupation", sa.String(length=32), nullable=True),
        sa.Column("income_monthly", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(length=64), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=400), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.customer_id"], name=op.f("fk_contact_versions_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_versions")),
        sa.UniqueConstraint("customer_id", "version", name=op.f("uq_contact_versions_customer_id")),
    )
    with op.batch_alter_table("contact_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contact_versions_customer_id"), ["customer_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("contact_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_versions_customer_id"))

    op.drop_table("contact_versions")
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_events_customer_id"))

    op.drop_table("consent_events")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounts_product_id"))
        batch_op.drop_index(batch_op.f("ix_accounts_customer_id"))
        batch_op.drop_index(batch_op.f("ix_accounts_account_number_bidx"))

    op.drop_table("accounts")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customers_rm_id"))
        batch_op.drop_index(batch_op.f("ix_customers_phone_bidx"))
        batch_op.drop_index(batch_op.f("ix_customers_name"))
        batch_op.drop_index(batch_op.f("ix_customers_id_number_bidx"))
        batch_op.drop_index(batch_op.f("ix_customers_branch_id"))

    op.drop_table("customers")
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_team_id"))
        batch_op.drop_index(batch_op.f("ix_staff_role"))
        batch_op.drop_index(batch_op.f("ix_staff_branch_id"))

    op.drop_table("staff")
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_teams_branch_id"))

    op.drop_table("teams")
    with op.batch_alter_table("ingest_rejects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingest_rejects_reason"))
        batch_op.drop_index(batch_op.f("ix_ingest_rejects_load_id"))

    op.drop_table("ingest_rejects")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_products_category"))

    op.drop_table("products")
    op.drop_table("ingest_loads")
    with op.batch_alter_table("branches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_branches_parent_id"))

    op.drop_table("branches")
