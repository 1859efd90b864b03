"""users: administrators, and viewers or editors of some sites only

Every existing user stays an administrator (all sites, all changes).

Revision ID: 0011_user_sites
Revises: 0010_mid_per_site
Create Date: 2026-12-01 17:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_user_sites"
down_revision = "0010_mid_per_site"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("is_admin", sa.Boolean(), nullable=False,
                                   server_default=sa.true()))
    op.create_table(
        "user_sites",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_user_sites_user_id_users"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                name=op.f("fk_user_sites_site_id_sites"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "site_id", name=op.f("pk_user_sites")),
    )


def downgrade() -> None:
    op.drop_table("user_sites")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("is_admin")
