"""service_state.asterisk_boot: the run of Asterisk (its start time, AmiLink.asterisk_boot)
each `serve` saw up at its heartbeat, so that a later run knows how long an Asterisk run
was seen alive after a call of it was last watched

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("service_state") as batch:
        batch.add_column(
            sa.Column("asterisk_boot", sa.String(length=64), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("service_state") as batch:
        batch.drop_column("asterisk_boot")
