"""Initial schema: sightings, cameras, alerts, complaints and their events, grids, dead letters.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-22 10:38:18.300212
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('alerts',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('detail', sa.String(length=2000), server_default='', nullable=False),
    sa.Column('identity', sa.String(length=64), nullable=True),
    sa.Column('camera_id', sa.String(length=32), nullable=True),
    sa.Column('complaint_code', sa.String(length=32), nullable=True),
    sa.Column('grid_id', sa.String(length=32), nullable=True),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('recipients', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts'))
    )
    op.create_index(op.f('ix_alerts_kind_ts'), 'alerts', ['kind', 'ts'], unique=False)
    op.create_index(op.f('ix_alerts_ts'), 'alerts', ['ts'], unique=False)

    op.create_table('camera_status',
    sa.Column('camera_id', sa.String(length=32), nullable=False),
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('online', sa.Boolean(), nullable=False),
    sa.Column('fps_in', sa.Float(), nullable=False),
    sa.Column('last_frame_ts', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('worker', sa.String(length=64), server_default='', nullable=False),
    sa.Column('message_id', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('camera_id', name=op.f('pk_camera_status'))
    )
    op.create_table('complaint_code_counters',
    sa.Column('prefix', sa.String(length=8), nullable=False),
    sa.Column('day', sa.String(length=8), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('prefix', 'day', name=op.f('pk_complaint_code_counters'))
    )
    op.create_table('complaint_events',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('note', sa.String(length=2000), server_default='', nullable=False),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('category', sa.String(length=16), nullable=True),
    sa.Column('level', sa.SmallInteger(), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('grid_id', sa.String(length=32), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=True),
    sa.Column('reporter', sa.String(length=128), nullable=True),
    sa.Column('photo', sa.String(length=256), nullable=True),
    sa.Column('department', sa.String(length=32), nullable=True),
    sa.Column('rating', sa.SmallInteger(), nullable=True),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_complaint_events')),
    sa.UniqueConstraint('id', name=op.f('uq_complaint_events_id'))
    )
    op.create_index(op.f('ix_complaint_events_code_ts'), 'complaint_events', ['code', 'ts'], unique=False)
    op.create_index(op.f('ix_complaint_events_ts'), 'complaint_events', ['ts'], unique=False)

    op.create_table('complaints',
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('level', sa.SmallInteger(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('grid_id', sa.String(length=32), nullable=False),
    sa.Column('department', sa.String(length=32), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=True),
    sa.Column('reporter', sa.String(length=128), nullable=True),
    sa.Column('photo', sa.String(length=256), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('handled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('supervised_count', sa.Integer(), nullable=False),
    sa.Column('rated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rating', sa.SmallInteger(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by_silence', sa.Boolean(), nullable=False),
    sa.Column('overdue', sa.Boolean(), nullable=False),
    sa.Column('redispatch_count', sa.Integer(), nullable=False),
    sa.Column('last_event_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('event_count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_complaints'))
    )
    op.create_index(op.f('ix_complaints_created_at'), 'complaints', ['created_at'], unique=False)
    op.create_index(op.f('ix_complaints_department_created_at'), 'complaints', ['department', 'created_at'], unique=False)
    op.create_index(op.f('ix_complaints_grid_id_state'), 'complaints', ['grid_id', 'state'], unique=False)
    op.create_index(op.f('ix_complaints_state_due_at'), 'complaints', ['state', 'due_at'], unique=False)

    op.create_table('dead_letters',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('topic', sa.String(length=128), nullable=False),
    sa.Column('consumer_group', sa.String(length=128), server_default='', nullable=False),
    sa.Column('reason', sa.String(length=2000), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dead_letters'))
    )
    op.create_index(op.f('ix_dead_letters_ts'), 'dead_letters', ['ts'], unique=False)

    op.create_table('grid_status',
    sa.Column('grid_id', sa.String(length=32), nullable=False),
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('message_id', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('grid_id', name=op.f('pk_grid_status'))
    )
    op.create_table('sightings',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('camera_id', sa.String(length=32), nullable=False),
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('identity', sa.String(length=64), nullable=False),
    sa.Column('confidence', sa.Float(), nullable=False),
    sa.Column('x1', sa.Integer(), nullable=False),
    sa.Column('y1', sa.Integer(), nullable=False),
    sa.Column('x2', sa.Integer(), nullable=False),
    sa.Column('y2', sa.Integer(), nullable=False),
    sa.Column('track_id', sa.String(length=64), server_default='', nullable=False),
    sa.Column('snapshot', sa.String(length=256), nullable=True),
    sa.Column('plate_color', sa.String(length=16), nullable=True),
    sa.Column('face_distance', sa.Float(), nullable=True),
    sa.Column('encoding', sa.LargeBinary(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sightings'))
    )
    op.create_index(op.f('ix_sightings_camera_id_ts'), 'sightings', ['camera_id', 'ts'], unique=False)
    op.create_index(op.f('ix_sightings_identity_ts'), 'sightings', ['identity', 'ts'], unique=False)

    op.create_table('trajectories',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('identity', sa.String(length=64), nullable=False),
    sa.Column('start_ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('end_ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('point_count', sa.Integer(), nullable=False),
    sa.Column('points', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trajectories'))
    )
    op.create_index(op.f('ix_trajectories_identity_start_ts'), 'trajectories', ['identity', 'start_ts'], unique=False)

    op.create_table('worker_positions',
    sa.Column('worker_id', sa.String(length=32), nullable=False),
    sa.Column('grid_id', sa.String(length=32), nullable=False),
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('message_id', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('worker_id', name=op.f('pk_worker_positions'))
    )


def downgrade() -> None:
    op.drop_table('worker_positions')
    op.drop_index(op.f('ix_trajectories_identity_start_ts'), table_name='trajectories')

    op.drop_table('trajectories')
    op.drop_index(op.f('ix_sightings_identity_ts'), table_name='sightings')
    op.drop_index(op.f('ix_sightings_camera_id_ts'), table_name='sightings')

    op.drop_table('sightings')
    op.drop_table('grid_status')
    op.drop_index(op.f('ix_dead_letters_ts'), table_name='dead_letters')

    op.drop_table('dead_letters')
    op.drop_index(op.f('ix_complaints_state_due_at'), table_name='complaints')
    op.drop_index(op.f('ix_complaints_grid_id_state'), table_name='complaints')
    op.drop_index(op.f('ix_complaints_department_created_at'), table_name='complaints')
    op.drop_index(op.f('ix_complaints_created_at'), table_name='complaints')

    op.drop_table('complaints')
    op.drop_index(op.f('ix_complaint_events_ts'), table_name='complaint_events')
    op.drop_index(op.f('ix_complaint_events_code_ts'), table_name='complaint_events')

    op.drop_table('complaint_events')
    op.drop_table('complaint_code_counters')
    op.drop_table('camera_status')
    op.drop_index(op.f('ix_alerts_ts'), table_name='alerts')
    op.drop_index(op.f('ix_alerts_kind_ts'), table_name='alerts')

    op.drop_table('alerts')
