"""Initial schema: accounts, participants and their identities, cases, sessions, assessments and
the matrix steps, goals, follow-up, risk models, the hash registry, scans, flags, takedowns,
exports, disclosures and the append-only audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=128), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.String(length=256), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(), nullable=True),
    sa.Column('password_changed_at', sa.DateTime(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("role IN ('counselor', 'committee', 'analyst', 'reviewer', 'admin')", name=op.f('ck_accounts_role')),
    sa.CheckConstraint('failed_logins >= 0', name=op.f('ck_accounts_failed_logins')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accounts')),
    sa.UniqueConstraint('username', name=op.f('uq_accounts_username'))
    )
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('table_name', sa.String(length=64), nullable=True),
    sa.Column('row_id', sa.String(length=64), nullable=True),
    sa.Column('subject_participant_id', sa.Integer(), nullable=True),
    sa.Column('fields', sa.JSON(), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('row_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log')),
    sa.UniqueConstraint('row_hash', name=op.f('uq_audit_log_row_hash'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_subject_participant_id'), ['subject_participant_id'], unique=False)

    op.create_table('meta',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_meta'))
    )
    op.create_table('programmes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_programmes')),
    sa.UniqueConstraint('name', name=op.f('uq_programmes_name'))
    )
    op.create_table('cohorts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.CheckConstraint('end_date IS NULL OR end_date >= start_date', name=op.f('ck_cohorts_dates')),
    sa.ForeignKeyConstraint(['programme_id'], ['programmes.id'], name=op.f('fk_cohorts_programme_id_programmes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cohorts')),
    sa.UniqueConstraint('programme_id', 'name', name='programme_name')
    )
    op.create_table('export_manifests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('filters', sa.JSON(), nullable=False),
    sa.Column('suppression', sa.JSON(), nullable=True),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('rows >= 0', name=op.f('ck_export_manifests_rows')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_export_manifests_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_export_manifests'))
    )
    op.create_table('login_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.Column('ended_reason', sa.String(length=32), nullable=True),
    sa.CheckConstraint('expires_at > created_at', name=op.f('ck_login_sessions_lifetime')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_login_sessions_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_login_sessions_token_hash'))
    )
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_sessions_account_id'), ['account_id'], unique=False)

    op.create_table('programme_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('rater_id', sa.Integer(), nullable=False),
    sa.Column('indicator', sa.String(length=64), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('score BETWEEN 1 AND 5', name=op.f('ck_programme_reviews_score')),
    sa.ForeignKeyConstraint(['programme_id'], ['programmes.id'], name=op.f('fk_programme_reviews_programme_id_programmes')),
    sa.ForeignKeyConstraint(['rater_id'], ['accounts.id'], name=op.f('fk_programme_reviews_rater_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_programme_reviews')),
    sa.UniqueConstraint('programme_id', 'rater_id', 'indicator', 'period', name='programme_rater')
    )
    with op.batch_alter_table('programme_reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_programme_reviews_programme_id'), ['programme_id'], unique=False)

    op.create_table('risk_models',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('horizon_days', sa.Integer(), nullable=False),
    sa.Column('card', sa.JSON(), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('data_fingerprint', sa.String(length=64), nullable=False),
    sa.Column('code_version', sa.String(length=64), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('horizon_days > 0', name=op.f('ck_risk_models_horizon')),
    sa.ForeignKeyConstraint(['created_by'], ['accounts.id'], name=op.f('fk_risk_models_created_by_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_models'))
    )
    op.create_table('scans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_label', sa.String(length=256), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('items_total', sa.Integer(), nullable=False),
    sa.Column('items_done', sa.Integer(), nullable=False),
    sa.Column('started_by', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("status IN ('running', 'finished', 'failed', 'interrupted')", name=op.f('ck_scans_status')),
    sa.CheckConstraint('items_done >= 0 AND items_done <= items_total', name=op.f('ck_scans_progress')),
    sa.ForeignKeyConstraint(['started_by'], ['accounts.id'], name=op.f('fk_scans_started_by_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scans'))
    )
    op.create_table('participants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_code', sa.String(length=32), nullable=False),
    sa.Column('cohort_id', sa.Integer(), nullable=False),
    sa.Column('sex', sa.String(length=8), nullable=False),
    sa.Column('age_at_referral', sa.Integer(), nullable=False),
    sa.Column('prior_offences', sa.Integer(), nullable=False),
    sa.Column('enrolled_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('ended_on', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("sex IN ('female', 'male', 'other', 'unknown')", name=op.f('ck_participants_sex')),
    sa.CheckConstraint("status IN ('active', 'completed', 'dropped_out', 'transferred')", name=op.f('ck_participants_status')),
    sa.CheckConstraint('age_at_referral BETWEEN 5 AND 24', name=op.f('ck_participants_age')),
    sa.CheckConstraint('ended_on IS NULL OR ended_on >= enrolled_on', name=op.f('ck_participants_dates')),
    sa.CheckConstraint('prior_offences >= 0', name=op.f('ck_participants_prior_offences')),
    sa.ForeignKeyConstraint(['cohort_id'], ['cohorts.id'], name=op.f('fk_participants_cohort_id_cohorts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_participants')),
    sa.UniqueConstraint('study_code', name=op.f('uq_participants_study_code'))
    )
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_participants_cohort_id'), ['cohort_id'], unique=False)

    op.create_table('scan_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scan_id', sa.Integer(), nullable=False),
    sa.Column('path', sa.String(length=1024), nullable=False),
    sa.Column('item_digest', sa.String(length=64), nullable=True),
    sa.Column('media_kind', sa.String(length=8), nullable=True),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('scanned_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("status IN ('clear', 'flagged', 'error')", name=op.f('ck_scan_items_status')),
    sa.ForeignKeyConstraint(['scan_id'], ['scans.id'], name=op.f('fk_scan_items_scan_id_scans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scan_items')),
    sa.UniqueConstraint('scan_id', 'path', name='scan_path')
    )
    with op.batch_alter_table('scan_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scan_items_scan_id'), ['scan_id'], unique=False)

    op.create_table('access_grants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('counselor_id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('granted_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('reviewed_by', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint('expires_at > granted_at', name=op.f('ck_access_grants_lifetime')),
    sa.ForeignKeyConstraint(['counselor_id'], ['accounts.id'], name=op.f('fk_access_grants_counselor_id_accounts')),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_access_grants_participant_id_participants')),
    sa.ForeignKeyConstraint(['reviewed_by'], ['accounts.id'], name=op.f('fk_access_grants_reviewed_by_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_grants'))
    )
    with op.batch_alter_table('access_grants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_grants_counselor_id'), ['counselor_id'], unique=False)

    op.create_table('assessments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('instrument_id', sa.String(length=32), nullable=False),
    sa.Column('instrument_version', sa.Integer(), nullable=False),
    sa.Column('responses', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('step_version', sa.Integer(), nullable=False),
    sa.Column('notes_enc', sa.Text(), nullable=True),
    sa.Column('administered_on', sa.Date(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('finalised_by', sa.Integer(), nullable=True),
    sa.Column('finalised_at', sa.DateTime(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("(status = 'draft') OR (finalised_at IS NOT NULL AND finalised_by IS NOT NULL)", name=op.f('ck_assessments_finalised')),
    sa.CheckConstraint("stage IN ('planning', 'midterm', 'conclusion')", name=op.f('ck_assessments_stage')),
    sa.CheckConstraint("status IN ('draft', 'final', 'locked')", name=op.f('ck_assessments_status')),
    sa.CheckConstraint('instrument_version >= 1', name=op.f('ck_assessments_instrument_version')),
    sa.ForeignKeyConstraint(['created_by'], ['accounts.id'], name=op.f('fk_assessments_created_by_accounts')),
    sa.ForeignKeyConstraint(['finalised_by'], ['accounts.id'], name=op.f('fk_assessments_finalised_by_accounts')),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_assessments_participant_id_participants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assessments')),
    sa.UniqueConstraint('participant_id', 'stage', 'instrument_id', 'step_version', name='one_sheet_per_step')
    )
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.create_index('ix_assessment_participant_stage', ['participant_id', 'stage'], unique=False)

    op.create_table('cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_ref', sa.String(length=32), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=True),
    sa.Column('offence_date', sa.Date(), nullable=False),
    sa.Column('referral_date', sa.Date(), nullable=False),
    sa.Column('referral_source', sa.String(length=16), nullable=False),
    sa.CheckConstraint("referral_source IN ('police', 'prosecution', 'court', 'probation', 'school', 'family', 'self', 'other')", name=op.f('ck_cases_referral_source')),
    sa.CheckConstraint('referral_date >= offence_date', name=op.f('ck_cases_dates')),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_cases_participant_id_participants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases')),
    sa.UniqueConstraint('case_ref', name=op.f('uq_cases_case_ref'))
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_participant_id'), ['participant_id'], unique=False)

    op.create_table('counseling_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('counselor_id', sa.Integer(), nullable=False),
    sa.Column('session_date', sa.Date(), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('modality', sa.String(length=16), nullable=False),
    sa.Column('attendance', sa.String(length=16), nullable=False),
    sa.Column('topics', sa.JSON(), nullable=False),
    sa.Column('notes_enc', sa.Text(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("attendance IN ('attended', 'late', 'absent', 'cancelled')", name=op.f('ck_counseling_sessions_attendance')),
    sa.CheckConstraint("modality IN ('in_person', 'video', 'phone', 'group')", name=op.f('ck_counseling_sessions_modality')),
    sa.CheckConstraint('minutes BETWEEN 1 AND 480', name=op.f('ck_counseling_sessions_minutes')),
    sa.ForeignKeyConstraint(['counselor_id'], ['accounts.id'], name=op.f('fk_counseling_sessions_counselor_id_accounts')),
    sa.ForeignKeyConstraint(['created_by'], ['accounts.id'], name=op.f('fk_counseling_sessions_created_by_accounts')),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_counseling_sessions_participant_id_participants')),
    sa.ForeignKeyConstraint(['updated_by'], ['accounts.id'], name=op.f('fk_counseling_sessions_updated_by_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_counseling_sessions'))
    )
    with op.batch_alter_table('counseling_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_counseling_sessions_participant_id'), ['participant_id'], unique=False)

    op.create_table('counselor_assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('counselor_id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.CheckConstraint('end_date IS NULL OR end_date >= start_date', name=op.f('ck_counselor_assignments_dates')),
    sa.ForeignKeyConstraint(['counselor_id'], ['accounts.id'], name=op.f('fk_counselor_assignments_counselor_id_accounts')),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_counselor_assignments_participant_id_participants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_counselor_assignments'))
    )
    with op.batch_alter_table('counselor_assignments', schema=None) as batch_op:
        batch_op.create_index('ix_assignment_counselor_participant', ['counselor_id', 'participant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_counselor_assignments_participant_id'), ['participant_id'], unique=False)

    op.create_table('disclosures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('recipient', sa.String(length=256), nullable=False),
    sa.Column('legal_basis', sa.String(length=64), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('released_on', sa.Date(), nullable=False),
    sa.Column('recorded_by', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("legal_basis IN ('juvenile_act_70_1_court_or_prosecution', 'juvenile_act_70_1_investigation', 'juvenile_act_70_1_child_protection', 'juvenile_act_70_1_education_or_research', 'participant_and_guardian_consent')", name=op.f('ck_disclosures_legal_basis')),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_disclosures_participant_id_participants')),
    sa.ForeignKeyConstraint(['recorded_by'], ['accounts.id'], name=op.f('fk_disclosures_recorded_by_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disclosures'))
    )
    with op.batch_alter_table('disclosures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disclosures_participant_id'), ['participant_id'], unique=False)

    op.create_table('follow_ups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('end_date >= start_date', name=op.f('ck_follow_ups_window')),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_follow_ups_participant_id_participants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_ups'))
    )
    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_follow_ups_participant_id'), ['participant_id'], unique=False)

    op.create_table('goals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('text_enc', sa.Text(), nullable=False),
    sa.Column('set_on', sa.Date(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['accounts.id'], name=op.f('fk_goals_created_by_accounts')),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_goals_participant_id_participants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_goals'))
    )
    with op.batch_alter_table('goals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_goals_participant_id'), ['participant_id'], unique=False)

    op.create_table('participant_identities',
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('name_enc', sa.Text(), nullable=False),
    sa.Column('birth_date_enc', sa.Text(), nullable=False),
    sa.Column('contact_enc', sa.Text(), nullable=True),
    sa.Column('guardian_contact_enc', sa.Text(), nullable=True),
    sa.Column('key_id', sa.String(length=16), nullable=False),
    sa.Column('erased_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_participant_identities_participant_id_participants')),
    sa.PrimaryKeyConstraint('participant_id', name=op.f('pk_participant_identities'))
    )
    op.create_table('stage_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('step_version', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('skip_reason', sa.String(length=16), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('submitted_by', sa.Integer(), nullable=True),
    sa.Column('submitted_at', sa.DateTime(), nullable=True),
    sa.Column('reviewed_by', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(), nullable=True),
    sa.Column('signed_by', sa.Integer(), nullable=True),
    sa.Column('signed_at', sa.DateTime(), nullable=True),
    sa.Column('superseded_at', sa.DateTime(), nullable=True),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("(status = 'skipped') = (skip_reason IS NOT NULL)", name=op.f('ck_stage_steps_skip_reason')),
    sa.CheckConstraint("skip_reason IS NULL OR skip_reason IN ('dropout', 'transfer', 'other')", name=op.f('ck_stage_steps_skip_reasons')),
    sa.CheckConstraint("stage IN ('planning', 'midterm', 'conclusion')", name=op.f('ck_stage_steps_stage')),
    sa.CheckConstraint("status <> 'signed' OR (signed_by IS NOT NULL AND signed_at IS NOT NULL)", name=op.f('ck_stage_steps_signed')),
    sa.CheckConstraint("status IN ('not_started', 'draft', 'submitted', 'reviewed', 'signed', 'skipped')", name=op.f('ck_stage_steps_status')),
    sa.CheckConstraint('step_version >= 1', name=op.f('ck_stage_steps_step_version')),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_stage_steps_participant_id_participants')),
    sa.ForeignKeyConstraint(['reviewed_by'], ['accounts.id'], name=op.f('fk_stage_steps_reviewed_by_accounts')),
    sa.ForeignKeyConstraint(['signed_by'], ['accounts.id'], name=op.f('fk_stage_steps_signed_by_accounts')),
    sa.ForeignKeyConstraint(['submitted_by'], ['accounts.id'], name=op.f('fk_stage_steps_submitted_by_accounts')),
    sa.ForeignKeyConstraint(['updated_by'], ['accounts.id'], name=op.f('fk_stage_steps_updated_by_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stage_steps')),
    sa.UniqueConstraint('participant_id', 'stage', 'step_version', name='participant_stage_version')
    )
    with op.batch_alter_table('stage_steps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stage_steps_participant_id'), ['participant_id'], unique=False)

    op.create_table('assessment_scores',
    sa.Column('assessment_id', sa.Integer(), nullable=False),
    sa.Column('domain', sa.String(length=48), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('scale_min', sa.Float(), nullable=False),
    sa.Column('scale_max', sa.Float(), nullable=False),
    sa.CheckConstraint('scale_min < scale_max', name=op.f('ck_assessment_scores_scale')),
    sa.CheckConstraint('score >= scale_min AND score <= scale_max', name=op.f('ck_assessment_scores_score_range')),
    sa.ForeignKeyConstraint(['assessment_id'], ['assessments.id'], name=op.f('fk_assessment_scores_assessment_id_assessments')),
    sa.PrimaryKeyConstraint('assessment_id', 'domain', name=op.f('pk_assessment_scores'))
    )
    op.create_table('case_offences',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('offence_type', sa.String(length=32), nullable=False),
    sa.CheckConstraint("offence_type IN ('illegal_filming', 'non_consensual_distribution', 'possession_or_viewing', 'sextortion_or_coercion', 'synthetic_sexual_imagery', 'grooming', 'other')", name=op.f('ck_case_offences_offence_type')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_offences_case_id_cases')),
    sa.PrimaryKeyConstraint('case_id', 'offence_type', name=op.f('pk_case_offences'))
    )
    op.create_table('goal_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('goal_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('progress', sa.Integer(), nullable=False),
    sa.Column('note_enc', sa.Text(), nullable=True),
    sa.Column('reviewed_by', sa.Integer(), nullable=False),
    sa.Column('reviewed_at', sa.DateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("stage IN ('midterm', 'conclusion')", name=op.f('ck_goal_reviews_stage')),
    sa.CheckConstraint('progress BETWEEN 1 AND 5', name=op.f('ck_goal_reviews_progress')),
    sa.ForeignKeyConstraint(['goal_id'], ['goals.id'], name=op.f('fk_goal_reviews_goal_id_goals')),
    sa.ForeignKeyConstraint(['reviewed_by'], ['accounts.id'], name=op.f('fk_goal_reviews_reviewed_by_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_goal_reviews')),
    sa.UniqueConstraint('goal_id', 'stage', name='goal_stage')
    )
    with op.batch_alter_table('goal_reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_goal_reviews_goal_id'), ['goal_id'], unique=False)

    op.create_table('hash_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('algorithm', sa.String(length=16), nullable=False),
    sa.Column('bits', sa.Integer(), nullable=False),
    sa.Column('hash_hex', sa.String(length=64), nullable=False),
    sa.Column('variant', sa.String(length=16), nullable=False),
    sa.Column('media_kind', sa.String(length=8), nullable=False),
    sa.Column('source_label', sa.String(length=64), nullable=False),
    sa.Column('added_by', sa.Integer(), nullable=False),
    sa.Column('added_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('bits IN (64, 256)', name=op.f('ck_hash_entries_bits')),
    sa.CheckConstraint('length(hash_hex) * 4 = bits', name=op.f('ck_hash_entries_hex_length')),
    sa.ForeignKeyConstraint(['added_by'], ['accounts.id'], name=op.f('fk_hash_entries_added_by_accounts')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_hash_entries_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hash_entries')),
    sa.UniqueConstraint('algorithm', 'hash_hex', 'case_id', name='algorithm_hash_case')
    )
    with op.batch_alter_table('hash_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hash_entries_case_id'), ['case_id'], unique=False)

    op.create_table('region_signatures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hash_entry_id', sa.Integer(), nullable=False),
    sa.Column('algorithm', sa.String(length=16), nullable=False),
    sa.Column('signature', sa.LargeBinary(), nullable=False),
    sa.Column('added_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['hash_entry_id'], ['hash_entries.id'], name=op.f('fk_region_signatures_hash_entry_id_hash_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_region_signatures')),
    sa.UniqueConstraint('hash_entry_id', name=op.f('uq_region_signatures_hash_entry_id'))
    )

    op.create_table('recidivism_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('follow_up_id', sa.Integer(), nullable=False),
    sa.Column('event_date', sa.Date(), nullable=False),
    sa.Column('event_type', sa.String(length=24), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('recorded_by', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("event_type IN ('digital_sex_crime', 'other_sexual', 'non_sexual_violent', 'other')", name=op.f('ck_recidivism_events_event_type')),
    sa.CheckConstraint("source IN ('police', 'court', 'probation', 'self_report', 'detection_flag')", name=op.f('ck_recidivism_events_source')),
    sa.ForeignKeyConstraint(['follow_up_id'], ['follow_ups.id'], name=op.f('fk_recidivism_events_follow_up_id_follow_ups')),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_recidivism_events_participant_id_participants')),
    sa.ForeignKeyConstraint(['recorded_by'], ['accounts.id'], name=op.f('fk_recidivism_events_recorded_by_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recidivism_events'))
    )
    with op.batch_alter_table('recidivism_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recidivism_events_participant_id'), ['participant_id'], unique=False)

    op.create_table('flags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scan_id', sa.Integer(), nullable=False),
    sa.Column('item_path', sa.String(length=1024), nullable=False),
    sa.Column('item_digest', sa.String(length=64), nullable=False),
    sa.Column('hash_entry_id', sa.Integer(), nullable=False),
    sa.Column('algorithm', sa.String(length=16), nullable=False),
    sa.Column('distance', sa.Integer(), nullable=False),
    sa.Column('frames', sa.JSON(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reviewed_by', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(), nullable=True),
    sa.Column('review_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("status = 'pending' OR (reviewed_by IS NOT NULL AND review_reason IS NOT NULL)", name=op.f('ck_flags_reviewed')),
    sa.CheckConstraint("status IN ('pending', 'confirmed', 'rejected')", name=op.f('ck_flags_status')),
    sa.CheckConstraint('distance >= 0', name=op.f('ck_flags_distance')),
    sa.ForeignKeyConstraint(['hash_entry_id'], ['hash_entries.id'], name=op.f('fk_flags_hash_entry_id_hash_entries')),
    sa.ForeignKeyConstraint(['reviewed_by'], ['accounts.id'], name=op.f('fk_flags_reviewed_by_accounts')),
    sa.ForeignKeyConstraint(['scan_id'], ['scans.id'], name=op.f('fk_flags_scan_id_scans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flags')),
    sa.UniqueConstraint('item_digest', 'hash_entry_id', name='item_entry')
    )
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_flags_scan_id'), ['scan_id'], unique=False)

    op.create_table('event_proposals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('flag_id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('proposed_date', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("status IN ('proposed', 'accepted', 'rejected')", name=op.f('ck_event_proposals_status')),
    sa.ForeignKeyConstraint(['decided_by'], ['accounts.id'], name=op.f('fk_event_proposals_decided_by_accounts')),
    sa.ForeignKeyConstraint(['event_id'], ['recidivism_events.id'], name=op.f('fk_event_proposals_event_id_recidivism_events')),
    sa.ForeignKeyConstraint(['flag_id'], ['flags.id'], name=op.f('fk_event_proposals_flag_id_flags')),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_event_proposals_participant_id_participants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_proposals')),
    sa.UniqueConstraint('flag_id', name=op.f('uq_event_proposals_flag_id'))
    )
    with op.batch_alter_table('event_proposals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_proposals_participant_id'), ['participant_id'], unique=False)

    op.create_table('takedown_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('flag_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('requested_by', sa.Integer(), nullable=False),
    sa.Column('requested_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('platform', sa.String(length=128), nullable=False),
    sa.Column('removed_at', sa.DateTime(), nullable=True),
    sa.Column('reappeared_at', sa.DateTime(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("status IN ('requested', 'removed', 'refused', 'reappeared')", name=op.f('ck_takedown_requests_status')),
    sa.CheckConstraint('updated_at >= requested_at', name=op.f('ck_takedown_requests_dates')),
    sa.ForeignKeyConstraint(['flag_id'], ['flags.id'], name=op.f('fk_takedown_requests_flag_id_flags')),
    sa.ForeignKeyConstraint(['requested_by'], ['accounts.id'], name=op.f('fk_takedown_requests_requested_by_accounts')),
    sa.ForeignKeyConstraint(['updated_by'], ['accounts.id'], name=op.f('fk_takedown_requests_updated_by_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_takedown_requests')),
    sa.UniqueConstraint('flag_id', name=op.f('uq_takedown_requests_flag_id'))
    )

    _audit_append_only_up()


_PG_FUNC = """
CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % on audit_log refused', TG_OP;
END;
$$ LANGUAGE plpgsql
"""


def _audit_append_only_up() -> None:
    """Entries are kept (at least two years) and never edited: refuse UPDATE and DELETE in the database."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNC)
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
    else:
        for what in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{what.lower()} BEFORE {what} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
            )


def _audit_append_only_down() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")


def downgrade() -> None:
    _audit_append_only_down()
    op.drop_table('takedown_requests')
    with op.batch_alter_table('event_proposals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_proposals_participant_id'))

    op.drop_table('event_proposals')
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_flags_scan_id'))

    op.drop_table('flags')
    with op.batch_alter_table('recidivism_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recidivism_events_participant_id'))

    op.drop_table('recidivism_events')
    op.drop_table('region_signatures')
    with op.batch_alter_table('hash_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hash_entries_case_id'))

    op.drop_table('hash_entries')
    with op.batch_alter_table('goal_reviews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_goal_reviews_goal_id'))

    op.drop_table('goal_reviews')
    op.drop_table('case_offences')
    op.drop_table('assessment_scores')
    with op.batch_alter_table('stage_steps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stage_steps_participant_id'))

    op.drop_table('stage_steps')
    op.drop_table('participant_identities')
    with op.batch_alter_table('goals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_goals_participant_id'))

    op.drop_table('goals')
    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_follow_ups_participant_id'))

    op.drop_table('follow_ups')
    with op.batch_alter_table('disclosures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disclosures_participant_id'))

    op.drop_table('disclosures')
    with op.batch_alter_table('counselor_assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_counselor_assignments_participant_id'))
        batch_op.drop_index('ix_assignment_counselor_participant')

    op.drop_table('counselor_assignments')
    with op.batch_alter_table('counseling_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_counseling_sessions_participant_id'))

    op.drop_table('counseling_sessions')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_participant_id'))

    op.drop_table('cases')
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.drop_index('ix_assessment_participant_stage')

    op.drop_table('assessments')
    with op.batch_alter_table('access_grants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_grants_counselor_id'))

    op.drop_table('access_grants')
    with op.batch_alter_table('scan_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scan_items_scan_id'))

    op.drop_table('scan_items')
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_participants_cohort_id'))

    op.drop_table('participants')
    op.drop_table('scans')
    op.drop_table('risk_models')
    with op.batch_alter_table('programme_reviews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_programme_reviews_programme_id'))

    op.drop_table('programme_reviews')
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_sessions_account_id'))

    op.drop_table('login_sessions')
    op.drop_table('export_manifests')
    op.drop_table('cohorts')
    op.drop_table('programmes')
    op.drop_table('meta')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_subject_participant_id'))
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))

    op.drop_table('audit_log')
    op.drop_table('accounts')
