"""outbox: index of the claim query (target, failed, id)

Revision ID: 0007_outbox_claim
Revises: 0006_warnings
Create Date: 2026-12-01 17:30:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0007_outbox_claim"
down_revision = "0006_warnings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_target_failed_id", "outbox", ["target", "failed", "id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_target_failed_id", table_name="outbox")
