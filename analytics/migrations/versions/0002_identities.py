"""Identities: every plate and face seen once, for wildcard and fuzzy plate search.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 11:07:52.783950
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('identities',
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('identity', sa.String(length=64), nullable=False),
    sa.Column('first_ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sightings', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'identity', name=op.f('pk_identities'))
    )


def downgrade() -> None:
    op.drop_table('identities')
