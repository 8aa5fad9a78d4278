"""autoinformer: attempts claimed ahead of a free slot (several workers on PostgreSQL)

Revision ID: a0010
Revises: a0009
Create Date: 2026-12-03 10:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a0010"
down_revision = "a0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN: a batch could rebuild the table on SQLite (see a0007)
    op.add_column(
        "ai_attempts",
        sa.Column("ahead", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("ai_attempts", schema=None) as batch_op:
        batch_op.drop_column("ahead")
