"""Scan items are named by archive member as well as by path: a zip may hold two members of one
name, and each must be scanned (before, the second made the scan fail on scan_path).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Items stored before this revision keep member 0: a resumed scan of an archive hashes its
    # members again under their index rather than skip one it never hashed.
    with op.batch_alter_table('scan_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('member', sa.Integer(), server_default='0', nullable=False))
        batch_op.drop_constraint('scan_path', type_='unique')
        batch_op.create_unique_constraint('scan_path_member', ['scan_id', 'path', 'member'])
        batch_op.create_check_constraint(op.f('ck_scan_items_member'), 'member >= 0')


def downgrade() -> None:
    # Refuses (on scan_path) while a scan holds two members of one path: those scans would lose
    # an item, so they are to be deleted first by whoever decides to go back.
    with op.batch_alter_table('scan_items', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_scan_items_member'), type_='check')
        batch_op.drop_constraint('scan_path_member', type_='unique')
        batch_op.create_unique_constraint('scan_path', ['scan_id', 'path'])
        batch_op.drop_column('member')
