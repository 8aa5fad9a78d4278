"""autoinformer: follow-ups of contacts the phone did not reach (a letter or a call-back)

Revision ID: a0009
Revises: a0008
Create Date: 2026-12-01 17:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a0009"
down_revision = "a0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMNs: a batch could rebuild the tables on SQLite (see a0007)
    op.add_column("ai_contacts", sa.Column("follow_up", sa.String(16), nullable=True))
    op.add_column("ai_campaigns", sa.Column("follow_up_of", sa.Integer(), nullable=True))
    op.add_column(
        "ai_campaigns", sa.Column("follow_ups_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("ai_campaigns", schema=None) as batch_op:
        batch_op.drop_column("follow_ups_at")
        batch_op.drop_column("follow_up_of")
    with op.batch_alter_table("ai_contacts", schema=None) as batch_op:
        batch_op.drop_column("follow_up")
