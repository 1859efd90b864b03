"""events: index by (site, learner), for erasure and for rebuilding a learner

Revision ID: 0012_events_by_learner
Revises: 0011_user_sites
Create Date: 2026-12-01 21:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0012_events_by_learner"
down_revision = "0011_user_sites"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_events_site_id_actor_id", "events", ["site_id", "actor_id"])


def downgrade() -> None:
    op.drop_index("ix_events_site_id_actor_id", table_name="events")
