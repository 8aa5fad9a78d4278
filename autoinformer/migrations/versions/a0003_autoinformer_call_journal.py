"""autoinformer: a call's events stored as they happen, attempts that do not count, the
orphan deadline

Revision ID: a0003
Revises: a0002
Create Date: 2026-12-02 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a0003"
down_revision = "a0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ai_attempts", schema=None) as batch_op:
        # server defaults fill the rows already there (every earlier attempt counted)
        batch_op.add_column(
            sa.Column("confirmed", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("counted", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(sa.Column("orphan_deadline", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_ai_attempts_campaign_open", ["campaign_id", "ended_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ai_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_ai_attempts_campaign_open")
        batch_op.drop_column("orphan_deadline")
        batch_op.drop_column("counted")
        batch_op.drop_column("queued_at")
        batch_op.drop_column("confirmed")
