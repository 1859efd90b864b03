"""registry: registered event types and per-name counters (event catalog)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 14:14:00.067722
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = "0003"
branch_labels = None
depends_on = None

# Counters of the events stored before this migration, so the catalog starts complete.
# One pass over events (GROUP BY), then a join on the first id of each name for its
# example; no per-name scan.
BACKFILL = """
INSERT INTO event_names (name, eid, count, first_seen, last_seen, warned, last_warnings,
                         example)
SELECT a.name, a.eid, a.n, a.first_seen, a.last_seen, a.warned, NULL,
       CASE WHEN length(e.payload) <= 8192 THEN e.payload END
FROM (SELECT name, min(eid) AS eid, count(*) AS n, min(received_at) AS first_seen,
             max(received_at) AS last_seen, count(warnings) AS warned, min(id) AS first_id
      FROM events GROUP BY name) AS a
JOIN events AS e ON e.id = a.first_id
"""


def upgrade() -> None:
    op.create_table('event_names',
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('eid', sa.String(length=16), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.Column('first_seen', sa.BigInteger(), nullable=False),
    sa.Column('last_seen', sa.BigInteger(), nullable=False),
    sa.Column('warned', sa.BigInteger(), nullable=False),
    sa.Column('last_warnings', sa.Text(), nullable=True),
    sa.Column('example', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_event_names'))
    )
    op.create_table('event_types',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('schema_id', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('fields', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('registered_at', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_types')),
    sa.UniqueConstraint('name', 'version', name='uq_event_types_name_version'),
    sa.UniqueConstraint('schema_id', name=op.f('uq_event_types_schema_id'))
    )
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_table('event_types')
    op.drop_table('event_names')
