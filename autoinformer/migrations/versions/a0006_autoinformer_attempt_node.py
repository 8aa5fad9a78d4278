"""autoinformer: the Asterisk node and the serve process of each attempt (several workers)

Revision ID: a0006
Revises: a0005
Create Date: 2026-12-01 17:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a0006"
down_revision = "a0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ai_attempts", schema=None) as batch_op:
        # earlier attempts: "" (the one node there was; any worker may take them up)
        batch_op.add_column(sa.Column("node", sa.String(128), nullable=False, server_default=""))
        batch_op.add_column(
            sa.Column("instance", sa.String(128), nullable=False, server_default="")
        )
        batch_op.create_index("ix_ai_attempts_node_open", ["node", "ended_at"])


def downgrade() -> None:
    with op.batch_alter_table("ai_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_ai_attempts_node_open")
        batch_op.drop_column("instance")
        batch_op.drop_column("node")
