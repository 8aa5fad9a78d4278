"""autoinformer: fresh data at dial time (the campaign's source and outage, its pace)

Revision ID: a0007
Revises: a0006
Create Date: 2026-12-01 17:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a0007"
down_revision = "a0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMNs, not a batch: SQLite's batch would rebuild ai_campaigns, and dropping
    # the old table cascades to every contact and attempt of every campaign
    # earlier campaigns: their lists are taken as they were loaded
    op.add_column(
        "ai_campaigns",
        sa.Column("from_base", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("ai_campaigns", sa.Column("outage_id", sa.Integer(), nullable=True))
    op.add_column(
        "ai_campaigns", sa.Column("outage_end", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("ai_campaigns", sa.Column("outage_note", sa.Text(), nullable=True))
    op.add_column("ai_campaigns", sa.Column("pace", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ai_campaigns", schema=None) as batch_op:
        batch_op.drop_column("pace")
        batch_op.drop_column("outage_note")
        batch_op.drop_column("outage_end")
        batch_op.drop_column("outage_id")
        batch_op.drop_column("from_base")
