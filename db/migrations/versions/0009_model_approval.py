"""Risk models are drafts until a second person approves them, and each predicts at a landmark.

Adds to risk_models: landmark (planning or conclusion: which features a prediction may use),
status (draft, approved, withdrawn), who approved and when with the reason and the card's
warnings acknowledged, who withdrew and when with the reason, and a version for optimistic
locking. Models stored before this revision become drafts at the conclusion landmark (they were
fitted on completion and sessions): nobody approved them, so no counselor sees them until someone
other than their fitter does.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

STATUSES = ("draft", "approved", "withdrawn")
LANDMARKS = ("planning", "conclusion")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    # Nothing references risk_models, so SQLite's copy of it needs no foreign-key switch.
    with op.batch_alter_table('risk_models', schema=None) as batch_op:
        batch_op.add_column(sa.Column('landmark', sa.String(length=16), nullable=False,
                                      server_default='conclusion'))
        batch_op.add_column(sa.Column('status', sa.String(length=16), nullable=False,
                                      server_default='draft'))
        batch_op.add_column(sa.Column('approved_by', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('approved_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('approval_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('acknowledged', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('withdrawn_by', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('withdrawn_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('withdrawal_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False,
                                      server_default='1'))
    # The defaults filled the rows already there; new rows get theirs from the ORM.
    with op.batch_alter_table('risk_models', schema=None) as batch_op:
        batch_op.alter_column('landmark', server_default=None)
        batch_op.alter_column('status', server_default=None)
        batch_op.alter_column('version', server_default=None)
        batch_op.create_index(batch_op.f('ix_risk_models_status'), ['status'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_risk_models_approved_by_accounts'),
                                    'accounts', ['approved_by'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_risk_models_withdrawn_by_accounts'),
                                    'accounts', ['withdrawn_by'], ['id'])
        batch_op.create_check_constraint('status', _in('status', STATUSES))
        batch_op.create_check_constraint('landmark', _in('landmark', LANDMARKS))
        batch_op.create_check_constraint(
            'approved', "status <> 'approved' OR (approved_by IS NOT NULL AND approved_at IS NOT "
            "NULL AND approval_reason IS NOT NULL)")
        batch_op.create_check_constraint(
            'withdrawn', "status <> 'withdrawn' OR (withdrawn_by IS NOT NULL AND withdrawn_at IS "
            "NOT NULL AND withdrawal_reason IS NOT NULL)")
        batch_op.create_check_constraint(
            'four_eyes', "approved_by IS NULL OR approved_by <> created_by")


def downgrade() -> None:
    # Below this revision every stored model is what counselors were shown: withdrawn ones are
    # deleted rather than brought back to life (the guarded `dscr db downgrade` backs up first).
    op.execute(sa.text("DELETE FROM risk_models WHERE status = 'withdrawn'"))
    with op.batch_alter_table('risk_models', schema=None) as batch_op:
        for name in ('four_eyes', 'withdrawn', 'approved', 'landmark', 'status'):
            batch_op.drop_constraint(batch_op.f(f'ck_risk_models_{name}'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_risk_models_withdrawn_by_accounts'),
                                 type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_risk_models_approved_by_accounts'),
                                 type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_risk_models_status'))
        for column in ('version', 'withdrawal_reason', 'withdrawn_at', 'withdrawn_by',
                       'acknowledged', 'approval_reason', 'approved_at', 'approved_by', 'status',
                       'landmark'):
            batch_op.drop_column(column)
