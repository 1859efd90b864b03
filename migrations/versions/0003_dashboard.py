"""dashboard: derived tables kept at ingest (keys, sessions, minutes, hours, reasons),
path-cleaning rules and saved funnels

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 14:13:57.909148
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dash_funnels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('query', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dash_funnels'))
    )
    op.create_table('dash_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('fingerprint', sa.String(length=40), nullable=False),
    sa.Column('eid', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('course_id', sa.String(length=256), nullable=False),
    sa.Column('page_id', sa.String(length=256), nullable=False),
    sa.Column('object_type', sa.String(length=256), nullable=False),
    sa.Column('edata_type', sa.String(length=256), nullable=False),
    sa.Column('target', sa.String(length=512), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_dash_keys_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dash_keys')),
    sa.UniqueConstraint('site_id', 'fingerprint', name='uq_dash_keys_fp')
    )
    op.create_table('dash_minutes',
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('minute', sa.BigInteger(), nullable=False),
    sa.Column('events', sa.Integer(), nullable=False),
    sa.Column('course_starts', sa.Integer(), nullable=False),
    sa.Column('course_ends', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_dash_minutes_site_id_sites')),
    sa.PrimaryKeyConstraint('site_id', 'minute', name=op.f('pk_dash_minutes'))
    )
    op.create_table('dash_path_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('pattern', sa.String(length=200), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_dash_path_rules_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dash_path_rules'))
    )
    op.create_table('dash_reject_reasons',
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('hour', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=False),
    sa.Column('events', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_dash_reject_reasons_site_id_sites')),
    sa.PrimaryKeyConstraint('site_id', 'hour', 'reason', name=op.f('pk_dash_reject_reasons'))
    )
    op.create_table('dash_sessions',
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.String(length=256), nullable=False),
    sa.Column('actor_id', sa.String(length=256), nullable=False),
    sa.Column('course_id', sa.String(length=256), nullable=True),
    sa.Column('env', sa.String(length=100), nullable=True),
    sa.Column('first_ets', sa.BigInteger(), nullable=False),
    sa.Column('last_ets', sa.BigInteger(), nullable=False),
    sa.Column('last_received', sa.BigInteger(), nullable=False),
    sa.Column('events', sa.Integer(), nullable=False),
    sa.Column('dup_starts', sa.Integer(), nullable=False),
    sa.Column('in_order', sa.Integer(), nullable=False),
    sa.Column('timeline', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_dash_sessions_site_id_sites')),
    sa.PrimaryKeyConstraint('site_id', 'session_id', 'actor_id', name=op.f('pk_dash_sessions'))
    )
    with op.batch_alter_table('dash_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_dash_sessions_site_id_first_ets', ['site_id', 'first_ets'], unique=False)
        batch_op.create_index('ix_dash_sessions_site_id_last_received', ['site_id', 'last_received'], unique=False)

    op.create_table('dash_key_hours',
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('hour', sa.BigInteger(), nullable=False),
    sa.Column('key_id', sa.Integer(), nullable=False),
    sa.Column('events', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['key_id'], ['dash_keys.id'], name=op.f('fk_dash_key_hours_key_id_dash_keys')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_dash_key_hours_site_id_sites')),
    sa.PrimaryKeyConstraint('site_id', 'hour', 'key_id', name=op.f('pk_dash_key_hours'))
    )


def downgrade() -> None:
    op.drop_table('dash_key_hours')
    with op.batch_alter_table('dash_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_dash_sessions_site_id_last_received')
        batch_op.drop_index('ix_dash_sessions_site_id_first_ets')

    op.drop_table('dash_sessions')
    op.drop_table('dash_reject_reasons')
    op.drop_table('dash_path_rules')
    op.drop_table('dash_minutes')
    op.drop_table('dash_keys')
    op.drop_table('dash_funnels')
