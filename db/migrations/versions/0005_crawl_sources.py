"""Crawl manifests' sources: where a crawled item was found, kept on its scan item and its flag, and
the page a takedown request is sent about.

Adds scan_items and flags .source_platform, .source_url, .first_seen and takedown_requests.page_url,
all nullable (a folder, zip or upload scan has no source). Going down drops them: the sources are
lost, the flags and takedown requests stay.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

SOURCE_TABLES = ('scan_items', 'flags')


def upgrade() -> None:
    for table in SOURCE_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('source_platform', sa.String(length=128), nullable=True))
            batch_op.add_column(sa.Column('source_url', sa.String(length=2048), nullable=True))
            batch_op.add_column(sa.Column('first_seen', sa.DateTime(), nullable=True))
    with op.batch_alter_table('takedown_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('page_url', sa.String(length=2048), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('takedown_requests', schema=None) as batch_op:
        batch_op.drop_column('page_url')
    for table in reversed(SOURCE_TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('first_seen')
            batch_op.drop_column('source_url')
            batch_op.drop_column('source_platform')
