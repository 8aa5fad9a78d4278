"""hotline: written appeals (e-mail, post, in person) and the journal's columns 7-11
(standard ch. 3 § 3): applicant, text, when classified, to whom and when sent for
execution, when answered and with what, when the answer came back, a note

Revision ID: h0003
Revises: h0002
Create Date: 2026-12-12 11:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "h0003"
down_revision = "h0002"
branch_labels = None
depends_on = None

TEXTS = ("applicant_name", "applicant_address", "text", "assigned_to", "reply_text", "note")
TIMES = ("classified_at", "assigned_at", "replied_at", "response_received_at")


def upgrade() -> None:
    with op.batch_alter_table("hotline_appeals", schema=None) as batch_op:
        for name in TEXTS:
            batch_op.add_column(sa.Column(name, sa.Text(), nullable=False, server_default=""))
        for name in TIMES:
            batch_op.add_column(sa.Column(name, sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hotline_appeals", schema=None) as batch_op:
        for name in reversed(TIMES):
            batch_op.drop_column(name)
        for name in reversed(TEXTS):
            batch_op.drop_column(name)
