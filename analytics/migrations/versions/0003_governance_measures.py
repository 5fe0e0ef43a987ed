"""Governance measures: per department, per grid and level, per day, grid and level.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 11:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('governance_departments',
    sa.Column('department', sa.String(length=32), nullable=False),
    sa.Column('volume', sa.Integer(), nullable=False),
    sa.Column('handled', sa.Integer(), nullable=False),
    sa.Column('on_time', sa.Integer(), nullable=False),
    sa.Column('rating_sum', sa.Integer(), nullable=False),
    sa.Column('ratings', sa.Integer(), nullable=False),
    sa.Column('histogram', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('department', name=op.f('pk_governance_departments'))
    )
    op.create_table('governance_grid_levels',
    sa.Column('grid_id', sa.String(length=32), nullable=False),
    sa.Column('level', sa.SmallInteger(), nullable=False),
    sa.Column('open', sa.Integer(), nullable=False),
    sa.Column('overdue', sa.Integer(), nullable=False),
    sa.Column('rating_sum', sa.Integer(), nullable=False),
    sa.Column('ratings', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('grid_id', 'level', name=op.f('pk_governance_grid_levels'))
    )
    op.create_table('governance_days',
    sa.Column('day', sa.String(length=8), nullable=False),
    sa.Column('grid_id', sa.String(length=32), nullable=False),
    sa.Column('level', sa.SmallInteger(), nullable=False),
    sa.Column('created', sa.Integer(), nullable=False),
    sa.Column('closed', sa.Integer(), nullable=False),
    sa.Column('rating_sum', sa.Integer(), nullable=False),
    sa.Column('ratings', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'grid_id', 'level', name=op.f('pk_governance_days'))
    )


def downgrade() -> None:
    op.drop_table('governance_days')
    op.drop_table('governance_grid_levels')
    op.drop_table('governance_departments')
