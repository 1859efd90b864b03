"""dashboard: events stored with a warning, per site, hour and kind of warning

Revision ID: 0006_warnings
Revises: 0005_learning
Create Date: 2026-12-01 17:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_warnings"
down_revision = "0005_learning"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dash_warnings",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("hour", sa.BigInteger(), nullable=False),
        sa.Column("warning", sa.String(length=300), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("example_mid", sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                name=op.f("fk_dash_warnings_site_id_sites")),
        sa.PrimaryKeyConstraint("site_id", "hour", "warning", name=op.f("pk_dash_warnings")),
    )


def downgrade() -> None:
    op.drop_table("dash_warnings")
