"""hotline: appeals (journal), outages, appointments; operators

Revision ID: h0001
Revises: 0001
Create Date: 2026-11-25 18:21:49.481899
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "h0001"
down_revision = "0001"
branch_labels = ("hotline",)
depends_on = None


def upgrade() -> None:

    op.create_table(
        "hotline_journal",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_hotline_journal")),
    )
    op.create_table(
        "hotline_outages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("addresses", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotline_outages")),
    )
    with op.batch_alter_table("hotline_outages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hotline_outages_ends_at"), ["ends_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_hotline_outages_starts_at"), ["starts_at"], unique=False
        )

    op.create_table(
        "operators",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("interface", sa.String(length=128), nullable=False),
        sa.Column("static_member", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pause_reason", sa.Text(), nullable=False),
        sa.Column("pause_after_call", sa.Boolean(), nullable=False),
        sa.Column("current_appeal_id", sa.Integer(), nullable=True),
        sa.Column("wrapup_deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("calls_taken", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operators")),
        sa.UniqueConstraint("code", name=op.f("uq_operators_code")),
        sa.UniqueConstraint("interface", name=op.f("uq_operators_interface")),
    )
    op.create_table(
        "hotline_appeals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("applicant", sa.String(length=4), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=128), nullable=False),
        sa.Column("uniqueid", sa.String(length=64), nullable=False),
        sa.Column("caller_number", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("out_of_hours", sa.Boolean(), nullable=False),
        sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("queue_entered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("queue_left_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("queue_position", sa.Integer(), nullable=True),
        sa.Column("operator_answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("operator_ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lookup_done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("info_done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("wrapup_done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("wrapup_timed_out", sa.Boolean(), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.String(length=16), nullable=True),
        sa.Column("abandoned", sa.Boolean(), nullable=False),
        sa.Column("wait_s", sa.Float(), nullable=True),
        sa.Column("talk_s", sa.Float(), nullable=True),
        sa.Column("lookup_s", sa.Float(), nullable=True),
        sa.Column("info_s", sa.Float(), nullable=True),
        sa.Column("wrapup_s", sa.Float(), nullable=True),
        sa.Column("ivr_path", sa.Text(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("recording_path", sa.Text(), nullable=False),
        sa.Column("message_path", sa.Text(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("classification", sa.String(length=4), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("timeline", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_hotline_appeals_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_hotline_appeals_operator_id_operators"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotline_appeals")),
        sa.UniqueConstraint("number", name=op.f("uq_hotline_appeals_number")),
        sa.UniqueConstraint("uniqueid", name=op.f("uq_hotline_appeals_uniqueid")),
    )
    with op.batch_alter_table("hotline_appeals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_hotline_appeals_arrived_at"), ["arrived_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_hotline_appeals_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_hotline_appeals_operator_id"), ["operator_id"], unique=False
        )

    op.create_table(
        "hotline_appointments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("appeal_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("at", sa.Time(), nullable=False),
        sa.Column("office", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["appeal_id"],
            ["hotline_appeals.id"],
            name=op.f("fk_hotline_appointments_appeal_id_hotline_appeals"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_hotline_appointments_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_hotline_appointments_operator_id_operators"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotline_appointments")),
    )
    with op.batch_alter_table("hotline_appointments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_hotline_appointments_appeal_id"), ["appeal_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("hotline_appointments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hotline_appointments_appeal_id"))

    op.drop_table("hotline_appointments")
    with op.batch_alter_table("hotline_appeals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hotline_appeals_operator_id"))
        batch_op.drop_index(batch_op.f("ix_hotline_appeals_customer_id"))
        batch_op.drop_index(batch_op.f("ix_hotline_appeals_arrived_at"))

    op.drop_table("hotline_appeals")
    op.drop_table("operators")
    with op.batch_alter_table("hotline_outages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hotline_outages_starts_at"))
        batch_op.drop_index(batch_op.f("ix_hotline_outages_ends_at"))

    op.drop_table("hotline_outages")
    op.drop_table("hotline_journal")
