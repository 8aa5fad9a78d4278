"""autoinformer: the run of Asterisk each call was placed on

Revision ID: a0004
Revises: a0003
Create Date: 2026-12-03 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a0004"
down_revision = "a0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ai_attempts", schema=None) as batch_op:
        # earlier attempts: unknown (an end nobody saw is not counted, as before)
        batch_op.add_column(
            sa.Column("asterisk_boot", sa.String(length=32), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("ai_attempts", schema=None) as batch_op:
        batch_op.drop_column("asterisk_boot")
