"""autoinformer: e-mail letters, address opt-outs, the e-mail side's pause

Revision ID: a0002
Revises: a0001
Create Date: 2026-11-25 18:53:14.887262
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a0002"
down_revision = "a0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ai_letters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("values", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=True),
        sa.Column("message_id", sa.String(length=255), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("deferrals", sa.Integer(), nullable=False),
        sa.Column("rounds", sa.Integer(), nullable=False),
        sa.Column("code", sa.Integer(), nullable=True),
        sa.Column("reply", sa.Text(), nullable=False),
        sa.Column("phase", sa.String(length=8), nullable=True),
        sa.Column("last_deferral", sa.Text(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sending_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unsubscribed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["ai_campaigns.id"],
            name=op.f("fk_ai_letters_campaign_id_ai_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["ai_contacts.id"],
            name=op.f("fk_ai_letters_contact_id_ai_contacts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_letters")),
        sa.UniqueConstraint("message_id", name=op.f("uq_ai_letters_message_id")),
    )
    with op.batch_alter_table("ai_letters", schema=None) as batch_op:
        batch_op.create_index("ix_ai_letters_address", ["address"], unique=False)
        batch_op.create_index(batch_op.f("ix_ai_letters_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index(
            "ix_ai_letters_due", ["campaign_id", "state", "next_attempt_at"], unique=False
        )

    with op.batch_alter_table("ai_campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email_paused", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("email_paused_at", sa.DateTime(timezone=True), nullable=True))

    # an opt-out is now a phone (pressed 9) or an e-mail address (its unsubscribe link)
    with op.batch_alter_table("ai_opt_outs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("address", sa.String(length=254), nullable=True))
        batch_op.alter_column("phone", existing_type=sa.String(length=16), nullable=True)
        batch_op.create_unique_constraint(
            batch_op.f("uq_ai_opt_outs_address_kind"), ["address", "kind"]
        )
        # autogenerate does not see check constraints: added by hand
        batch_op.create_check_constraint(
            op.f("ck_ai_opt_outs_phone_or_address"), "(phone IS NULL) <> (address IS NULL)"
        )


def downgrade() -> None:
    # e-mail opt-outs have no phone and cannot survive the NOT NULL phone column
    op.execute("DELETE FROM ai_opt_outs WHERE phone IS NULL")
    with op.batch_alter_table("ai_opt_outs", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_ai_opt_outs_phone_or_address"), type_="check")
        batch_op.drop_constraint(batch_op.f("uq_ai_opt_outs_address_kind"), type_="unique")
        batch_op.alter_column("phone", existing_type=sa.String(length=16), nullable=False)
        batch_op.drop_column("address")

    with op.batch_alter_table("ai_campaigns", schema=None) as batch_op:
        batch_op.drop_column("email_paused_at")
        batch_op.drop_column("email_paused")

    with op.batch_alter_table("ai_letters", schema=None) as batch_op:
        batch_op.drop_index("ix_ai_letters_due")
        batch_op.drop_index(batch_op.f("ix_ai_letters_contact_id"))
        batch_op.drop_index("ix_ai_letters_address")

    op.drop_table("ai_letters")
