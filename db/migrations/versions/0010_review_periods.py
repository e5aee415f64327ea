"""A review period is a half, quarter, month, date range or named cohort (vocab.period_kind).

Widens the period of programme reviews, prevention reviews and prevention recommendations from 16
to 80 characters, so that a date range ("2026-01-05~2026-06-30") or a cohort ("cohort:" and its
name of up to 64) fits. Rows already stored keep their period as written: the use cases check
the form of new ones, and a summary asks for a period by its exact code, as before.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

TABLES = ("programme_reviews", "prevention_reviews", "prevention_recommendations")


def upgrade() -> None:
    # Nothing references these tables, so SQLite's copies of them need no foreign-key switch.
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('period', existing_type=sa.String(length=16),
                                  type_=sa.String(length=80), existing_nullable=False)


def downgrade() -> None:
    # A period longer than 16 characters would not fit back: refuse rather than cut it.
    bind = op.get_bind()
    for table in TABLES:
        longest = bind.execute(sa.text(f"SELECT MAX(LENGTH(period)) FROM {table}")).scalar()
        if longest is not None and longest > 16:
            raise RuntimeError(f"{table} holds a period of {longest} characters; shorten it "
                               "before downgrading below 0010")
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('period', existing_type=sa.String(length=80),
                                  type_=sa.String(length=16), existing_nullable=False)
