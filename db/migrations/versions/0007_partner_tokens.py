"""The partners' matching API: the partner role and the partners' API tokens.

Adds 'partner' to the accounts' role CHECK and the partner_tokens table (a partner's name, the
SHA-256 of the token's secret, its scopes, who issued it, when it expires and when it was
revoked).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

from db.migrations.sqlite_copy import foreign_keys as _foreign_keys


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

OLD_ROLES = ("counselor", "supervisor", "committee", "analyst", "reviewer", "admin")
NEW_ROLES = OLD_ROLES + ("partner",)


def _roles(values: tuple[str, ...]) -> str:
    return "role IN (" + ", ".join(f"'{v}'" for v in values) + ")"



def upgrade() -> None:
    _foreign_keys(False)
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_accounts_role'), type_='check')
        batch_op.create_check_constraint('role', _roles(NEW_ROLES))
    _foreign_keys(True)
    op.create_table('partner_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('partner', sa.String(length=64), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('scopes', sa.String(length=128), nullable=False),
    sa.Column('issued_by', sa.Integer(), nullable=False),
    sa.Column('issued_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_by', sa.Integer(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint('expires_at > issued_at', name=op.f('ck_partner_tokens_lifetime')),
    sa.CheckConstraint('length(token_hash) = 64', name=op.f('ck_partner_tokens_token_hash')),
    sa.CheckConstraint("scopes <> ''", name=op.f('ck_partner_tokens_scopes')),
    sa.ForeignKeyConstraint(['issued_by'], ['accounts.id'], name=op.f('fk_partner_tokens_issued_by_accounts')),
    sa.ForeignKeyConstraint(['revoked_by'], ['accounts.id'], name=op.f('fk_partner_tokens_revoked_by_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partner_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_partner_tokens_token_hash'))
    )
    with op.batch_alter_table('partner_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_partner_tokens_partner'), ['partner'], unique=False)


def downgrade() -> None:
    bind = op.get_bind()
    left = bind.execute(sa.text("SELECT count(*) FROM accounts WHERE role = 'partner'")).scalar()
    if left:
        raise RuntimeError(f"{left} partner account(s) exist: change their role before going "
                           "below revision 0007")
    with op.batch_alter_table('partner_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_partner_tokens_partner'))
    op.drop_table('partner_tokens')
    _foreign_keys(False)
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_accounts_role'), type_='check')
        batch_op.create_check_constraint('role', _roles(OLD_ROLES))
    _foreign_keys(True)
