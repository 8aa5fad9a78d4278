"""service_state.ami_address: the Asterisk each `serve` drives, so that another worker can
ask that Asterisk what became of a dead worker's calls

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("service_state") as batch:
        batch.add_column(
            sa.Column("ami_address", sa.String(length=255), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("service_state") as batch:
        batch.drop_column("ami_address")
