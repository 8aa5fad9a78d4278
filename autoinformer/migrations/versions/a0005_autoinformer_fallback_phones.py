"""autoinformer: a contact's further phone numbers, dialled after failed or no_answer

Revision ID: a0005
Revises: a0004
Create Date: 2026-12-10 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a0005"
down_revision = "a0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ai_contacts", schema=None) as batch_op:
        # earlier contacts: one number each, as they were made
        batch_op.add_column(sa.Column("phones", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("ai_contacts", schema=None) as batch_op:
        batch_op.drop_column("phones")
