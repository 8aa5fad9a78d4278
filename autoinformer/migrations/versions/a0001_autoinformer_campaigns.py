"""autoinformer: scenarios, campaigns, contacts, attempts, opt-outs

Revision ID: a0001
Revises: 0001
Create Date: 2026-11-25 18:19:51.524606
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a0001"
down_revision = "0001"
branch_labels = ("autoinformer",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ai_opt_outs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_opt_outs")),
        sa.UniqueConstraint("phone", "kind", name=op.f("uq_ai_opt_outs_phone_kind")),
    )
    op.create_table(
        "ai_scenarios",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_scenarios")),
        sa.UniqueConstraint("name", "version", name=op.f("uq_ai_scenarios_name_version")),
    )
    with op.batch_alter_table("ai_scenarios", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ai_scenarios_name"), ["name"], unique=False)

    op.create_table(
        "ai_campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("scenario_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("windows", sa.Text(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("ring_timeout", sa.Float(), nullable=False),
        sa.Column("retry", sa.Text(), nullable=False),
        sa.Column("caps", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("outage_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_date", sa.Date(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("rejected_rows", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["scenario_id"],
            ["ai_scenarios.id"],
            name=op.f("fk_ai_campaigns_scenario_id_ai_scenarios"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_campaigns")),
    )
    with op.batch_alter_table("ai_campaigns", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ai_campaigns_status"), ["status"], unique=False)

    op.create_table(
        "ai_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("values", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=True),
        sa.Column("notified", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("callback", sa.Boolean(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("wait_reason", sa.String(length=24), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["ai_campaigns.id"],
            name=op.f("fk_ai_contacts_campaign_id_ai_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_contacts")),
        sa.UniqueConstraint("campaign_id", "phone", name=op.f("uq_ai_contacts_campaign_id_phone")),
    )
    with op.batch_alter_table("ai_contacts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ai_contacts_due", ["campaign_id", "state", "next_attempt_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_ai_contacts_phone"), ["phone"], unique=False)

    op.create_table(
        "ai_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("channel_id", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=True),
        sa.Column("duration", sa.Float(), nullable=False),
        sa.Column("parts_played", sa.Integer(), nullable=False),
        sa.Column("parts_total", sa.Integer(), nullable=False),
        sa.Column("played_to_end", sa.Boolean(), nullable=False),
        sa.Column("digits", sa.String(length=32), nullable=False),
        sa.Column("transferred", sa.Boolean(), nullable=False),
        sa.Column("operator", sa.String(length=128), nullable=False),
        sa.Column("callback", sa.Boolean(), nullable=False),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["ai_campaigns.id"],
            name=op.f("fk_ai_attempts_campaign_id_ai_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["ai_contacts.id"],
            name=op.f("fk_ai_attempts_contact_id_ai_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_attempts")),
        sa.UniqueConstraint("channel_id", name=op.f("uq_ai_attempts_channel_id")),
    )
    with op.batch_alter_table("ai_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ai_attempts_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ai_attempts_outcome"), ["outcome"], unique=False)
        batch_op.create_index("ix_ai_attempts_phone_kind", ["phone", "kind"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ai_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_ai_attempts_phone_kind")
        batch_op.drop_index(batch_op.f("ix_ai_attempts_outcome"))
        batch_op.drop_index(batch_op.f("ix_ai_attempts_contact_id"))

    op.drop_table("ai_attempts")
    with op.batch_alter_table("ai_contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ai_contacts_phone"))
        batch_op.drop_index("ix_ai_contacts_due")

    op.drop_table("ai_contacts")
    with op.batch_alter_table("ai_campaigns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ai_campaigns_status"))

    op.drop_table("ai_campaigns")
    with op.batch_alter_table("ai_scenarios", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ai_scenarios_name"))

    op.drop_table("ai_scenarios")
    op.drop_table("ai_opt_outs")
