"""autoinformer: the Asterisk node and the serve process of each attempt (several workers)

Revision ID: a0008
Revises: a0007
Create Date: 2026-12-01 17:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a0008"
down_revision = "a0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMNs: a batch could rebuild the table on SQLite (see a0007)
    # earlier attempts: "" (the one node there was; any worker may take them up)
    op.add_column(
        "ai_attempts", sa.Column("node", sa.String(128), nullable=False, server_default="")
    )
    op.add_column(
        "ai_attempts", sa.Column("instance", sa.String(128), nullable=False, server_default="")
    )
    op.create_index("ix_ai_attempts_node_open", "ai_attempts", ["node", "ended_at"])


def downgrade() -> None:
    op.drop_index("ix_ai_attempts_node_open", table_name="ai_attempts")
    with op.batch_alter_table("ai_attempts", schema=None) as batch_op:
        batch_op.drop_column("instance")
        batch_op.drop_column("node")
