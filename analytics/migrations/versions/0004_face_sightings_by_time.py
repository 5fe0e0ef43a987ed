"""Face sightings by time: a partial index for search by photo (faces are a few % of rows).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 11:20:51
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

FACES = sa.text("kind = 'face'")


def upgrade() -> None:
    op.create_index("ix_sightings_face_ts", "sightings", ["ts"], unique=False,
                    sqlite_where=FACES, postgresql_where=FACES)


def downgrade() -> None:
    op.drop_index("ix_sightings_face_ts", table_name="sightings")
