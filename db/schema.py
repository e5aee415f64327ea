"""The ORM schema: every table dscr keeps, with its rules enforced by the database itself."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import false as sa_false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

import vocab

# Named constraints, so that migrations on SQLite (batch mode) and PostgreSQL address the same names.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# The codes come from the one vocabulary; the database keeps them and CHECKs them.
ROLES = vocab.ROLES
STAGES = vocab.STEPS
OFFENCE_TYPES = vocab.OFFENCE_TYPES
REFERRAL_SOURCES = vocab.REFERRAL_SOURCES
PARTICIPANT_STATUSES = vocab.PARTICIPANT_STATUSES
SEXES = vocab.SEXES
MODALITIES = vocab.MODALITIES
ATTENDANCE = vocab.ATTENDANCE
ASSESSMENT_STATUSES = vocab.ASSESSMENT_STATUSES
RECIDIVISM_TYPES = vocab.EVENT_TYPES
RECIDIVISM_SOURCES = vocab.EVENT_SOURCES
FLAG_STATUSES = vocab.FLAG_STATES
TAKEDOWN_STATUSES = vocab.TAKEDOWN_STATES
SCAN_STATUSES = vocab.SCAN_STATES
STEP_STATUSES = vocab.STEP_STATUSES
SKIP_REASONS = vocab.SKIP_REASONS
SCAN_ITEM_STATUSES = vocab.SCAN_ITEM_STATES
PROPOSAL_STATUSES = vocab.PROPOSAL_STATUSES
DISCLOSURE_BASES = vocab.DISCLOSURE_BASES
REASON_KINDS = vocab.REASON_KINDS
PARTNER_SCOPES = vocab.PARTNER_SCOPES
MODEL_STATUSES = vocab.MODEL_STATUSES
LANDMARKS = vocab.LANDMARKS


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


def utcnow() -> dt.datetime:
    """Naive UTC with microseconds: the same text on SQLite and PostgreSQL, so audit hashes verify on both."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Meta(Base):
    """Facts about the installation: the key check value, the demo-data marker."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint(_in("role", ROLES), name="role"),
        CheckConstraint("failed_logins >= 0", name="failed_logins"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128), default="")
    role: Mapped[str] = mapped_column(String(16))
    # A counselor's team lead (a supervisor's account); the supervisor's team is the counselors
    # who name them here.
    supervisor_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    password_changed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # Set by an admin's reset: the password is a one-time one, and the next log-in sets a new one.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False,
                                                       server_default=sa_false())
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}


class LoginSession(Base):
    """A dashboard session kept on the server, so that log-out and revocation reach every tab."""

    __tablename__ = "login_sessions"
    __table_args__ = (CheckConstraint("expires_at > created_at", name="lifetime"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    ended_reason: Mapped[str | None] = mapped_column(String(32))


class Programme(Base):
    __tablename__ = "programmes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    cohorts: Mapped[list[Cohort]] = relationship(back_populates="programme")


class Cohort(Base):
    __tablename__ = "cohorts"
    __table_args__ = (
        UniqueConstraint("programme_id", "name", name="programme_name"),
        CheckConstraint("end_date IS NULL OR end_date >= start_date", name="dates"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"))
    name: Mapped[str] = mapped_column(String(64))
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    programme: Mapped[Programme] = relationship(back_populates="cohorts")


class Participant(Base):
    """The research record of a young person: a study code and what analysis needs, nothing identifying."""

    __tablename__ = "participants"
    __table_args__ = (
        CheckConstraint(_in("status", PARTICIPANT_STATUSES), name="status"),
        CheckConstraint(_in("sex", SEXES), name="sex"),
        CheckConstraint("age_at_referral BETWEEN 5 AND 24", name="age"),
        CheckConstraint("prior_offences >= 0", name="prior_offences"),
        CheckConstraint("ended_on IS NULL OR ended_on >= enrolled_on", name="dates"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_code: Mapped[str] = mapped_column(String(32), unique=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id"), index=True)
    sex: Mapped[str] = mapped_column(String(8))
    age_at_referral: Mapped[int] = mapped_column(Integer)
    prior_offences: Mapped[int] = mapped_column(Integer, default=0)
    enrolled_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="active")
    ended_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    cohort: Mapped[Cohort] = relationship()
    __mapper_args__ = {"version_id_col": version}


class ParticipantIdentity(Base):
    """Identifying fields, encrypted, in a table that analysts' and committee use cases never join."""

    __tablename__ = "participant_identities"
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), primary_key=True)
    name_enc: Mapped[str] = mapped_column(Text)
    birth_date_enc: Mapped[str] = mapped_column(Text)
    contact_enc: Mapped[str | None] = mapped_column(Text)
    guardian_contact_enc: Mapped[str | None] = mapped_column(Text)
    key_id: Mapped[str] = mapped_column(String(16))
    erased_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(_in("referral_source", REFERRAL_SOURCES), name="referral_source"),
        CheckConstraint("referral_date >= offence_date", name="dates"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_ref: Mapped[str] = mapped_column(String(32), unique=True)
    participant_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id"), index=True)
    offence_date: Mapped[dt.date] = mapped_column(Date)
    referral_date: Mapped[dt.date] = mapped_column(Date)
    referral_source: Mapped[str] = mapped_column(String(16))
    offences: Mapped[list[CaseOffence]] = relationship(
        back_populates="case", cascade="all, delete-orphan"
    )


class CaseOffence(Base):
    __tablename__ = "case_offences"
    __table_args__ = (CheckConstraint(_in("offence_type", OFFENCE_TYPES), name="offence_type"),)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    offence_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    case: Mapped[Case] = relationship(back_populates="offences")


class CounselorAssignment(Base):
    __tablename__ = "counselor_assignments"
    __table_args__ = (
        CheckConstraint("end_date IS NULL OR end_date >= start_date", name="dates"),
        Index("ix_assignment_counselor_participant", "counselor_id", "participant_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    counselor_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)


class CounselingSession(Base):
    __tablename__ = "counseling_sessions"
    __table_args__ = (
        CheckConstraint("minutes BETWEEN 1 AND 480", name="minutes"),
        CheckConstraint(_in("modality", MODALITIES), name="modality"),
        CheckConstraint(_in("attendance", ATTENDANCE), name="attendance"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    counselor_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    session_date: Mapped[dt.date] = mapped_column(Date)
    minutes: Mapped[int] = mapped_column(Integer)
    modality: Mapped[str] = mapped_column(String(16))
    attendance: Mapped[str] = mapped_column(String(16))
    topics: Mapped[list[Any]] = mapped_column(default=list)
    notes_enc: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}


class Assessment(Base):
    __tablename__ = "assessments"
    __table_args__ = (
        CheckConstraint(_in("stage", STAGES), name="stage"),
        CheckConstraint(_in("status", ASSESSMENT_STATUSES), name="status"),
        CheckConstraint("instrument_version >= 1", name="instrument_version"),
        CheckConstraint(
            "(status = 'draft') OR (finalised_at IS NOT NULL AND finalised_by IS NOT NULL)",
            name="finalised",
        ),
        Index("ix_assessment_participant_stage", "participant_id", "stage"),
        # One answer sheet per instrument and step version: two saves racing to create it cannot
        # both win (the loser gets a Conflict), and an amendment changes the one row.
        UniqueConstraint("participant_id", "stage", "instrument_id", "step_version",
                         name="one_sheet_per_step"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"))
    stage: Mapped[str] = mapped_column(String(16))
    instrument_id: Mapped[str] = mapped_column(String(32))
    instrument_version: Mapped[int] = mapped_column(Integer)
    responses: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    step_version: Mapped[int] = mapped_column(Integer, default=1)
    notes_enc: Mapped[str | None] = mapped_column(Text)
    administered_on: Mapped[dt.date] = mapped_column(Date)
    created_by: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    finalised_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    finalised_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    scores: Mapped[list[AssessmentScore]] = relationship(
        back_populates="assessment", cascade="all, delete-orphan"
    )
    __mapper_args__ = {"version_id_col": version}


class AssessmentScore(Base):
    """One domain score of an assessment, with the range its instrument allows, checked by the database."""

    __tablename__ = "assessment_scores"
    __table_args__ = (
        CheckConstraint("scale_min < scale_max", name="scale"),
        CheckConstraint("score >= scale_min AND score <= scale_max", name="score_range"),
    )
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id"), primary_key=True)
    domain: Mapped[str] = mapped_column(String(48), primary_key=True)
    score: Mapped[float] = mapped_column(Float)
    scale_min: Mapped[float] = mapped_column(Float)
    scale_max: Mapped[float] = mapped_column(Float)
    assessment: Mapped[Assessment] = relationship(back_populates="scores")


class FollowUp(Base):
    __tablename__ = "follow_ups"
    __table_args__ = (CheckConstraint("end_date >= start_date", name="window"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}


class RecidivismEvent(Base):
    __tablename__ = "recidivism_events"
    __table_args__ = (
        CheckConstraint(_in("event_type", RECIDIVISM_TYPES), name="event_type"),
        CheckConstraint(_in("source", RECIDIVISM_SOURCES), name="source"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    follow_up_id: Mapped[int] = mapped_column(ForeignKey("follow_ups.id"))
    event_date: Mapped[dt.date] = mapped_column(Date)
    event_type: Mapped[str] = mapped_column(String(24))
    source: Mapped[str] = mapped_column(String(16))
    recorded_by: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class HashEntry(Base):
    """A perceptual hash of material from a past case. The content itself is never stored."""

    __tablename__ = "hash_entries"
    __table_args__ = (
        UniqueConstraint("algorithm", "hash_hex", "case_id", name="algorithm_hash_case"),
        CheckConstraint("bits IN (64, 256)", name="bits"),
        CheckConstraint("length(hash_hex) * 4 = bits", name="hex_length"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    bits: Mapped[int] = mapped_column(Integer)
    hash_hex: Mapped[str] = mapped_column(String(64))
    variant: Mapped[str] = mapped_column(String(16), default="original")
    media_kind: Mapped[str] = mapped_column(String(8), default="image")
    source_label: Mapped[str] = mapped_column(String(64), default="")
    added_by: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    added_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class RegionSignature(Base):
    """Crop-resistant keypoint signature (positions and descriptors, no pixels) of a registry image.

    Tied to the image's PDQ hash entry, so a region match is flagged against a registry row.
    """

    __tablename__ = "region_signatures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hash_entry_id: Mapped[int] = mapped_column(ForeignKey("hash_entries.id"), unique=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    added_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Scan(Base):
    __tablename__ = "scans"
    __table_args__ = (
        CheckConstraint(_in("status", SCAN_STATUSES), name="status"),
        CheckConstraint("items_done >= 0 AND items_done <= items_total", name="progress"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_label: Mapped[str] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(16), default="running")
    items_total: Mapped[int] = mapped_column(Integer, default=0)
    items_done: Mapped[int] = mapped_column(Integer, default=0)
    started_by: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Flag(Base):
    __tablename__ = "flags"
    __table_args__ = (
        UniqueConstraint("item_digest", "hash_entry_id", name="item_entry"),
        CheckConstraint(_in("status", FLAG_STATUSES), name="status"),
        CheckConstraint("distance >= 0", name="distance"),
        CheckConstraint(
            "status = 'pending' OR (reviewed_by IS NOT NULL AND review_reason IS NOT NULL)",
            name="reviewed",
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("scans.id"), index=True)
    item_path: Mapped[str] = mapped_column(String(1024))
    item_digest: Mapped[str] = mapped_column(String(64))
    hash_entry_id: Mapped[int] = mapped_column(ForeignKey("hash_entries.id"))
    algorithm: Mapped[str] = mapped_column(String(16))
    distance: Mapped[int] = mapped_column(Integer)
    frames: Mapped[list[Any] | None] = mapped_column(JSON)
    # Where a crawl manifest says the item was found (none for a folder, zip or upload): what a
    # takedown request opened by this flag is sent about.
    source_platform: Mapped[str | None] = mapped_column(String(128))
    source_url: Mapped[str | None] = mapped_column(String(2048))
    first_seen: Mapped[dt.datetime | None] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    review_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}


class TakedownRequest(Base):
    __tablename__ = "takedown_requests"
    __table_args__ = (
        CheckConstraint(_in("status", TAKEDOWN_STATUSES), name="status"),
        CheckConstraint("updated_at >= requested_at", name="dates"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flag_id: Mapped[int] = mapped_column(ForeignKey("flags.id"), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="requested")
    requested_by: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    platform: Mapped[str] = mapped_column(String(128), default="")
    page_url: Mapped[str | None] = mapped_column(String(2048))
    removed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    reappeared_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    note: Mapped[str | None] = mapped_column(Text)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}


class AuditLog(Base):
    """Hash-chained record of every write, every read of identifying fields, logins and denials.

    Holds names of tables and fields, never their values: the log must not become a second copy of
    the case files.
    """

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    account_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    table_name: Mapped[str | None] = mapped_column(String(64))
    row_id: Mapped[str | None] = mapped_column(String(64))
    subject_participant_id: Mapped[int | None] = mapped_column(Integer, index=True)
    fields: Mapped[list[Any] | None] = mapped_column(JSON)
    detail: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64), unique=True)


class StageStep(Base):
    """One step of a participant's matrix (planning, midterm, conclusion) and where it stands.

    Unlocking a signed step makes a new row with version + 1; the signed one stays as it was.
    """

    __tablename__ = "stage_steps"
    __table_args__ = (
        UniqueConstraint("participant_id", "stage", "step_version", name="participant_stage_version"),
        CheckConstraint(_in("stage", STAGES), name="stage"),
        CheckConstraint(_in("status", STEP_STATUSES), name="status"),
        CheckConstraint("step_version >= 1", name="step_version"),
        CheckConstraint(
            "(status = 'skipped') = (skip_reason IS NOT NULL)", name="skip_reason"),
        CheckConstraint("skip_reason IS NULL OR " + _in("skip_reason", SKIP_REASONS), name="skip_reasons"),
        CheckConstraint("status <> 'signed' OR (signed_by IS NOT NULL AND signed_at IS NOT NULL)",
                        name="signed"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    stage: Mapped[str] = mapped_column(String(16))
    step_version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="not_started")
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    skip_reason: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    submitted_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    signed_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    signed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    superseded_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}


class Goal(Base):
    """A counseling goal set at planning, reviewed at midterm and conclusion."""

    __tablename__ = "goals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    text_enc: Mapped[str] = mapped_column(Text)
    set_on: Mapped[dt.date] = mapped_column(Date)
    created_by: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}


class GoalReview(Base):
    __tablename__ = "goal_reviews"
    __table_args__ = (
        UniqueConstraint("goal_id", "stage", name="goal_stage"),
        CheckConstraint("stage IN ('midterm', 'conclusion')", name="stage"),
        CheckConstraint("progress BETWEEN 1 AND 5", name="progress"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    goal_id: Mapped[int] = mapped_column(ForeignKey("goals.id"), index=True)
    stage: Mapped[str] = mapped_column(String(16))
    progress: Mapped[int] = mapped_column(Integer)
    note_enc: Mapped[str | None] = mapped_column(Text)
    reviewed_by: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    reviewed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}


class ProgrammeReview(Base):
    """A committee member's rating of a programme on one gender-sensitivity indicator."""

    __tablename__ = "programme_reviews"
    __table_args__ = (
        UniqueConstraint("programme_id", "rater_id", "indicator", "period", name="programme_rater"),
        CheckConstraint("score BETWEEN 1 AND 5", name="score"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"), index=True)
    rater_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    indicator: Mapped[str] = mapped_column(String(64))
    score: Mapped[int] = mapped_column(Integer)
    period: Mapped[str] = mapped_column(String(vocab.PERIOD_MAX_LENGTH))  # vocab.period_kind
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class RiskModel(Base):
    """A fitted risk model: its card and parameters, never the rows it was fitted on."""

    __tablename__ = "risk_models"
    __table_args__ = (
        CheckConstraint("horizon_days > 0", name="horizon"),
        CheckConstraint(_in("status", MODEL_STATUSES), name="status"),
        CheckConstraint(_in("landmark", LANDMARKS), name="landmark"),
        CheckConstraint("status <> 'approved' OR (approved_by IS NOT NULL AND approved_at IS NOT "
                        "NULL AND approval_reason IS NOT NULL)", name="approved"),
        CheckConstraint("status <> 'withdrawn' OR (withdrawn_by IS NOT NULL AND withdrawn_at IS "
                        "NOT NULL AND withdrawal_reason IS NOT NULL)", name="withdrawn"),
        CheckConstraint("approved_by IS NULL OR approved_by <> created_by", name="four_eyes"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    horizon_days: Mapped[int] = mapped_column(Integer)
    card: Mapped[dict[str, Any]] = mapped_column(JSON)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    data_fingerprint: Mapped[str] = mapped_column(String(64))
    code_version: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # When the model predicts (vocab.LANDMARKS): only features known by then (models.landmarks).
    landmark: Mapped[str] = mapped_column(String(16), default="conclusion")
    # draft -> approved (by another person than the fitter, with a reason) -> withdrawn.
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    approved_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # About the model, never a person: checked by the notes guard like every free text.
    approval_reason: Mapped[str | None] = mapped_column(Text)
    # The card's warnings the approver acknowledged (their keys, models.approval.warning_keys).
    acknowledged: Mapped[list[Any] | None] = mapped_column(JSON)
    withdrawn_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    withdrawal_reason: Mapped[str | None] = mapped_column(Text)
    # Optimistic locking: two people approving or withdrawing the same model at once.
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}


class ScanItem(Base):
    """One file of a scan: what a resumed scan skips, and what the report lists.

    A file is its path and, inside an archive, its member index (1 for the first entry of the
    archive; 0 for a file that is no archive member): an archive may hold two members of one name.
    """

    __tablename__ = "scan_items"
    __table_args__ = (
        UniqueConstraint("scan_id", "path", "member", name="scan_path_member"),
        CheckConstraint(_in("status", SCAN_ITEM_STATUSES), name="status"),
        CheckConstraint("member >= 0", name="member"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("scans.id"), index=True)
    path: Mapped[str] = mapped_column(String(1024))
    member: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    item_digest: Mapped[str | None] = mapped_column(String(64))
    media_kind: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(8))
    error: Mapped[str | None] = mapped_column(Text)
    scanned_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # The crawl manifest's source of the item (none for a folder, zip or upload).
    source_platform: Mapped[str | None] = mapped_column(String(128))
    source_url: Mapped[str | None] = mapped_column(String(2048))
    first_seen: Mapped[dt.datetime | None] = mapped_column(DateTime)


class EventProposal(Base):
    """A follow-up event proposed by a confirmed flag, for an analyst to accept or reject."""

    __tablename__ = "event_proposals"
    __table_args__ = (CheckConstraint(_in("status", PROPOSAL_STATUSES), name="status"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flag_id: Mapped[int] = mapped_column(ForeignKey("flags.id"), unique=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    proposed_date: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="proposed")
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    reason: Mapped[str | None] = mapped_column(Text)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("recidivism_events.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}


class ExportManifest(Base):
    """Every download of data: who, why, what, how much, and the file's hash."""

    __tablename__ = "export_manifests"
    __table_args__ = (CheckConstraint("rows >= 0", name="rows"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    kind: Mapped[str] = mapped_column(String(32))
    purpose: Mapped[str] = mapped_column(Text)
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    suppression: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    rows: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ReasonText(Base):
    """A free-text reason or decision, encrypted, kept apart from the audit log that points to it.

    The log, which nothing may change, keeps only that a reason was given (its length and hash)
    and this row's id; here the text can be corrected, or erased (`text_enc` NULL, `erased_at`
    set) when it holds what it should not.
    """

    __tablename__ = "reason_texts"
    __table_args__ = (
        CheckConstraint(_in("kind", REASON_KINDS), name="kind"),
        CheckConstraint("(kind = 'sign_off') = (cohort_id IS NOT NULL)", name="cohort"),
        CheckConstraint("(kind = 'sign_off') OR participant_id IS NOT NULL", name="participant"),
        CheckConstraint("(erased_at IS NULL) = (text_enc IS NOT NULL)", name="erased"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    participant_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id"), index=True)
    cohort_id: Mapped[int | None] = mapped_column(ForeignKey("cohorts.id"), index=True)
    text_enc: Mapped[str | None] = mapped_column(Text)
    key_id: Mapped[str | None] = mapped_column(String(16))
    written_by: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    written_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    corrected_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    corrected_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    erased_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    erased_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}


class AccessGrant(Base):
    """Break-glass: a counselor opened a participant outside the caseload, with a reason.

    The reason is kept encrypted in `reason_texts` (`reason_id`); `reason` holds only the plain
    text of a grant made before revision 0004, until `dscr db upgrade` moves it there.
    """

    __tablename__ = "access_grants"
    __table_args__ = (
        CheckConstraint("expires_at > granted_at", name="lifetime"),
        CheckConstraint("reason IS NOT NULL OR reason_id IS NOT NULL", name="reason"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    counselor_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    reason_id: Mapped[int | None] = mapped_column(ForeignKey("reason_texts.id"))
    granted_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Disclosure(Base):
    """A release of a participant's information outside the programme, with its legal basis."""

    __tablename__ = "disclosures"
    __table_args__ = (CheckConstraint(_in("legal_basis", DISCLOSURE_BASES), name="legal_basis"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    recipient: Mapped[str] = mapped_column(String(256))
    legal_basis: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(Text)
    released_on: Mapped[dt.date] = mapped_column(Date)
    recorded_by: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class PartnerToken(Base):
    """An API token the admin issued to a partner platform or hotline for the matching API.

    Only the SHA-256 of the secret is kept (the secret is shown once, when issued); ``scopes`` is
    a space-separated list of `vocab.PARTNER_SCOPES`. A token past ``expires_at`` or with a
    ``revoked_at`` is refused.
    """

    __tablename__ = "partner_tokens"
    __table_args__ = (
        CheckConstraint("expires_at > issued_at", name="lifetime"),
        CheckConstraint("length(token_hash) = 64", name="token_hash"),
        CheckConstraint("scopes <> ''", name="scopes"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner: Mapped[str] = mapped_column(String(64), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(128))
    issued_by: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


# --- prevention education (issue 16) ----------------------------------------------------------

AUDIENCES = vocab.AUDIENCES
EDUCATION_FORMATS = vocab.EDUCATION_FORMATS
INSTITUTION_KINDS = vocab.INSTITUTION_KINDS
SEOUL_DISTRICTS = vocab.SEOUL_DISTRICTS
SURVEY_TIMES = vocab.SURVEY_TIMES


class PreventionProgramme(Base):
    """A prevention-education programme version: its audiences, its format and what it was tailored from."""

    __tablename__ = "prevention_programmes"
    __table_args__ = (
        UniqueConstraint("name", "version", name="uq_prevention_programmes_name_version"),
        CheckConstraint(_in("format", EDUCATION_FORMATS), name="format"),
        CheckConstraint("version >= 1", name="version"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer, default=1)
    audiences: Mapped[list[Any]] = mapped_column(JSON)
    format: Mapped[str] = mapped_column(String(16))
    tailored_from_id: Mapped[int | None] = mapped_column(ForeignKey("prevention_programmes.id"))
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class PreventionDelivery(Base):
    """One class taught once: where (kind of institution, district), to whom (a level), how many; no child."""

    __tablename__ = "prevention_deliveries"
    __table_args__ = (
        CheckConstraint(_in("audience", AUDIENCES), name="audience"),
        CheckConstraint(_in("institution_kind", INSTITUTION_KINDS), name="institution_kind"),
        CheckConstraint(_in("district", SEOUL_DISTRICTS), name="district"),
        CheckConstraint("present BETWEEN 1 AND 500", name="present"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("prevention_programmes.id"), index=True)
    delivered_on: Mapped[dt.date] = mapped_column(Date)
    audience: Mapped[str] = mapped_column(String(24))
    institution_kind: Mapped[str] = mapped_column(String(24))
    district: Mapped[str] = mapped_column(String(24))
    present: Mapped[int] = mapped_column(Integer)
    educator_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class PreventionSurvey(Base):
    """One anonymous answer sheet (pre or post) of a delivery, or the educator's group checklist.

    No identity: at most a pairing code the class made up, meaningful only inside its delivery.
    `score` is the sheet's mean item score as a percentage of the scale's range (0-100), so that
    instruments of different lengths and scales are read on one axis."""

    __tablename__ = "prevention_surveys"
    __table_args__ = (
        UniqueConstraint("delivery_id", "time", "pair_code", name="uq_prevention_surveys_delivery_time_pair"),
        CheckConstraint(_in("time", SURVEY_TIMES), name="time"),
        CheckConstraint("score >= 0 AND score <= 100", name="score"),
        CheckConstraint("satisfaction IS NULL OR satisfaction BETWEEN 1 AND 5", name="satisfaction"),
        CheckConstraint("instrument_version >= 1", name="instrument_version"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("prevention_deliveries.id"), index=True)
    instrument_id: Mapped[str] = mapped_column(String(32))
    instrument_version: Mapped[int] = mapped_column(Integer)
    time: Mapped[str] = mapped_column(String(4))
    pair_code: Mapped[str | None] = mapped_column(String(16))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    score: Mapped[float] = mapped_column(Float)
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    imported_by: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class PreventionReview(Base):
    """A committee member's rating of a prevention programme on one gender-sensitivity indicator."""

    __tablename__ = "prevention_reviews"
    __table_args__ = (
        UniqueConstraint("programme_id", "rater_id", "indicator", "period", name="uq_prevention_reviews_programme_rater"),
        CheckConstraint("score BETWEEN 1 AND 5", name="score"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("prevention_programmes.id"), index=True)
    rater_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    indicator: Mapped[str] = mapped_column(String(64))
    score: Mapped[int] = mapped_column(Integer)
    period: Mapped[str] = mapped_column(String(vocab.PERIOD_MAX_LENGTH))  # vocab.period_kind
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class PreventionRecommendation(Base):
    """What the committee asked for after reviewing a programme, and the version that answers it."""

    __tablename__ = "prevention_recommendations"
    __table_args__ = (
        CheckConstraint("audience IS NULL OR " + _in("audience", AUDIENCES), name="audience"),
        CheckConstraint("format IS NULL OR " + _in("format", EDUCATION_FORMATS), name="format"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("prevention_programmes.id"), index=True)
    period: Mapped[str] = mapped_column(String(vocab.PERIOD_MAX_LENGTH))  # vocab.period_kind
    text: Mapped[str] = mapped_column(Text)
    audience: Mapped[str | None] = mapped_column(String(24))
    format: Mapped[str | None] = mapped_column(String(16))
    recorded_by: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("prevention_programmes.id"))
    answered_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
