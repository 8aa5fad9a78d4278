"""hotline: where an appeal came from (hotline, autoinformer transfer, operator phone,
call-back) and what the call was about before it reached an operator (the screen-pop)

Revision ID: h0002
Revises: h0001
Create Date: 2026-12-05 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "h0002"
down_revision = "h0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hotline_appeals", schema=None) as batch_op:
        # every earlier appeal was a hotline call
        batch_op.add_column(
            sa.Column("source", sa.String(length=16), nullable=False, server_default="hotline")
        )
        batch_op.add_column(sa.Column("context", sa.JSON(), nullable=True))
        batch_op.create_index("ix_hotline_appeals_source_open", ["source", "ended_at"])


def downgrade() -> None:
    with op.batch_alter_table("hotline_appeals", schema=None) as batch_op:
        batch_op.drop_index("ix_hotline_appeals_source_open")
        batch_op.drop_column("context")
        batch_op.drop_column("source")
