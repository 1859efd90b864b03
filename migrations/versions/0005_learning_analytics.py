"""learning analytics: first attempts per (course, item, learner), course progress and
lesson progress per learner, kept at ingest

Revision ID: 0005_learning
Revises: 0004
Create Date: 2026-12-01 17:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_learning"
down_revision = "0004"
branch_labels = None
depends_on = None

ID = sa.String(length=256)


def upgrade() -> None:
    op.create_table(
        "learn_attempts",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("course_id", ID, nullable=False),
        sa.Column("item_id", ID, nullable=False),
        sa.Column("actor_id", ID, nullable=False),
        sa.Column("ets", sa.BigInteger(), nullable=False),
        sa.Column("mid", ID, nullable=False),
        sa.Column("lesson_id", ID, nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("maxscore", sa.Float(), nullable=True),
        sa.Column("passed", sa.Integer(), nullable=True),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("response", sa.String(length=256), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("unscored", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                name=op.f("fk_learn_attempts_site_id_sites")),
        sa.PrimaryKeyConstraint("site_id", "course_id", "item_id", "actor_id",
                                name=op.f("pk_learn_attempts")),
    )
    op.create_index("ix_learn_attempts_site_id_course_id_actor_id", "learn_attempts",
                    ["site_id", "course_id", "actor_id"])
    op.create_table(
        "learn_progress",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("course_id", ID, nullable=False),
        sa.Column("actor_id", ID, nullable=False),
        sa.Column("first_ets", sa.BigInteger(), nullable=False),
        sa.Column("last_ets", sa.BigInteger(), nullable=False),
        sa.Column("started_ets", sa.BigInteger(), nullable=True),
        sa.Column("completed_ets", sa.BigInteger(), nullable=True),
        sa.Column("active_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_chain", ID, nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                name=op.f("fk_learn_progress_site_id_sites")),
        sa.PrimaryKeyConstraint("site_id", "course_id", "actor_id",
                                name=op.f("pk_learn_progress")),
    )
    op.create_table(
        "learn_lessons",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("course_id", ID, nullable=False),
        sa.Column("lesson_id", ID, nullable=False),
        sa.Column("actor_id", ID, nullable=False),
        sa.Column("first_ets", sa.BigInteger(), nullable=False),
        sa.Column("started_ets", sa.BigInteger(), nullable=True),
        sa.Column("completed_ets", sa.BigInteger(), nullable=True),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                name=op.f("fk_learn_lessons_site_id_sites")),
        sa.PrimaryKeyConstraint("site_id", "course_id", "lesson_id", "actor_id",
                                name=op.f("pk_learn_lessons")),
    )


def downgrade() -> None:
    op.drop_table("learn_lessons")
    op.drop_table("learn_progress")
    op.drop_index("ix_learn_attempts_site_id_course_id_actor_id", table_name="learn_attempts")
    op.drop_table("learn_attempts")
