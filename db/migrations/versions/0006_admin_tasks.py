"""The admin's account and caseload tasks: one-time passwords and transfers with a reason.

Adds accounts.must_change_password (an admin's reset gives a one-time password; the next log-in
sets a new one) and 'transfer' to the kinds of kept reason (reason_texts.kind), for the reason a
participant moved to another counselor. Going down drops the flag (a one-time password then works
as an ordinary one) and refuses while a transfer reason is kept.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

from db.migrations.sqlite_copy import foreign_keys as _foreign_keys


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

OLD_KINDS = ("reidentify", "break_glass", "sign_off")
NEW_KINDS = (*OLD_KINDS, "transfer")


def _kinds(values: tuple[str, ...]) -> str:
    return "kind IN (" + ", ".join(f"'{v}'" for v in values) + ")"



def upgrade() -> None:
    _foreign_keys(False)
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('must_change_password', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table('reason_texts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_reason_texts_kind'), type_='check')
        batch_op.create_check_constraint('kind', _kinds(NEW_KINDS))
    _foreign_keys(True)


def downgrade() -> None:
    bind = op.get_bind()
    left = bind.execute(sa.text("SELECT count(*) FROM reason_texts WHERE kind = 'transfer'")).scalar()
    if left:
        raise RuntimeError(f"{left} transfer reason(s) are kept: erase them before going below "
                           "revision 0006")
    _foreign_keys(False)
    with op.batch_alter_table('reason_texts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_reason_texts_kind'), type_='check')
        batch_op.create_check_constraint('kind', _kinds(OLD_KINDS))
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('must_change_password')
    _foreign_keys(True)
