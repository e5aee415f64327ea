"""Prevention education (issue 16): programmes, deliveries, anonymous surveys, committee reviews, recommendations.

Adds 'educator' (예방교육 강사) to the accounts' role CHECK and five tables: prevention_programmes
(a version, its audiences and format, the programme it was tailored from), prevention_deliveries
(one class taught once: level, kind of institution, district, number present, the educator; no
child is named or coded), prevention_surveys (anonymous answer sheets, pre or post, with at most
a pairing code the class made up), prevention_reviews (the committee's ratings on the four
indicators) and prevention_recommendations (what a review asked for, and the version answering it).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

from db.migrations.sqlite_copy import foreign_keys as _foreign_keys


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

OLD_ROLES = ("counselor", "supervisor", "committee", "analyst", "reviewer", "admin", "partner")
NEW_ROLES = OLD_ROLES + ("educator",)
AUDIENCES = ("kindergarten", "elementary_lower", "elementary_upper", "middle", "high",
             "guardians", "teachers")
FORMATS = ("lecture", "puppet_show", "board_game", "role_play", "campaign", "online")
INSTITUTION_KINDS = ("kindergarten", "elementary", "middle", "high", "community_centre", "other")
DISTRICTS = (
    "jongno", "jung", "yongsan", "seongdong", "gwangjin", "dongdaemun", "jungnang", "seongbuk",
    "gangbuk", "dobong", "nowon", "eunpyeong", "seodaemun", "mapo", "yangcheon", "gangseo",
    "guro", "geumcheon", "yeongdeungpo", "dongjak", "gwanak", "seocho", "gangnam", "songpa",
    "gangdong")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"



def _roles(values: tuple[str, ...]) -> None:
    _foreign_keys(False)
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_accounts_role'), type_='check')
        batch_op.create_check_constraint('role', _in("role", values))
    _foreign_keys(True)


def upgrade() -> None:
    _roles(NEW_ROLES)
    op.create_table('prevention_programmes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('audiences', sa.JSON(), nullable=False),
    sa.Column('format', sa.String(length=16), nullable=False),
    sa.Column('tailored_from_id', sa.Integer(), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint(_in("format", FORMATS), name=op.f('ck_prevention_programmes_format')),
    sa.CheckConstraint('version >= 1', name=op.f('ck_prevention_programmes_version')),
    sa.ForeignKeyConstraint(['created_by'], ['accounts.id'], name=op.f('fk_prevention_programmes_created_by_accounts')),
    sa.ForeignKeyConstraint(['tailored_from_id'], ['prevention_programmes.id'], name=op.f('fk_prevention_programmes_tailored_from_id_prevention_programmes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prevention_programmes')),
    sa.UniqueConstraint('name', 'version', name='uq_prevention_programmes_name_version')
    )
    op.create_table('prevention_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('delivered_on', sa.Date(), nullable=False),
    sa.Column('audience', sa.String(length=24), nullable=False),
    sa.Column('institution_kind', sa.String(length=24), nullable=False),
    sa.Column('district', sa.String(length=24), nullable=False),
    sa.Column('present', sa.Integer(), nullable=False),
    sa.Column('educator_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint(_in("audience", AUDIENCES), name=op.f('ck_prevention_deliveries_audience')),
    sa.CheckConstraint(_in("district", DISTRICTS), name=op.f('ck_prevention_deliveries_district')),
    sa.CheckConstraint(_in("institution_kind", INSTITUTION_KINDS), name=op.f('ck_prevention_deliveries_institution_kind')),
    sa.CheckConstraint('present BETWEEN 1 AND 500', name=op.f('ck_prevention_deliveries_present')),
    sa.ForeignKeyConstraint(['educator_id'], ['accounts.id'], name=op.f('fk_prevention_deliveries_educator_id_accounts')),
    sa.ForeignKeyConstraint(['programme_id'], ['prevention_programmes.id'], name=op.f('fk_prevention_deliveries_programme_id_prevention_programmes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prevention_deliveries'))
    )
    op.create_index(op.f('ix_prevention_deliveries_educator_id'), 'prevention_deliveries', ['educator_id'], unique=False)
    op.create_index(op.f('ix_prevention_deliveries_programme_id'), 'prevention_deliveries', ['programme_id'], unique=False)
    op.create_table('prevention_recommendations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('audience', sa.String(length=24), nullable=True),
    sa.Column('format', sa.String(length=16), nullable=True),
    sa.Column('recorded_by', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.Column('answered_by_id', sa.Integer(), nullable=True),
    sa.Column('answered_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("audience IS NULL OR " + _in("audience", AUDIENCES), name=op.f('ck_prevention_recommendations_audience')),
    sa.CheckConstraint("format IS NULL OR " + _in("format", FORMATS), name=op.f('ck_prevention_recommendations_format')),
    sa.ForeignKeyConstraint(['answered_by_id'], ['prevention_programmes.id'], name=op.f('fk_prevention_recommendations_answered_by_id_prevention_programmes')),
    sa.ForeignKeyConstraint(['programme_id'], ['prevention_programmes.id'], name=op.f('fk_prevention_recommendations_programme_id_prevention_programmes')),
    sa.ForeignKeyConstraint(['recorded_by'], ['accounts.id'], name=op.f('fk_prevention_recommendations_recorded_by_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prevention_recommendations'))
    )
    op.create_index(op.f('ix_prevention_recommendations_programme_id'), 'prevention_recommendations', ['programme_id'], unique=False)
    op.create_table('prevention_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('rater_id', sa.Integer(), nullable=False),
    sa.Column('indicator', sa.String(length=64), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('score BETWEEN 1 AND 5', name=op.f('ck_prevention_reviews_score')),
    sa.ForeignKeyConstraint(['programme_id'], ['prevention_programmes.id'], name=op.f('fk_prevention_reviews_programme_id_prevention_programmes')),
    sa.ForeignKeyConstraint(['rater_id'], ['accounts.id'], name=op.f('fk_prevention_reviews_rater_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prevention_reviews')),
    sa.UniqueConstraint('programme_id', 'rater_id', 'indicator', 'period', name='uq_prevention_reviews_programme_rater')
    )
    op.create_index(op.f('ix_prevention_reviews_programme_id'), 'prevention_reviews', ['programme_id'], unique=False)
    op.create_table('prevention_surveys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=False),
    sa.Column('instrument_id', sa.String(length=32), nullable=False),
    sa.Column('instrument_version', sa.Integer(), nullable=False),
    sa.Column('time', sa.String(length=4), nullable=False),
    sa.Column('pair_code', sa.String(length=16), nullable=True),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('satisfaction', sa.Integer(), nullable=True),
    sa.Column('imported_by', sa.Integer(), nullable=False),
    sa.Column('imported_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("time IN ('pre', 'post')", name=op.f('ck_prevention_surveys_time')),
    sa.CheckConstraint('instrument_version >= 1', name=op.f('ck_prevention_surveys_instrument_version')),
    sa.CheckConstraint('satisfaction IS NULL OR satisfaction BETWEEN 1 AND 5', name=op.f('ck_prevention_surveys_satisfaction')),
    sa.CheckConstraint('score >= 0 AND score <= 100', name=op.f('ck_prevention_surveys_score')),
    sa.ForeignKeyConstraint(['delivery_id'], ['prevention_deliveries.id'], name=op.f('fk_prevention_surveys_delivery_id_prevention_deliveries')),
    sa.ForeignKeyConstraint(['imported_by'], ['accounts.id'], name=op.f('fk_prevention_surveys_imported_by_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prevention_surveys')),
    sa.UniqueConstraint('delivery_id', 'time', 'pair_code', name='uq_prevention_surveys_delivery_time_pair')
    )
    op.create_index(op.f('ix_prevention_surveys_delivery_id'), 'prevention_surveys', ['delivery_id'], unique=False)


def downgrade() -> None:
    bind = op.get_bind()
    left = bind.execute(sa.text("SELECT count(*) FROM accounts WHERE role = 'educator'")).scalar()
    if left:
        raise RuntimeError(f"{left} educator account(s) exist: change their role before going "
                           "below revision 0008")
    op.drop_index(op.f('ix_prevention_surveys_delivery_id'), table_name='prevention_surveys')
    op.drop_table('prevention_surveys')
    op.drop_index(op.f('ix_prevention_reviews_programme_id'), table_name='prevention_reviews')
    op.drop_table('prevention_reviews')
    op.drop_index(op.f('ix_prevention_recommendations_programme_id'), table_name='prevention_recommendations')
    op.drop_table('prevention_recommendations')
    op.drop_index(op.f('ix_prevention_deliveries_programme_id'), table_name='prevention_deliveries')
    op.drop_index(op.f('ix_prevention_deliveries_educator_id'), table_name='prevention_deliveries')
    op.drop_table('prevention_deliveries')
    op.drop_table('prevention_programmes')
    _roles(OLD_ROLES)
