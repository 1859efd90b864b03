"""core schema: sites, users, events, quarantine, sessions, course starts

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 13:46:07.969294
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sites',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('write_key', sa.String(length=64), nullable=False),
    sa.Column('origins', sa.Text(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sites')),
    sa.UniqueConstraint('name', name=op.f('uq_sites_name')),
    sa.UniqueConstraint('write_key', name=op.f('uq_sites_write_key'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=100), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    op.create_table('course_starts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.String(length=256), nullable=False),
    sa.Column('course_id', sa.String(length=256), nullable=False),
    sa.Column('chain_id', sa.String(length=256), nullable=False),
    sa.Column('mid', sa.String(length=256), nullable=False),
    sa.Column('ets', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_course_starts_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_course_starts')),
    sa.UniqueConstraint('site_id', 'actor_id', 'course_id', 'chain_id', name='uq_course_starts_key')
    )
    op.create_table('duplicate_receipts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('mid', sa.String(length=256), nullable=False),
    sa.Column('transport', sa.String(length=16), nullable=False),
    sa.Column('received_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_duplicate_receipts_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_duplicate_receipts'))
    )
    op.create_table('events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('mid', sa.String(length=256), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('eid', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('ets', sa.BigInteger(), nullable=False),
    sa.Column('received_at', sa.BigInteger(), nullable=False),
    sa.Column('sid', sa.String(length=256), nullable=True),
    sa.Column('chain_id', sa.String(length=256), nullable=True),
    sa.Column('actor_id', sa.String(length=256), nullable=False),
    sa.Column('did', sa.String(length=256), nullable=True),
    sa.Column('course_id', sa.String(length=256), nullable=True),
    sa.Column('lesson_id', sa.String(length=256), nullable=True),
    sa.Column('page_id', sa.String(length=256), nullable=True),
    sa.Column('uri', sa.String(length=4096), nullable=True),
    sa.Column('object_id', sa.String(length=256), nullable=True),
    sa.Column('object_type', sa.String(length=256), nullable=True),
    sa.Column('edata_type', sa.String(length=256), nullable=True),
    sa.Column('duplicate_of', sa.String(length=256), nullable=True),
    sa.Column('warnings', sa.Text(), nullable=True),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_events_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events')),
    sa.UniqueConstraint('mid', name=op.f('uq_events_mid'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_sid', ['sid'], unique=False)
        batch_op.create_index('ix_events_site_id_ets', ['site_id', 'ets'], unique=False)

    op.create_table('rejected_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('transport', sa.String(length=16), nullable=False),
    sa.Column('received_at', sa.BigInteger(), nullable=False),
    sa.Column('batch_index', sa.Integer(), nullable=True),
    sa.Column('mid', sa.String(length=256), nullable=True),
    sa.Column('reasons', sa.Text(), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_rejected_events_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rejected_events'))
    )
    with op.batch_alter_table('rejected_events', schema=None) as batch_op:
        batch_op.create_index('ix_rejected_events_site_id_received_at', ['site_id', 'received_at'], unique=False)

    op.create_table('session_links',
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('sid', sa.String(length=256), nullable=False),
    sa.Column('root_sid', sa.String(length=256), nullable=False),
    sa.Column('first_seen', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_session_links_site_id_sites')),
    sa.PrimaryKeyConstraint('site_id', 'sid', name=op.f('pk_session_links'))
    )


def downgrade() -> None:
    op.drop_table('session_links')
    with op.batch_alter_table('rejected_events', schema=None) as batch_op:
        batch_op.drop_index('ix_rejected_events_site_id_received_at')

    op.drop_table('rejected_events')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_site_id_ets')
        batch_op.drop_index('ix_events_sid')

    op.drop_table('events')
    op.drop_table('duplicate_receipts')
    op.drop_table('course_starts')
    op.drop_table('users')
    op.drop_table('sites')
