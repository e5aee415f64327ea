"""Casework: programmes and cohorts, participants and their identities, caseload assignment,
counseling sessions, break-glass and the disclosure register."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from db import access, audit, reasons
from db.conflicts import changed_since
from db.context import Context
from db.schema import (
    DISCLOSURE_BASES,
    OFFENCE_TYPES,
    PARTICIPANT_STATUSES,
    REFERRAL_SOURCES,
    SEXES,
    Account,
    Case,
    CaseOffence,
    Cohort,
    CounselingSession,
    CounselorAssignment,
    Disclosure,
    Participant,
    ParticipantIdentity,
    Programme,
    utcnow,
)
from errors import Conflict, Message, NotFound, ValidationError

if TYPE_CHECKING:
    import pandas as pd

# --- programmes, participants and identities --------------------------------------------------

def add_programme(ctx: Context, *, name: str, description: str = "") -> int:
    access.require(ctx, "programme.manage")
    with ctx.transaction() as s:
        if s.scalar(select(Programme.id).where(Programme.name == name)) is not None:
            raise Conflict("casework.programme_named_exists_already",
                           "A programme named {name!r} exists already.",
                           name=name)
        p = Programme(name=name, description=description)
        s.add(p)
        s.flush()
        return p.id


def add_cohort(ctx: Context, *, programme_id: int, name: str, start_date: dt.date,
               end_date: dt.date | None = None) -> int:
    access.require(ctx, "programme.manage")
    if end_date is not None and end_date < start_date:
        raise ValidationError("casework.cohort_end_date_before",
                              "Cohort {name!r}: the end date {end_date} is before the start "
                              "{start_date}.",
                              name=name, end_date=end_date, start_date=start_date)
    with ctx.transaction() as s:
        c = Cohort(programme_id=programme_id, name=name, start_date=start_date, end_date=end_date)
        s.add(c)
        s.flush()
        return c.id


@dataclass(frozen=True)
class NewParticipant:
    intake_ref: str                 # the referral number, turned into the study code and not kept
    name: str
    birth_date: dt.date
    sex: str
    cohort_id: int
    enrolled_on: dt.date
    age_at_referral: int
    contact: str | None = None
    guardian_contact: str | None = None
    prior_offences: int = 0
    case_ref: str | None = None
    offence_types: tuple[str, ...] = ()
    offence_date: dt.date | None = None
    referral_date: dt.date | None = None
    referral_source: str = "police"
    # A young person registered after the fact (a caseload brought in from paper records) may
    # have completed, dropped out or transferred already; then `ended_on` says when.
    status: str = "active"
    ended_on: dt.date | None = None


def _check_new_participant(p: NewParticipant, today: dt.date) -> None:
    if not p.intake_ref.strip():
        raise ValidationError("casework.intake_reference_empty_study",
                              "The intake reference is empty; the study code is derived from it.")
    if not p.name.strip():
        raise ValidationError("casework.participant_name_empty",
                              "The participant's name is empty.")
    if p.sex not in SEXES:
        raise ValidationError("casework.sex_one",
                              "sex must be one of {sexes}, got {p_sex!r}.",
                              sexes=', '.join(SEXES), p_sex=p.sex)
    if not 5 <= p.age_at_referral <= 24:
        raise ValidationError("casework.age_referral",
                              "age at referral must be 5..24, got {p_age_at_referral}.",
                              p_age_at_referral=p.age_at_referral)
    if p.prior_offences < 0:
        raise ValidationError("casework.prior_offences_more",
                              "prior offences must be 0 or more, got {p_prior_offences}.",
                              p_prior_offences=p.prior_offences)
    for t in p.offence_types:
        if t not in OFFENCE_TYPES:
            raise ValidationError("casework.offence_type_not_taxonomy",
                                  "offence type {t!r} is not in the taxonomy: {offence_types}.",
                                  t=t, offence_types=', '.join(OFFENCE_TYPES))
    if p.referral_source not in REFERRAL_SOURCES:
        raise ValidationError(
            "casework.referral_source_not_one",
            "referral source {p_referral_source!r} is not one of {referral_sources}.",
            p_referral_source=p.referral_source, referral_sources=', '.join(REFERRAL_SOURCES))
    referred = p.referral_date or p.enrolled_on  # as the case is stored
    if p.offence_date and referred < p.offence_date:
        raise ValidationError(
            "casework.referral_date_before_offence",
            "The referral date {p_referral_date} is before the offence date {p_offence_date}.",
            p_referral_date=referred, p_offence_date=p.offence_date)
    if p.status not in PARTICIPANT_STATUSES:
        raise ValidationError("casework.status_unknown",
                              "status must be one of {choices}, got {status!r}.",
                              choices=", ".join(PARTICIPANT_STATUSES), status=p.status)
    if p.status == "active" and p.ended_on is not None:
        raise ValidationError(
            "casework.active_with_end_date",
            "An active participant has no end date (got {ended}); give the status they ended "
            "with (completed, dropped_out or transferred), or leave the end date out.",
            ended=p.ended_on)
    if p.status != "active" and p.ended_on is None:
        raise ValidationError(
            "casework.ended_without_date",
            "A participant whose status is {status} needs the day it happened as the end date.",
            status=p.status)
    if p.ended_on is not None and not p.enrolled_on <= p.ended_on <= today:
        raise ValidationError(
            "casework.end_date_range",
            "The end date {ended} must fall between enrolment ({enrolled}) and today ({today}).",
            ended=p.ended_on, enrolled=p.enrolled_on, today=today)


def register_participant(ctx: Context, new: NewParticipant, *, counselor_id: int | None = None
                         ) -> int:
    """Register a young person: a research record under a study code, identity encrypted apart."""
    return register_participants(ctx, [new], counselor_ids=[counselor_id])[0]


def enrol(ctx: Context, new: NewParticipant, *, counselor_id: int | None = None) -> str:
    """`register_participant` for one young person at intake; returns the study code under which
    the record is kept (the intake reference itself is not kept)."""
    pid = register_participant(ctx, new, counselor_id=counselor_id)
    return ctx.session.get(Participant, pid).study_code


def intake_choices(ctx: Context) -> tuple[pd.DataFrame, list[tuple[int, str]]]:
    """What an intake form offers: the cohorts (cohort_id, programme, cohort, start_date, end_date;
    open ones first) and the active counselors (id, username) a new participant can be given to."""
    import pandas as pd

    access.require(ctx, "participant.create")
    with ctx.transaction() as s:
        rows = s.execute(select(Cohort.id, Programme.name, Cohort.name, Cohort.start_date,
                                Cohort.end_date).join(Programme, Cohort.programme_id == Programme.id)
                         .order_by(Cohort.start_date.desc(), Programme.name, Cohort.name)).all()
        counselors = s.execute(select(Account.id, Account.username).where(
            Account.role == "counselor", Account.active.is_(True)).order_by(Account.username)).all()
    cohorts = pd.DataFrame(rows, columns=["cohort_id", "programme", "cohort", "start_date", "end_date"])
    open_first = cohorts["end_date"].isna() | (cohorts["end_date"] >= ctx.today)
    cohorts = pd.concat([cohorts[open_first], cohorts[~open_first]], ignore_index=True)
    return cohorts, [(int(i), str(u)) for i, u in counselors]


def register_participants(ctx: Context, news: Sequence[NewParticipant], *,
                          counselor_ids: Sequence[int | None] | None = None) -> list[int]:
    """Register many young people at once (a caseload brought in, the demo): all or none.

    Every one is checked by the same rules as a single registration before anything is written;
    the first that breaks one is named by its position. `counselor_ids[i]` is the counselor
    assigned to `news[i]` (None: the acting counselor, or nobody).
    """
    access.require(ctx, "participant.create")
    owners = list(counselor_ids) if counselor_ids is not None else [None] * len(news)
    if len(owners) != len(news):
        raise ValueError("counselor_ids must have one entry per participant")
    for i, new in enumerate(news, start=1):
        try:
            _check_new_participant(new, ctx.today)
        except ValidationError as exc:
            if len(news) == 1:
                raise
            raise ValidationError("casework.batch_row", "participant {row} of {count}: {problem}",
                                  row=i, count=len(news), problem=exc.message) from None
    owners = [o if o is not None else (ctx.actor.id if ctx.actor.role == "counselor" else None)
              for o in owners]
    keyring = ctx.keyring
    codes = [ctx.study_coder.code(new.intake_ref.strip()) for new in news]
    with ctx.transaction() as s:
        counselors = {o for o in owners if o is not None}
        active = set(s.scalars(select(Account.id).where(
            Account.id.in_(counselors), Account.role == "counselor", Account.active.is_(True))))
        not_counselors = sorted(counselors - active)
        if not_counselors:
            raise ValidationError("casework.account_not_active_counselor",
                                  "Account {counselor_id} is not an active counselor.",
                                  counselor_id=not_counselors[0])
        taken: set[str] = set()
        for start in range(0, len(codes), 500):
            taken |= set(s.scalars(select(Participant.study_code).where(
                Participant.study_code.in_(codes[start:start + 500]))))
        seen: set[str] = set()
        for code in codes:
            if code in taken or code in seen:
                raise Conflict("casework.intake_reference_registered_already",
                               "This intake reference is registered already (study code {code}).",
                               code=code)
            seen.add(code)
        parts = [Participant(study_code=code, cohort_id=new.cohort_id, sex=new.sex,
                             age_at_referral=new.age_at_referral,
                             prior_offences=new.prior_offences, enrolled_on=new.enrolled_on,
                             status=new.status, ended_on=new.ended_on)
                 for code, new in zip(codes, news, strict=True)]
        s.add_all(parts)
        s.flush()  # one flush per table: each costs an audit append
        for part, new, owner in zip(parts, news, owners, strict=True):
            s.add(ParticipantIdentity(
                participant_id=part.id, name_enc=keyring.encrypt(new.name),
                birth_date_enc=keyring.encrypt(new.birth_date.isoformat()),
                contact_enc=keyring.encrypt(new.contact),
                guardian_contact_enc=keyring.encrypt(new.guardian_contact),
                key_id=keyring.primary_id,
            ))
            if new.case_ref:
                referred = new.referral_date or new.enrolled_on
                case = Case(case_ref=new.case_ref, participant_id=part.id,
                            # Not known: no later than the referral (the store CHECKs the order).
                            offence_date=new.offence_date or referred,
                            referral_date=referred, referral_source=new.referral_source)
                case.offences = [CaseOffence(offence_type=t) for t in new.offence_types]
                s.add(case)
            if owner is not None:
                s.add(CounselorAssignment(counselor_id=owner, participant_id=part.id,
                                          start_date=new.enrolled_on))
        s.flush()
        return [p.id for p in parts]


@dataclass(frozen=True)
class Identity:
    participant_id: int
    study_code: str
    name: str
    birth_date: str
    contact: str | None
    guardian_contact: str | None


def participant_identity(ctx: Context, participant_id: int) -> Identity:
    """Decrypt a participant's identifying fields for their counselor; the read is audited."""
    part = access.access_participant(ctx, participant_id, "participant.identify")
    with ctx.transaction() as s:
        ident = s.get(ParticipantIdentity, participant_id)
        if ident is None or ident.erased_at is not None:
            raise NotFound("casework.identity_participant_erased",
                           "The identity of participant {part_study_code} was erased.",
                           part_study_code=part.study_code)
        dec = lambda tok, f: ctx.decrypt(tok, table="participant_identities",
                                         row_id=participant_id, field_name=f,
                                         participant_id=participant_id)
        return Identity(participant_id, part.study_code, dec(ident.name_enc, "name"),
                        dec(ident.birth_date_enc, "birth_date"), dec(ident.contact_enc, "contact"),
                        dec(ident.guardian_contact_enc, "guardian_contact"))


def reidentify(ctx: Context, study_code: str, *, reason: str) -> Identity:
    """Re-identification of a study code: an admin's separate act, with a reason, audited."""
    access.require(ctx, "participant.reidentify")
    if len(reason.strip()) < 10:
        raise ValidationError("casework.give_reason_re_identification",
                              "Give the reason for re-identification (at least 10 characters); "
                              "it is kept, encrypted, for the admin's access review.")
    _guard_text(reason, "re-identification reason")
    with ctx.transaction() as s:
        part = s.scalars(select(Participant).where(Participant.study_code == study_code)).one_or_none()
        if part is None:
            raise NotFound("casework.no_participant_study_code",
                           "No participant with study code {study_code!r}.",
                           study_code=study_code)
        ident = s.get(ParticipantIdentity, part.id)
        if ident is None or ident.erased_at is not None:
            raise NotFound("casework.identity_erased",
                           "The identity of {study_code} was erased.",
                           study_code=study_code)
        # The text is kept encrypted in reason_texts; the log keeps its length, hash and row.
        kept = reasons.keep(ctx, "reidentify", reason.strip(), participant_id=part.id)
        audit.record(s, "reidentify", table_name="participants", row_id=part.id,
                     subject_participant_id=part.id,
                     detail=audit.about_text("reason", reason.strip(), kept_as=kept))
        dec = lambda tok, f: ctx.decrypt(tok, table="participant_identities",
                                         row_id=part.id, field_name=f, participant_id=part.id)
        return Identity(part.id, part.study_code, dec(ident.name_enc, "name"),
                        dec(ident.birth_date_enc, "birth_date"), dec(ident.contact_enc, "contact"),
                        dec(ident.guardian_contact_enc, "guardian_contact"))


def assign_counselor(ctx: Context, *, counselor_id: int, participant_id: int,
                     start_date: dt.date) -> int:
    access.require(ctx, "assignment.manage")
    with ctx.transaction() as s:
        acc = s.get(Account, counselor_id)
        if acc is None or acc.role != "counselor" or not acc.active:
            raise ValidationError("casework.account_not_active_counselor",
                                  "Account {counselor_id} is not an active counselor.",
                                  counselor_id=counselor_id)
        if s.get(Participant, participant_id) is None:
            raise NotFound("casework.no_participant",
                           "No participant {participant_id}.",
                           participant_id=participant_id)
        a = CounselorAssignment(counselor_id=counselor_id, participant_id=participant_id,
                                start_date=start_date)
        s.add(a)
        s.flush()
        return a.id


def current_assignments(ctx: Context, as_of: dt.date | None = None) -> list[tuple[str, str | None, dt.date | None]]:
    """Each participant's counselor on a date, for the admin's caseload table: (study code,
    counselor's username or None, assigned since), by study code. No names."""
    access.require(ctx, "assignment.manage")
    day = as_of or ctx.today
    rows = ctx.session.execute(
        select(Participant.study_code, Account.username, CounselorAssignment.start_date)
        .outerjoin(CounselorAssignment,
                   (CounselorAssignment.participant_id == Participant.id)
                   & (CounselorAssignment.start_date <= day)
                   & ((CounselorAssignment.end_date.is_(None)) | (CounselorAssignment.end_date >= day)))
        .outerjoin(Account, Account.id == CounselorAssignment.counselor_id)
        .order_by(Participant.study_code)).all()
    ctx.session.rollback()
    return [(code, name, since) for code, name, since in rows]


def transfer_participant(ctx: Context, study_code: str, *, to_counselor: str, on: dt.date,
                         reason: str) -> int:
    """Move a young person to another counselor from `on`: the current assignment ends the day
    before, a new one starts that day; the reason is kept encrypted for the admin's access review.
    Returns the new assignment's id. The counselor they leave no longer sees them from `on`."""
    access.require(ctx, "assignment.manage")
    why = (reason or "").strip()
    if len(why) < 10:
        raise ValidationError("casework.give_reason_transfer",
                              "Give the reason for the transfer (at least 10 characters); it is "
                              "kept, encrypted, for the admin's access review.")
    _guard_text(why, "transfer reason")
    with ctx.transaction() as s:
        part = s.scalars(select(Participant).where(Participant.study_code == study_code.strip())
                         ).one_or_none()
        if part is None:
            raise NotFound("casework.no_participant_study_code",
                           "No participant with study code {study_code!r}.",
                           study_code=study_code.strip())
        to = s.scalars(select(Account).where(Account.username == to_counselor)).one_or_none()
        if to is None or to.role != "counselor" or not to.active:
            raise ValidationError("casework.transfer_to_counselor",
                                  "{username} is not an active counselor.", username=to_counselor)
        current = list(s.scalars(select(CounselorAssignment).where(
            CounselorAssignment.participant_id == part.id,
            (CounselorAssignment.end_date.is_(None)) | (CounselorAssignment.end_date >= on))))
        if any(a.counselor_id == to.id for a in current):
            raise Conflict("casework.transfer_same_counselor",
                           "{study_code} is {username}'s already.", study_code=part.study_code,
                           username=to_counselor)
        for a in current:
            if a.start_date >= on:
                raise Conflict("casework.transfer_before_start",
                               "{study_code}'s current assignment starts on {start}; a transfer "
                               "takes effect after it.", study_code=part.study_code,
                               start=a.start_date)
            a.end_date = on - dt.timedelta(days=1)
        new = CounselorAssignment(counselor_id=to.id, participant_id=part.id, start_date=on)
        s.add(new)
        s.flush()
        kept = reasons.keep(ctx, "transfer", why, participant_id=part.id)
        audit.record(s, "transfer", table_name="counselor_assignments", row_id=new.id,
                     subject_participant_id=part.id,
                     detail=audit.about_text("reason", why, kept_as=kept))
        return new.id


@dataclass(frozen=True)
class CaseloadRow:
    participant_id: int
    study_code: str
    cohort: str
    programme: str
    enrolled_on: dt.date
    status: str


def my_caseload(ctx: Context) -> list[CaseloadRow]:
    stmt = access.scoped_participants(ctx).join(Cohort, Participant.cohort_id == Cohort.id).join(
        Programme, Cohort.programme_id == Programme.id).add_columns(
        Cohort.name, Programme.name).order_by(Participant.enrolled_on, Participant.id)
    return [CaseloadRow(p.id, p.study_code, c, prog, p.enrolled_on, p.status)
            for p, c, prog in ctx.session.execute(stmt)]


# --- break-glass and the monthly access review ------------------------------------------------

BREAK_GLASS_HOURS = 8


def break_glass(ctx: Context, participant_id: int, *, reason: str) -> int:
    """Open a participant outside the caseload, for a stated reason; logged and reviewed monthly."""
    from db.schema import AccessGrant

    access.require(ctx, "participant.break_glass")
    if len(reason.strip()) < 10:
        raise ValidationError("casework.say_why_you_open",
                              "Say why you must open this record (at least 10 characters); the "
                              "reason goes to the monthly access review.")
    _guard_text(reason, "break-glass reason")
    with ctx.transaction() as s:
        if s.get(Participant, participant_id) is None:
            raise NotFound("casework.no_participant_your_caseload",
                           "No participant {participant_id} in your caseload.",
                           participant_id=participant_id)
        now = utcnow()
        # The reason is kept encrypted in reason_texts, read (with a record) by the access
        # review; the log keeps its length, hash and row.
        kept = reasons.keep(ctx, "break_glass", reason.strip(), participant_id=participant_id)
        grant = AccessGrant(counselor_id=ctx.actor.id, participant_id=participant_id,
                            reason_id=kept, granted_at=now,
                            expires_at=now + dt.timedelta(hours=BREAK_GLASS_HOURS))
        s.add(grant)
        s.flush()
        audit.record(s, "break_glass", table_name="participants", row_id=participant_id,
                     subject_participant_id=participant_id,
                     detail=audit.about_text("reason", reason.strip(), kept_as=kept))
        return grant.id


# --- counseling sessions ---------------------------------------------------------------------

_THIS_SESSION = Message("casework.this_session", "This session")


@dataclass(frozen=True)
class SessionRecord:
    id: int
    session_date: dt.date
    minutes: int
    modality: str
    attendance: str
    topics: tuple[str, ...]
    has_notes: bool
    version: int


def _check_session(session_date: dt.date, minutes: int, modality: str, attendance: str,
                   today: dt.date) -> None:
    from db.schema import ATTENDANCE, MODALITIES

    if not 1 <= minutes <= 480:
        raise ValidationError("casework.minutes",
                              "minutes must be 1..480, got {minutes}.",
                              minutes=minutes)
    if modality not in MODALITIES:
        raise ValidationError("casework.modality_one",
                              "modality must be one of {modalities}, got {modality!r}.",
                              modalities=', '.join(MODALITIES), modality=modality)
    if attendance not in ATTENDANCE:
        raise ValidationError("casework.attendance_one",
                              "attendance must be one of {attendance}, got {attendance_2!r}.",
                              attendance=', '.join(ATTENDANCE), attendance_2=attendance)
    if session_date > today:
        raise ValidationError("casework.session_date_future",
                              "The session date {session_date} is in the future.",
                              session_date=session_date)


def _guard_notes(notes: str | None) -> None:
    """Victims' identities are never written down (Youth Sex Protection Act Art. 31)."""
    _guard_text(notes, "note")


def _guard_text(text: str | None, field: str) -> None:
    from casework.notes_guard import check_note

    check_note(text, field=field)


def record_session(ctx: Context, *, participant_id: int, session_date: dt.date, minutes: int,
                   modality: str, attendance: str, topics: tuple[str, ...] = (),
                   notes: str | None = None) -> int:
    part = access.access_participant(ctx, participant_id, "session.record")
    _check_session(session_date, minutes, modality, attendance, ctx.today)
    if session_date < part.enrolled_on:
        raise ValidationError("casework.session_date_before_enrolment",
                              "The session date {session_date} is before enrolment "
                              "({part_enrolled_on}).",
                              session_date=session_date, part_enrolled_on=part.enrolled_on)
    _guard_notes(notes)
    with ctx.transaction() as s:
        row = CounselingSession(participant_id=participant_id, counselor_id=ctx.actor.id,
                                session_date=session_date, minutes=minutes, modality=modality,
                                attendance=attendance, topics=list(topics),
                                notes_enc=ctx.keyring.encrypt(notes or None), created_by=ctx.actor.id)
        s.add(row)
        s.flush()
        return row.id


@dataclass(frozen=True)
class NewSession:
    participant_id: int
    session_date: dt.date
    minutes: int
    modality: str
    attendance: str
    topics: tuple[str, ...] = ()
    notes: str | None = None


def record_sessions(ctx: Context, sessions: Sequence[NewSession]) -> list[int]:
    """Record many sessions of the acting counselor's caseload at once (the demo, a paper log): all or none.

    The same checks as `record_session`, each session named by its position when it breaks one;
    a participant outside the caseload gets the same "not found" as one that does not exist.
    """
    access.require(ctx, "session.record")
    ids = sorted({x.participant_id for x in sessions})
    enrolled: dict[int, dt.date] = {}
    for start in range(0, len(ids), 500):
        stmt = access.scoped_participants(ctx, "session.record").where(
            Participant.id.in_(ids[start:start + 500]))
        enrolled |= {p.id: p.enrolled_on for p in ctx.session.scalars(stmt)}
    for i, x in enumerate(sessions, start=1):
        try:
            if x.participant_id not in enrolled:
                raise NotFound("db.no_participant_your_caseload",
                               "No participant {participant_id} in your caseload.",
                               participant_id=x.participant_id)
            _check_session(x.session_date, x.minutes, x.modality, x.attendance, ctx.today)
            if x.session_date < enrolled[x.participant_id]:
                raise ValidationError("casework.session_date_before_enrolment",
                                      "The session date {session_date} is before enrolment "
                                      "({part_enrolled_on}).", session_date=x.session_date,
                                      part_enrolled_on=enrolled[x.participant_id])
            _guard_notes(x.notes)
        except (ValidationError, NotFound) as exc:
            if len(sessions) == 1:
                raise
            if isinstance(exc, NotFound):
                raise NotFound("casework.batch_session", "session {row} of {count}: {problem}",
                               row=i, count=len(sessions), problem=exc.message) from None
            raise ValidationError("casework.batch_session", "session {row} of {count}: {problem}",
                                  row=i, count=len(sessions), problem=exc.message) from None
    with ctx.transaction() as s:
        rows = [CounselingSession(participant_id=x.participant_id, counselor_id=ctx.actor.id,
                                  session_date=x.session_date, minutes=x.minutes,
                                  modality=x.modality, attendance=x.attendance,
                                  topics=list(x.topics),
                                  notes_enc=ctx.keyring.encrypt(x.notes or None),
                                  created_by=ctx.actor.id)
                for x in sessions]
        s.add_all(rows)
        s.flush()
        return [r.id for r in rows]


def update_session(ctx: Context, session_id: int, *, expected_version: int, **changes) -> int:
    """Edit a session; a save based on a stale version raises Conflict naming who changed it."""
    from sqlalchemy.orm.exc import StaleDataError

    row = access.access_record(ctx, CounselingSession, session_id, "session.record",
                               _no_session(session_id))
    with ctx.transaction() as s:
        if row.version != expected_version:
            raise changed_since(s, "counseling_sessions", row.id, _THIS_SESSION,
                                expected=expected_version, actual=row.version)
        notes = changes.pop("notes", None)
        for key, value in changes.items():
            if key not in {"session_date", "minutes", "modality", "attendance", "topics"}:
                raise ValidationError("casework.session_no_field",
                                      "A session has no field {key!r}.",
                                      key=key)
            setattr(row, key, list(value) if key == "topics" else value)
        _check_session(row.session_date, row.minutes, row.modality, row.attendance, ctx.today)
        if notes is not None:
            _guard_notes(notes)
            row.notes_enc = ctx.keyring.encrypt(notes or None)
        row.updated_by, row.updated_at = ctx.actor.id, utcnow()
        try:
            s.flush()
        except StaleDataError:
            s.rollback()
            raise changed_since(ctx.session, "counseling_sessions", session_id, _THIS_SESSION,
                                expected=expected_version) from None
        return row.version


def list_sessions(ctx: Context, participant_id: int) -> list[SessionRecord]:
    access.access_participant(ctx, participant_id, "session.read")
    rows = ctx.session.scalars(select(CounselingSession).where(
        CounselingSession.participant_id == participant_id).order_by(CounselingSession.session_date))
    return [SessionRecord(r.id, r.session_date, r.minutes, r.modality, r.attendance, tuple(r.topics),
                          r.notes_enc is not None, r.version) for r in rows]


def sessions_between(ctx: Context, start: dt.date, end: dt.date) -> pd.DataFrame:
    """The caseload's sessions held from `start` to `end` (both included), by date: the week's
    work on a counselor's home page. Columns: participant_id (kept on the server), study_code,
    session_date, minutes, modality, attendance. No notes."""
    import pandas as pd

    if start > end:
        raise ValidationError("casework.period_backwards",
                              "The period starts ({start}) after it ends ({end}).",
                              start=start, end=end)
    scoped = access.scoped_participants(ctx, "session.read").with_only_columns(Participant.id)
    rows = ctx.session.execute(
        select(CounselingSession.participant_id, Participant.study_code,
               CounselingSession.session_date, CounselingSession.minutes,
               CounselingSession.modality, CounselingSession.attendance)
        .join(Participant, Participant.id == CounselingSession.participant_id)
        .where(CounselingSession.participant_id.in_(scoped),
               CounselingSession.session_date.between(start, end))
        .order_by(CounselingSession.session_date, CounselingSession.id)).all()
    ctx.session.rollback()
    return pd.DataFrame(rows, columns=["participant_id", "study_code", "session_date", "minutes",
                                       "modality", "attendance"])


def _no_session(session_id: int) -> NotFound:
    # One error for a session that does not exist and one of a participant outside the caseload.
    return NotFound("casework.no_session", "No session {session_id} in your caseload.",
                    session_id=session_id)


def session_notes(ctx: Context, session_id: int) -> str | None:
    row = access.access_record(ctx, CounselingSession, session_id, "session.read",
                               _no_session(session_id))
    with ctx.transaction():
        return ctx.decrypt(row.notes_enc, table="counseling_sessions", row_id=session_id,
                           field_name="notes", participant_id=row.participant_id)


def break_glass_by_code(ctx: Context, study_code: str, *, reason: str) -> int:
    """Break-glass by study code (what a counselor is told by a colleague); returns the participant id."""
    access.require(ctx, "participant.break_glass")
    pid = ctx.session.scalar(select(Participant.id).where(Participant.study_code == study_code.strip()))
    if pid is None:
        raise NotFound("casework.no_participant_study_code",
                       "No participant with study code {study_code!r}.",
                       study_code=study_code.strip())
    break_glass(ctx, pid, reason=reason)
    return pid


# --- the disclosure register (Juvenile Act Art. 70) -----------------------------------------
# Every release of a participant's information outside the programme. The Juvenile Act allows
# such a release only on a few legal bases; a release on any other basis is refused, and each
# one that is made is recorded and listed.

@dataclass(frozen=True)
class DisclosureView:
    id: int
    participant_id: int
    study_code: str
    recipient: str
    legal_basis: str
    purpose: str
    released_on: dt.date
    recorded_by: str
    recorded_at: dt.datetime


def record_disclosure(ctx: Context, *, participant_id: int, recipient: str, legal_basis: str,
                      purpose: str, released_on: dt.date) -> int:
    """Record a release; refused unless its legal basis is one the Juvenile Act allows."""
    access.require(ctx, "disclosure.record")
    if legal_basis not in DISCLOSURE_BASES:
        raise ValidationError(
            "casework.release_basis_not_allowed",
            "A release on the basis {legal_basis!r} is not allowed: the Juvenile Act (Art. 70) "
            "permits only {disclosure_bases}. Without one of these bases the information may "
            "not leave the programme.",
            legal_basis=legal_basis, disclosure_bases=', '.join(DISCLOSURE_BASES)
        )
    recipient = (recipient or "").strip()
    purpose = (purpose or "").strip()
    if not recipient:
        raise ValidationError("casework.name_recipient_release_office",
                              "Name the recipient of the release (an office, not a person's "
                              "contact).")
    if len(recipient) > 256:
        raise ValidationError("casework.recipient_characters_long_most",
                              "The recipient is {n_recipient} characters long; 256 at most.",
                              n_recipient=len(recipient))
    if len(purpose) < 10:
        raise ValidationError("casework.state_purpose_release_least",
                              "State the purpose of the release (at least 10 characters); it is "
                              "kept in the register.")
    _guard_text(recipient, "disclosure recipient")
    _guard_text(purpose, "disclosure purpose")
    if not isinstance(released_on, dt.date) or isinstance(released_on, dt.datetime):
        raise ValidationError("casework.released_date",
                              "released_on must be a date, got {released_on!r}.",
                              released_on=released_on)
    if released_on > ctx.today:
        raise ValidationError(
            "casework.release_date_future_today",
            "The release date {released_on} is in the future (today is {today}); record a "
            "release when it is made.",
            released_on=released_on, today=ctx.today)
    access.access_participant(ctx, participant_id, "disclosure.record")
    with ctx.transaction() as s:
        row = Disclosure(participant_id=participant_id, recipient=recipient, legal_basis=legal_basis,
                         purpose=purpose, released_on=released_on, recorded_by=ctx.actor.id)
        s.add(row)
        s.flush()
        return row.id


def list_disclosures(ctx: Context, *, participant_id: int | None = None) -> list[DisclosureView]:
    """The register, newest release first."""
    access.require(ctx, "disclosure.read")
    stmt = (select(Disclosure, Participant.study_code, Account.username)
            .join(Participant, Disclosure.participant_id == Participant.id)
            .join(Account, Disclosure.recorded_by == Account.id)
            .order_by(Disclosure.released_on.desc(), Disclosure.id.desc()))
    if participant_id is not None:
        stmt = stmt.where(Disclosure.participant_id == participant_id)
    with ctx.transaction() as s:
        return [DisclosureView(d.id, d.participant_id, code, d.recipient, d.legal_basis, d.purpose,
                               d.released_on, who, d.recorded_at)
                for d, code, who in s.execute(stmt)]
