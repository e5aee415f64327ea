"""The database itself refuses bad rows, whatever code writes them (raw SQL here, no ORM checks)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

SEED = [
    "INSERT INTO accounts (id, username, display_name, role, password_hash, active, failed_logins,"
    " password_changed_at, created_at, version) VALUES (1, 'c1', 'c1', 'counselor', 'x', true, 0,"
    " '2026-01-01', '2026-01-01', 1)",
    "INSERT INTO programmes (id, name, description) VALUES (1, 'p', '')",
    "INSERT INTO cohorts (id, programme_id, name, start_date) VALUES (1, 1, 'c', '2026-01-01')",
    "INSERT INTO participants (id, study_code, cohort_id, sex, age_at_referral, prior_offences,"
    " enrolled_on, status, created_at, version) VALUES (1, 'P-1', 1, 'male', 15, 0, '2026-01-05',"
    " 'active', '2026-01-05', 1)",
    "INSERT INTO assessments (id, participant_id, stage, instrument_id, instrument_version, responses,"
    " status, step_version, administered_on, created_by, created_at, version) VALUES (1, 1, 'planning', 'GS-12', 1,"
    " '{}', 'draft', 1, '2026-01-06', 1, '2026-01-06', 1)",
]

BAD = {
    "a stage outside the three": (
        "INSERT INTO assessments (participant_id, stage, instrument_id, instrument_version, responses,"
        " status, step_version, administered_on, created_by, created_at, version) VALUES (1, 'followup',"
        " 'GS-12', 1, '{}', 'draft', 1, '2026-01-06', 1, '2026-01-06', 1)"),
    "a score above its scale": (
        "INSERT INTO assessment_scores (assessment_id, domain, score, scale_min, scale_max)"
        " VALUES (1, 'gender_sensitivity', 5.5, 1, 5)"),
    "a score below its scale": (
        "INSERT INTO assessment_scores (assessment_id, domain, score, scale_min, scale_max)"
        " VALUES (1, 'gender_sensitivity', 0.9, 1, 5)"),
    "a follow-up that ends before it starts": (
        "INSERT INTO follow_ups (participant_id, start_date, end_date, version)"
        " VALUES (1, '2026-05-01', '2026-04-30', 1)"),
    "a role that does not exist": (
        "INSERT INTO accounts (username, display_name, role, password_hash, active, failed_logins,"
        " password_changed_at, created_at, version) VALUES ('x', 'x', 'superuser', 'x', true, 0,"
        " '2026-01-01', '2026-01-01', 1)"),
    "an offence outside the taxonomy": (
        "INSERT INTO cases (id, case_ref, participant_id, offence_date, referral_date, referral_source)"
        " VALUES (5, 'C5', 1, '2025-01-01', '2025-02-01', 'police');"
        "INSERT INTO case_offences (case_id, offence_type) VALUES (5, 'jaywalking')"),
    "a session of zero minutes": (
        "INSERT INTO counseling_sessions (participant_id, counselor_id, session_date, minutes, modality,"
        " attendance, topics, created_by, created_at, version) VALUES (1, 1, '2026-01-07', 0,"
        " 'in_person', 'attended', '[]', 1, '2026-01-07', 1)"),
    "a final assessment with nobody who finalised it": (
        "INSERT INTO assessments (participant_id, stage, instrument_id, instrument_version, responses,"
        " status, step_version, administered_on, created_by, created_at, version) VALUES (1, 'midterm',"
        " 'GS-12', 1, '{}', 'final', 1, '2026-01-06', 1, '2026-01-06', 1)"),
    "a skipped step without a reason": (
        "INSERT INTO stage_steps (participant_id, stage, step_version, status, version)"
        " VALUES (1, 'midterm', 1, 'skipped', 1)"),
    "a disclosure without a legal basis": (
        "INSERT INTO disclosures (participant_id, recipient, legal_basis, purpose, released_on,"
        " recorded_by, recorded_at) VALUES (1, 'a school', 'curiosity', 'x', '2026-02-01', 1,"
        " '2026-02-01')"),
    "a recidivism event of an unknown type": (
        "INSERT INTO follow_ups (id, participant_id, start_date, end_date, version)"
        " VALUES (9, 1, '2026-05-01', '2027-04-30', 1);"
        "INSERT INTO recidivism_events (participant_id, follow_up_id, event_date, event_type, source,"
        " recorded_by, recorded_at) VALUES (1, 9, '2026-06-01', 'rumour', 'police', 1, '2026-06-02')"),
    "a PDQ hash of the wrong length": (
        "INSERT INTO cases (id, case_ref, participant_id, offence_date, referral_date, referral_source)"
        " VALUES (6, 'C6', 1, '2025-01-01', '2025-02-01', 'police');"
        "INSERT INTO hash_entries (case_id, algorithm, bits, hash_hex, variant, media_kind, source_label,"
        " added_by, added_at) VALUES (6, 'pdq', 256, 'abcd', 'original', 'image', '', 1, '2026-01-01')"),
    "a prevention delivery to an audience outside the vocabulary": (
        "INSERT INTO prevention_programmes (id, name, version, audiences, format, description, created_by, created_at) VALUES (7, 'pv', 1, '[\"middle\"]', 'lecture', '', 1, '2026-01-01');"
        "INSERT INTO prevention_deliveries (programme_id, delivered_on, audience, institution_kind,"
        " district, present, educator_id, created_at) VALUES (7, '2026-03-02', 'adults', 'middle',"
        " 'mapo', 20, 1, '2026-03-02')"),
    "a prevention survey sheet scored above 100": (
        "INSERT INTO prevention_programmes (id, name, version, audiences, format, description, created_by, created_at) VALUES (7, 'pv', 1, '[\"middle\"]', 'lecture', '', 1, '2026-01-01');"
        "INSERT INTO prevention_deliveries (id, programme_id, delivered_on, audience, institution_kind,"
        " district, present, educator_id, created_at) VALUES (8, 7, '2026-03-02', 'middle', 'middle',"
        " 'mapo', 20, 1, '2026-03-02');"
        "INSERT INTO prevention_surveys (delivery_id, instrument_id, instrument_version, time, answers,"
        " score, imported_by, imported_at) VALUES (8, 'PE-12', 1, 'pre', '{}', 100.5, 1, '2026-03-02')"),
    "an account of a role outside the vocabulary": (
        "INSERT INTO accounts (id, username, display_name, role, password_hash, active, failed_logins,"
        " password_changed_at, created_at, version) VALUES (2, 't1', 't1', 'teacher', 'x', true, 0,"
        " '2026-01-01', '2026-01-01', 1)"),
}


@pytest.mark.parametrize("what", sorted(BAD))
def test_database_refuses(rt, what):
    with rt.engine.begin() as conn:
        for stmt in SEED:
            conn.execute(text(stmt))
    with pytest.raises(IntegrityError), rt.engine.begin() as conn:
        for stmt in BAD[what].split(";"):
            conn.execute(text(stmt))
    # And a good row of the same kind goes in, so the refusal was the rule, not the statement.
    with rt.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO assessment_scores (assessment_id, domain, score, scale_min, scale_max)"
            " VALUES (1, 'gender_equality', 3.25, 1, 4)"))


def test_the_database_takes_an_educator_and_a_valid_prevention_sheet(rt):
    """The rows the refusals above spoil, whole: each refusal is its one bad value, not the seed."""
    good = BAD["a prevention survey sheet scored above 100"].replace("100.5", "75.0")
    with rt.engine.begin() as conn:
        for stmt in SEED + good.split(";") + [
                BAD["an account of a role outside the vocabulary"].replace("'teacher'", "'educator'")]:
            conn.execute(text(stmt))
        assert conn.execute(text("SELECT count(*) FROM prevention_surveys")).scalar() == 1
