"""autoinformer: each call's recording and the message it played (proof of notification)

Revision ID: a0006
Revises: a0005
Create Date: 2026-12-12 10:00:00.000000
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
        # earlier calls were not recorded
        batch_op.add_column(
            sa.Column("recording_path", sa.Text(), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("message", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("ai_attempts", schema=None) as batch_op:
        batch_op.drop_column("message")
        batch_op.drop_column("recording_path")
