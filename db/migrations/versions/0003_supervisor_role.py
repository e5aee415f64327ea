"""The supervisor role: a team lead who reviews and countersigns the steps of their counselors.

Adds 'supervisor' to the accounts' role CHECK and accounts.supervisor_id (a counselor's team lead,
an account; the supervisor's team is the counselors who name them).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

from db.migrations.sqlite_copy import foreign_keys as _foreign_keys


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

OLD_ROLES = ("counselor", "committee", "analyst", "reviewer", "admin")
NEW_ROLES = ("counselor", "supervisor", "committee", "analyst", "reviewer", "admin")


def _roles(values: tuple[str, ...]) -> str:
    return "role IN (" + ", ".join(f"'{v}'" for v in values) + ")"



def upgrade() -> None:
    _foreign_keys(False)
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('supervisor_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_accounts_supervisor_id'), ['supervisor_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_accounts_supervisor_id_accounts'), 'accounts',
                                    ['supervisor_id'], ['id'])
        batch_op.drop_constraint(batch_op.f('ck_accounts_role'), type_='check')
        batch_op.create_check_constraint('role', _roles(NEW_ROLES))
    _foreign_keys(True)


def downgrade() -> None:
    bind = op.get_bind()
    left = bind.execute(sa.text("SELECT count(*) FROM accounts WHERE role = 'supervisor'")).scalar()
    if left:
        raise RuntimeError(f"{left} supervisor account(s) exist: change their role before going "
                           "below revision 0003")
    _foreign_keys(False)
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_accounts_role'), type_='check')
        batch_op.create_check_constraint('role', _roles(OLD_ROLES))
        batch_op.drop_constraint(batch_op.f('fk_accounts_supervisor_id_accounts'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_accounts_supervisor_id'))
        batch_op.drop_column('supervisor_id')
    _foreign_keys(True)
