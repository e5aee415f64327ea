"""Free-text reasons in their own table: re-identification reasons, break-glass reasons, sign-off decisions.

Adds reason_texts (the text encrypted under the field key, correctable and erasable; the audit
log keeps only its length, hash and row id) and access_grants.reason_id. access_grants.reason
becomes nullable: a new grant keeps its reason in reason_texts; the plain text of a grant made
before this revision stays until `dscr db upgrade`, which holds the field key, moves it (a
migration has no key to encrypt with).

Going down puts a placeholder into access_grants.reason of the grants whose reason was moved and
drops the table: the texts are lost (the guarded `dscr db downgrade` takes a backup first).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

KINDS = ("reidentify", "break_glass", "sign_off")
# What a grant's reason reads as below this revision once its text lived in reason_texts.
MOVED = "(kept in reason_texts until a downgrade below revision 0004; see the backup taken before it)"


def upgrade() -> None:
    op.create_table('reason_texts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=True),
    sa.Column('cohort_id', sa.Integer(), nullable=True),
    sa.Column('text_enc', sa.Text(), nullable=True),
    sa.Column('key_id', sa.String(length=16), nullable=True),
    sa.Column('written_by', sa.Integer(), nullable=False),
    sa.Column('written_at', sa.DateTime(), nullable=False),
    sa.Column('corrected_by', sa.Integer(), nullable=True),
    sa.Column('corrected_at', sa.DateTime(), nullable=True),
    sa.Column('erased_by', sa.Integer(), nullable=True),
    sa.Column('erased_at', sa.DateTime(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind IN (" + ", ".join(f"'{k}'" for k in KINDS) + ")",
                       name=op.f('ck_reason_texts_kind')),
    sa.CheckConstraint("(kind = 'sign_off') = (cohort_id IS NOT NULL)",
                       name=op.f('ck_reason_texts_cohort')),
    sa.CheckConstraint("(kind = 'sign_off') OR participant_id IS NOT NULL",
                       name=op.f('ck_reason_texts_participant')),
    sa.CheckConstraint("(erased_at IS NULL) = (text_enc IS NOT NULL)",
                       name=op.f('ck_reason_texts_erased')),
    sa.ForeignKeyConstraint(['cohort_id'], ['cohorts.id'], name=op.f('fk_reason_texts_cohort_id_cohorts')),
    sa.ForeignKeyConstraint(['corrected_by'], ['accounts.id'], name=op.f('fk_reason_texts_corrected_by_accounts')),
    sa.ForeignKeyConstraint(['erased_by'], ['accounts.id'], name=op.f('fk_reason_texts_erased_by_accounts')),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_reason_texts_participant_id_participants')),
    sa.ForeignKeyConstraint(['written_by'], ['accounts.id'], name=op.f('fk_reason_texts_written_by_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reason_texts'))
    )
    with op.batch_alter_table('reason_texts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reason_texts_cohort_id'), ['cohort_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reason_texts_participant_id'), ['participant_id'], unique=False)

    # Nothing references access_grants, so SQLite's copy of it needs no foreign-key switch.
    with op.batch_alter_table('access_grants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason_id', sa.Integer(), nullable=True))
        batch_op.alter_column('reason', existing_type=sa.Text(), nullable=True)
        batch_op.create_foreign_key(batch_op.f('fk_access_grants_reason_id_reason_texts'),
                                    'reason_texts', ['reason_id'], ['id'])
        batch_op.create_check_constraint('reason', "reason IS NOT NULL OR reason_id IS NOT NULL")


def downgrade() -> None:
    op.execute(sa.text("UPDATE access_grants SET reason = :moved WHERE reason IS NULL")
               .bindparams(moved=MOVED))
    with op.batch_alter_table('access_grants', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_access_grants_reason'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_access_grants_reason_id_reason_texts'),
                                 type_='foreignkey')
        batch_op.alter_column('reason', existing_type=sa.Text(), nullable=False)
        batch_op.drop_column('reason_id')
    with op.batch_alter_table('reason_texts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reason_texts_participant_id'))
        batch_op.drop_index(batch_op.f('ix_reason_texts_cohort_id'))
    op.drop_table('reason_texts')
