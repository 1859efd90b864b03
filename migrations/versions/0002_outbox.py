"""outbox and forward_state: xAPI / Caliper forwarding

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 14:20:45.519183
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'forward_state',
        sa.Column('target', sa.String(length=16), nullable=False),
        sa.Column('sent', sa.BigInteger(), nullable=False),
        sa.Column('unmapped', sa.BigInteger(), nullable=False),
        sa.Column('last_sent_at', sa.BigInteger(), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('last_error_at', sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint('target', name=op.f('pk_forward_state')),
    )
    op.create_table(
        'outbox',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('target', sa.String(length=16), nullable=False),
        sa.Column('mid', sa.String(length=256), nullable=False),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        sa.Column('next_attempt_at', sa.BigInteger(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('lease_until', sa.BigInteger(), nullable=False),
        sa.Column('lease_owner', sa.String(length=64), nullable=True),
        sa.Column('failed', sa.Boolean(), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    )


def downgrade() -> None:
    op.drop_table('outbox')
    op.drop_table('forward_state')
