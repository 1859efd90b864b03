"""users: session generation (logging out, a new password or deletion revokes sessions)

Revision ID: 0008_user_sessions
Revises: 0007_outbox_claim
Create Date: 2026-12-01 17:35:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_user_sessions"
down_revision = "0007_outbox_claim"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("session_generation", sa.Integer(), nullable=False,
                                   server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_generation")
