"""customers, phones, e-mails

Revision ID: 0001
Revises:
Create Date: 2026-11-25 17:40:16.613524
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("has_contract", sa.Boolean(), nullable=False),
        sa.Column("debt", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("debt_date", sa.Date(), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("account", name=op.f("uq_customers_account")),
    )
    op.create_table(
        "customer_emails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("consent", sa.Boolean(), nullable=False),
        sa.Column("consent_date", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_emails_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_emails")),
        sa.UniqueConstraint(
            "customer_id", "address", name=op.f("uq_customer_emails_customer_id_address")
        ),
    )
    with op.batch_alter_table("customer_emails", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_emails_address"), ["address"], unique=False)

    op.create_table(
        "customer_phones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("from_contract", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_phones_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_phones")),
        sa.UniqueConstraint(
            "customer_id", "number", name=op.f("uq_customer_phones_customer_id_number")
        ),
    )
    with op.batch_alter_table("customer_phones", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_phones_number"), ["number"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("customer_phones", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_phones_number"))

    op.drop_table("customer_phones")
    with op.batch_alter_table("customer_emails", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_emails_address"))

    op.drop_table("customer_emails")
    op.drop_table("customers")
