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


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

OLD_ROLES = ("counselor", "committee", "analyst", "reviewer", "admin")
NEW_ROLES = ("counselor", "supervisor", "committee", "analyst", "reviewer", "admin")


def _roles(values: tuple[str, ...]) -> str:
    return "role IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _foreign_keys(on: bool) -> None:
    """SQLite changes a CHECK only by copying the table; its rows are referenced from everywhere,
    so foreign keys are switched off for the copy. The pragma is ignored inside a transaction:
    end it, switch, and begin again (dscr's SQLite connections leave transactions to us)."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    bind.exec_driver_sql("COMMIT")
    bind.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    bind.exec_driver_sql("BEGIN IMMEDIATE")
    if on:
        broken = bind.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:  # pragma: no cover - the copy keeps every row and id
            raise RuntimeError(f"foreign keys broken by the migration: {broken[:5]}")


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
