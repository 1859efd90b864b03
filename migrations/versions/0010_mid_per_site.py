"""events: mid unique per site (site_id, mid); outbox rows name their event's site

Revision ID: 0010_mid_per_site
Revises: 0009_site_registrations
Create Date: 2026-12-01 17:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_mid_per_site"
down_revision = "0009_site_registrations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_constraint("uq_events_mid", type_="unique")
        batch.create_unique_constraint("uq_events_site_mid", ["site_id", "mid"])
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("site_id", sa.Integer(), nullable=True))
    # Until now a mid named one event across sites, so each row's site is exact.
    op.execute("UPDATE outbox SET site_id = (SELECT events.site_id FROM events "
               "WHERE events.mid = outbox.mid)")
    op.execute("DELETE FROM outbox WHERE site_id IS NULL")  # its event is gone
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("site_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key("fk_outbox_site_id_sites", "sites", ["site_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint("fk_outbox_site_id_sites", type_="foreignkey")
        batch.drop_column("site_id")
    with op.batch_alter_table("events") as batch:
        batch.drop_constraint("uq_events_site_mid", type_="unique")
        batch.create_unique_constraint("uq_events_mid", ["mid"])
