"""learning analytics: first attempts, course and lesson progress per learner, and the
per-course, per-lesson and per-item totals the course reports read, kept at ingest

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

TABLES = ("learn_durations", "learn_answers", "learn_items", "learn_lesson_stats",
          "learn_courses", "learn_lessons", "learn_progress", "learn_attempts")


def upgrade() -> None:
    op.create_table(
        "learn_attempts",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.String(length=256), nullable=False),
        sa.Column("actor_id", sa.String(length=256), nullable=False),
        sa.Column("item_id", sa.String(length=256), nullable=False),
        sa.Column("ets", sa.BigInteger(), nullable=False),
        sa.Column("mid", sa.String(length=256), nullable=False),
        sa.Column("lesson_id", sa.String(length=256), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("maxscore", sa.Float(), nullable=True),
        sa.Column("passed", sa.Integer(), nullable=True),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("response", sa.String(length=256), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("unscored", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                name=op.f("fk_learn_attempts_site_id_sites")),
        sa.PrimaryKeyConstraint("site_id", "course_id", "actor_id", "item_id",
                                name=op.f("pk_learn_attempts")),
    )
    op.create_table(
        "learn_progress",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.String(length=256), nullable=False),
        sa.Column("actor_id", sa.String(length=256), nullable=False),
        sa.Column("first_ets", sa.BigInteger(), nullable=False),
        sa.Column("last_ets", sa.BigInteger(), nullable=False),
        sa.Column("started_ets", sa.BigInteger(), nullable=True),
        sa.Column("completed_ets", sa.BigInteger(), nullable=True),
        sa.Column("active_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_chain", sa.String(length=256), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("lessons_completed", sa.Integer(), nullable=False),
        sa.Column("fail_streak", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                name=op.f("fk_learn_progress_site_id_sites")),
        sa.PrimaryKeyConstraint("site_id", "course_id", "actor_id",
                                name=op.f("pk_learn_progress")),
    )
    op.create_table(
        "learn_lessons",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.String(length=256), nullable=False),
        sa.Column("actor_id", sa.String(length=256), nullable=False),
        sa.Column("lesson_id", sa.String(length=256), nullable=False),
        sa.Column("first_ets", sa.BigInteger(), nullable=False),
        sa.Column("started_ets", sa.BigInteger(), nullable=True),
        sa.Column("completed_ets", sa.BigInteger(), nullable=True),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                name=op.f("fk_learn_lessons_site_id_sites")),
        sa.PrimaryKeyConstraint("site_id", "course_id", "actor_id", "lesson_id",
                                name=op.f("pk_learn_lessons")),
    )
    op.create_table(
        "learn_courses",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.String(length=256), nullable=False),
        sa.Column("learners", sa.Integer(), nullable=False),
        sa.Column("started", sa.Integer(), nullable=False),
        sa.Column("completed", sa.Integer(), nullable=False),
        sa.Column("finished", sa.Integer(), nullable=False),
        sa.Column("last_ets", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                name=op.f("fk_learn_courses_site_id_sites")),
        sa.PrimaryKeyConstraint("site_id", "course_id",
                                name=op.f("pk_learn_courses")),
    )
    op.create_table(
        "learn_lesson_stats",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.String(length=256), nullable=False),
        sa.Column("lesson_id", sa.String(length=256), nullable=False),
        sa.Column("learners", sa.Integer(), nullable=False),
        sa.Column("started", sa.Integer(), nullable=False),
        sa.Column("completed", sa.Integer(), nullable=False),
        sa.Column("first_ets", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                name=op.f("fk_learn_lesson_stats_site_id_sites")),
        sa.PrimaryKeyConstraint("site_id", "course_id", "lesson_id",
                                name=op.f("pk_learn_lesson_stats")),
    )
    op.create_table(
        "learn_items",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.String(length=256), nullable=False),
        sa.Column("item_id", sa.String(length=256), nullable=False),
        sa.Column("learners", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("unscored", sa.Integer(), nullable=False),
        sa.Column("out_of_range", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("sx", sa.Float(), nullable=False),
        sa.Column("sy", sa.Float(), nullable=False),
        sa.Column("sxx", sa.Float(), nullable=False),
        sa.Column("syy", sa.Float(), nullable=False),
        sa.Column("sxy", sa.Float(), nullable=False),
        sa.Column("first_ets", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                name=op.f("fk_learn_items_site_id_sites")),
        sa.PrimaryKeyConstraint("site_id", "course_id", "item_id",
                                name=op.f("pk_learn_items")),
    )
    op.create_table(
        "learn_answers",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.String(length=256), nullable=False),
        sa.Column("item_id", sa.String(length=256), nullable=False),
        sa.Column("response", sa.String(length=256), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                name=op.f("fk_learn_answers_site_id_sites")),
        sa.PrimaryKeyConstraint("site_id", "course_id", "item_id", "response",
                                name=op.f("pk_learn_answers")),
    )
    op.create_table(
        "learn_durations",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.String(length=256), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                name=op.f("fk_learn_durations_site_id_sites")),
        sa.PrimaryKeyConstraint("site_id", "course_id", "kind", "key", "seconds",
                                name=op.f("pk_learn_durations")),
    )


def downgrade() -> None:
    for table in TABLES:
        op.drop_table(table)
