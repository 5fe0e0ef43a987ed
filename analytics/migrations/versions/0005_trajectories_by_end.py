"""Trajectories by end time: the wall screen draws the trips of the last minutes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 11:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_trajectories_end_ts", "trajectories", ["end_ts"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_trajectories_end_ts", table_name="trajectories")
