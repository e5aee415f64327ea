"""Recidivism use cases: follow-up windows and events, the pseudonymised analysis frames, survival
analyses and risk models stored with their cards.

Analysts see study codes only: nothing here reads `participant_identities`, and no output holds a
name, contact or birth date. Age at offence is therefore approximated from the age at referral and
the days between offence and referral, never from a birth date.

Stored risk models keep their card and their parameters (JSON), never the rows they were fitted
on. A fitted model is a draft: it predicts for a young person only once a second person (a
committee member or an admin, not its fitter) approved it after reading its card, with a reason,
every warning acknowledged and the gates of `models.approval` passed; it stops when withdrawn. A
prediction is made from the stored coefficients, scaler and category levels only (exactly what the
fitted pipeline computes; nothing is refitted, and a model that could not predict that way, such as
gradient boosting whose trees are not kept, is never approved), with a model of the landmark the
young person has reached (`models.landmarks`): the planning model once the planning step is
signed, the conclusion model once the programme ended; features known later are never used.
Nothing is pickled into the database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit
from sqlalchemy import Select, func, select, true
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from db import access, audit
from db.conflicts import changed_since
from db.context import Context
from db.engine import read_frame
from db.schema import (
    RECIDIVISM_SOURCES,
    RECIDIVISM_TYPES,
    Account,
    Assessment,
    AssessmentScore,
    Case,
    CaseOffence,
    Cohort,
    CounselingSession,
    EventProposal,
    Flag,
    FollowUp,
    Participant,
    Programme,
    RecidivismEvent,
    RiskModel,
    utcnow,
)
import vocab
from errors import Conflict, Message, NotFound, PermissionDenied, ValidationError, joined
from db.steps import current_steps
from models import approval, change_cox, frames, landmarks, survival
from models.cards import ModelCard, build_card, message_of
from models.competing import CumulativeIncidenceResult, cumulative_incidence
from models.risk import DEFAULT_HORIZON, CalibrationTable, LogisticRisk, get_model, validate
from models.validation import check_columns

DOMAINS = vocab.DOMAINS
ATTENDED = vocab.ATTENDED
COUNTED_ASSESSMENTS = ("final", "locked")
# The conclusion landmark's default features (models.landmarks.DEFAULT_FEATURES has both).
DEFAULT_FEATURES = landmarks.DEFAULT_FEATURES[vocab.CONCLUSION]
FAIRNESS_GROUPS = ("age_band", "offence_group", "programme", "sex")
KM_GROUPS = ("programme", "cohort", "sex", "completed", "age_band", "offence_group",
             "first_event_source")
# Event types coded for the competing-risks estimator: 0 is censored, then the schema's order.
EVENT_TYPE_CODES = {name: i + 1 for i, name in enumerate(RECIDIVISM_TYPES)}
MIN_REASON = 5


# ---------------------------------------------------------------- follow-up windows and events


def _window_text(fu: FollowUp) -> Message:
    return Message("models.window", "{start} to {end}", start=fu.start_date.isoformat(),
                   end=fu.end_date.isoformat())


_FOLLOW_UP_WINDOW = Message("models.the_follow_up_window", "The follow-up window")


def record_follow_up(ctx: Context, *, participant_id: int, start_date: dt.date,
                     end_date: dt.date) -> int:
    """Record a participant's follow-up window, or move its end to the last check.

    The window starts at programme end or drop-out (on or after the participant's end date) and
    ends at the last check (not after today). A participant has one window: recording again with
    the same start moves the end; a different start is refused. Returns the follow-up id.
    """
    access.require(ctx, "followup.record")
    fu_id = None
    try:
        with ctx.transaction() as s:
            # Read and checked inside the transaction, so a refusal leaves no transaction open.
            part = access.access_participant(ctx, participant_id, "followup.record")
            code = part.study_code
            if end_date < start_date:
                raise ValidationError(
                    "models.follow_up_would_end",
                    "The follow-up of {code} would end on {end_date}, before it starts on "
                    "{start_date}; the end is the date of the last check.",
                    code=code, end_date=end_date.isoformat(), start_date=start_date.isoformat())
            if end_date > ctx.today:
                raise ValidationError(
                    "models.follow_up_ends_after",
                    "The follow-up of {code} ends on {end_date}, after today ({today}); the end "
                    "is the date of the last check made.",
                    code=code, end_date=end_date.isoformat(), today=ctx.today.isoformat())
            if part.ended_on is None:
                raise ValidationError(
                    "models.not_ended_programme_status",
                    "{code} has not ended the programme (status {part_status}); follow-up "
                    "starts at programme end or drop-out, so record that first.",
                    code=code, part_status=part.status)
            if start_date < part.ended_on:
                raise ValidationError(
                    "models.follow_up_would_start",
                    "The follow-up of {code} would start on {start_date}, before the programme "
                    "ended for them on {part_ended_on}; start it on or after that date.",
                    code=code, start_date=start_date.isoformat(),
                    part_ended_on=part.ended_on.isoformat())
            fu = s.scalars(
                select(FollowUp).where(FollowUp.participant_id == participant_id)).first()
            if fu is None:
                fu = FollowUp(participant_id=participant_id, start_date=start_date,
                              end_date=end_date)
                s.add(fu)
                s.flush()
                return fu.id
            fu_id = fu.id
            if fu.start_date != start_date:
                raise Conflict(
                    "models.follow_up_window_already",
                    "{code} has a follow-up window already ({window_text}); a new check moves "
                    "its end, so give its start {fu_start_date}.",
                    code=code, window_text=_window_text(fu),
                    fu_start_date=fu.start_date.isoformat())
            last_event = s.scalar(select(func.max(RecidivismEvent.event_date))
                                  .where(RecidivismEvent.follow_up_id == fu.id))
            if last_event is not None and end_date < last_event:
                raise ValidationError(
                    "models.follow_up_end_event",
                    "The follow-up of {code} cannot end on {end_date}: an event is recorded on "
                    "{last_event}, inside the window.",
                    code=code, end_date=end_date.isoformat(), last_event=last_event.isoformat())
            fu.end_date = end_date
            s.flush()
            return fu.id
    except StaleDataError:
        raise changed_since(ctx.session, "follow_ups", fu_id, _FOLLOW_UP_WINDOW) from None


def _check_event_fields(event_type: str, source: str) -> None:
    if event_type not in RECIDIVISM_TYPES:
        raise ValidationError(
            "models.event_type_not_one",
            "event type {event_type!r} is not one of {recidivism_types}.",
            event_type=event_type, recidivism_types=', '.join(RECIDIVISM_TYPES))
    if source not in RECIDIVISM_SOURCES:
        raise ValidationError("models.source_not_one",
                              "source {source!r} is not one of {recidivism_sources}.",
                              source=source, recidivism_sources=', '.join(RECIDIVISM_SOURCES))


def _window_of(s: Session, part: Participant) -> FollowUp:
    """The participant's follow-up window, which an event needs (ValidationError without one)."""
    fu = s.scalars(select(FollowUp).where(FollowUp.participant_id == part.id)).first()
    if fu is None:
        raise ValidationError(
            "models.no_follow_up_window",
            "{part_study_code} has no follow-up window; record one (start at programme end or "
            "drop-out) before recording an event.",
            part_study_code=part.study_code)
    return fu


def _extend_window(ctx: Context, s: Session, part: Participant, end: dt.date,
                   event_date: dt.date) -> None:
    """Move the follow-up window's end later, to `end` (a check made, not after today), so that
    an event on `event_date` falls inside it; inside the caller's transaction."""
    fu = _window_of(s, part)
    if end > ctx.today:
        raise ValidationError(
            "models.follow_up_ends_after",
            "The follow-up of {code} ends on {end_date}, after today ({today}); the end "
            "is the date of the last check made.",
            code=part.study_code, end_date=end.isoformat(), today=ctx.today.isoformat())
    if end < event_date or end < fu.end_date:
        raise ValidationError(
            "models.window_end_too_early",
            "The follow-up of {code} can be moved to end on {end_date} only if that is on or "
            "after the event ({event_date}) and its present end ({fu_end}).",
            code=part.study_code, end_date=end.isoformat(), event_date=event_date.isoformat(),
            fu_end=fu.end_date.isoformat())
    fu.end_date = end
    s.flush()


def _add_event(ctx: Context, s: Session, part: Participant, event_date: dt.date, event_type: str,
               source: str) -> RecidivismEvent:
    """Add an event inside the participant's follow-up window (checked here, with the dates)."""
    fu = _window_of(s, part)
    if event_date < fu.start_date:
        raise ValidationError(
            "models.event_before_follow_up",
            "The event of {part_study_code} on {event_date} is before the follow-up starts "
            "({fu_start_date}); events during the programme are not reoffending after it. Check "
            "the date.",
            part_study_code=part.study_code, event_date=event_date.isoformat(),
            fu_start_date=fu.start_date.isoformat())
    if event_date > fu.end_date:
        raise ValidationError(
            "models.event_after_follow_up",
            "The event of {part_study_code} on {event_date} is after the follow-up window ends "
            "({window_text}); record the check that found it first, to move the window's end.",
            part_study_code=part.study_code, event_date=event_date.isoformat(),
            window_text=_window_text(fu))
    event = RecidivismEvent(participant_id=part.id, follow_up_id=fu.id, event_date=event_date,
                            event_type=event_type, source=source, recorded_by=ctx.actor.id)
    s.add(event)
    s.flush()
    return event


def record_event(ctx: Context, *, participant_id: int, event_date: dt.date, event_type: str,
                 source: str) -> int:
    """Record a reoffence inside the participant's follow-up window. Returns the event id.

    Events found by the detection service are recorded by accepting their proposal
    (`decide_event_proposal`), so that each keeps its flag.
    """
    access.require(ctx, "followup.record")
    _check_event_fields(event_type, source)
    if source == "detection_flag":
        raise ValidationError(
            "models.events_confirmed_detection_flag",
            "Events from a confirmed detection flag are recorded by accepting their proposal "
            "(decide_event_proposal), so that the event keeps its flag.")
    with ctx.transaction() as s:
        part = access.access_participant(ctx, participant_id, "followup.record")
        return _add_event(ctx, s, part, event_date, event_type, source).id


def follow_up_register(ctx: Context) -> pd.DataFrame:
    """Everyone who has ended the programme, with their follow-up window if one is recorded.

    One row per participant (by study code): participant_id (kept on the server by the caller,
    never shown), study_code, programme, cohort, status, ended_on, follow_up_start,
    follow_up_end (NaT-like None when no window yet) and events_recorded. No identifying field.
    """
    access.require(ctx, "recidivism.read")
    columns = ["participant_id", "study_code", "programme", "cohort", "status", "ended_on",
               "follow_up_start", "follow_up_end", "events_recorded"]
    events = (select(RecidivismEvent.participant_id, func.count().label("n"))
              .group_by(RecidivismEvent.participant_id).subquery())
    stmt = (select(Participant.id, Participant.study_code, Programme.name, Cohort.name,
                   Participant.status, Participant.ended_on, FollowUp.start_date,
                   FollowUp.end_date, func.coalesce(events.c.n, 0))
            .join(Cohort, Participant.cohort_id == Cohort.id)
            .join(Programme, Cohort.programme_id == Programme.id)
            .outerjoin(FollowUp, FollowUp.participant_id == Participant.id)
            .outerjoin(events, events.c.participant_id == Participant.id)
            .where(Participant.ended_on.is_not(None))
            .order_by(Participant.study_code))
    with ctx.transaction() as s:
        frame = pd.DataFrame(s.execute(stmt).all(), columns=columns)
    frame["events_recorded"] = frame["events_recorded"].astype(int)
    return frame


@dataclass(frozen=True)
class EventProposalView:
    id: int
    study_code: str
    proposed_date: dt.date
    status: str
    flag_id: int
    event_id: int | None
    reason: str | None
    case_ref: str | None = None        # the detection case the flag matched
    follow_up_end: dt.date | None = None  # the participant's window's end, if one is recorded


def list_event_proposals(ctx: Context, *, status: str | None = "proposed"
                         ) -> list[EventProposalView]:
    """Proposals from confirmed flags, by study code (default: those still to decide), each with
    its case and the follow-up window's end, so the analyst sees whether the date falls inside."""
    from db.schema import HashEntry

    access.require(ctx, "recidivism.read")
    stmt = (select(EventProposal, Participant.study_code, Case.case_ref, FollowUp.end_date)
            .join(Participant, EventProposal.participant_id == Participant.id)
            .outerjoin(Flag, Flag.id == EventProposal.flag_id)
            .outerjoin(HashEntry, HashEntry.id == Flag.hash_entry_id)
            .outerjoin(Case, Case.id == HashEntry.case_id)
            .outerjoin(FollowUp, FollowUp.participant_id == Participant.id)
            .order_by(EventProposal.proposed_date, EventProposal.id))
    if status is not None:
        stmt = stmt.where(EventProposal.status == status)
    with ctx.transaction() as s:
        return [EventProposalView(p.id, code, p.proposed_date, p.status, p.flag_id, p.event_id,
                                  p.reason, case, end) for p, code, case, end in s.execute(stmt)]


def decide_event_proposal(ctx: Context, *, proposal_id: int, accept: bool,
                          reason: str | None = None, event_type: str = "digital_sex_crime",
                          event_date: dt.date | None = None,
                          extend_window_to: dt.date | None = None) -> int | None:
    """Accept a proposal (a recidivism event with source "detection_flag"; returns its id) or
    reject it with a reason (returns None). A decided proposal is not decided again.

    An event after the follow-up window's end is refused, unless `extend_window_to` moves the end
    (to the check that found it: on or after the event, not after today) in the same step; the
    reason then says why, and is kept with the proposal.
    """
    access.require(ctx, "followup.record")
    reason = (reason or "").strip() or None
    if extend_window_to is not None and (reason is None or len(reason) < MIN_REASON):
        raise ValidationError(
            "models.give_reason_extending_window",
            "Give the reason for moving the follow-up window's end (at least {min_reason} "
            "characters); it is kept with the proposal.", min_reason=MIN_REASON)
    if not accept and (reason is None or len(reason) < MIN_REASON):
        raise ValidationError(
            "models.give_reason_rejecting_proposal",
            "Give the reason for rejecting proposal {proposal_id} (at least {min_reason} "
            "characters); it is kept with the proposal.",
            proposal_id=proposal_id, min_reason=MIN_REASON)
    if reason is not None:
        from casework.notes_guard import check_note

        check_note(reason, field="proposal decision reason")
    _check_event_fields(event_type, "detection_flag")
    try:
        with ctx.transaction() as s:
            # Authorised before anything about it is said (its state, its flag), so that a
            # proposal outside the actor's scope reads exactly like one that does not exist.
            proposal = access.access_record(
                ctx, EventProposal, proposal_id, "followup.record",
                NotFound("models.no_proposal", "No event proposal {proposal_id}.",
                         proposal_id=proposal_id))
            if proposal.status != "proposed":
                who = s.get(Account, proposal.decided_by) if proposal.decided_by else None
                when = (Message("models.on_time", " on {at} UTC",
                                at=f"{proposal.decided_at:%Y-%m-%d %H:%M}")
                        if proposal.decided_at else "")
                raise Conflict(
                    "models.proposal_already_not_decided",
                    "Proposal {proposal_id} was {proposal_status} already{value}{when}; it is "
                    "not decided twice.",
                    proposal_id=proposal_id, proposal_status=proposal.status,
                    value=Message("models.by", " by {username}", username=who.username)
                    if who else "", when=when)
            flag = s.get(Flag, proposal.flag_id)
            if accept and (flag is None or flag.status != "confirmed"):
                raise Conflict(
                    "models.flag_proposal_not_confirmed",
                    "Flag {proposal_flag_id} of proposal {proposal_id} is {flag_status}, not "
                    "confirmed; only a confirmed flag's proposal becomes an event.",
                    proposal_flag_id=proposal.flag_id, proposal_id=proposal_id,
                    flag_status=flag.status if flag else Message("models.flag_missing", "missing"))
            part = s.get(Participant, proposal.participant_id)
            event_id = None
            if accept and extend_window_to is not None:
                _extend_window(ctx, s, part, extend_window_to, event_date or proposal.proposed_date)
            if accept:
                event = _add_event(ctx, s, part, event_date or proposal.proposed_date, event_type,
                                   "detection_flag")
                event_id = event.id
            proposal.status = "accepted" if accept else "rejected"
            proposal.decided_by = ctx.actor.id
            proposal.decided_at = utcnow()
            proposal.reason = reason
            proposal.event_id = event_id
            s.flush()
            return event_id
    except StaleDataError:
        raise changed_since(ctx.session, "event_proposals", proposal_id,
                            Message("models.proposal_n", "Proposal {proposal_id}",
                                    proposal_id=proposal_id)) from None


# ---------------------------------------------------------------- the analysis frames


Ids = Sequence[int] | Select


def _among(column: Any, ids: Ids | None) -> Any:
    """`column IN ids`, where ids is a list or a select of participant ids (no bound list of
    thousands of parameters for a whole cohort); None means everyone."""
    if ids is None:
        return true()
    return column.in_(ids if isinstance(ids, Select) else list(ids))


def _baseline(s: Session, participant_ids: Ids | None = None,
              as_of: dt.date | None = None, matrix: bool = True) -> pd.DataFrame:
    """Baseline features per participant (index: participant id), pseudonymised, from the rows
    read here (`frames.baseline_frame`); with `matrix` also the step scores and changes (the
    assessments are read only then)."""
    conn = s.connection()
    ids = participant_ids
    stmt = (select(Participant.id, Participant.study_code, Participant.sex,
                   Participant.age_at_referral, Participant.prior_offences, Participant.enrolled_on,
                   Participant.status, Participant.ended_on, Cohort.name.label("cohort"),
                   Programme.name.label("programme"))
            .join(Cohort, Participant.cohort_id == Cohort.id)
            .join(Programme, Cohort.programme_id == Programme.id)
            .where(_among(Participant.id, ids))
            .order_by(Participant.id))
    people = read_frame(conn, stmt, list(frames.PEOPLE_COLUMNS))
    if people.empty:
        return people.set_index("participant_id")
    cases = read_frame(conn, select(Case.id, Case.participant_id, Case.offence_date,
                                    Case.referral_date).where(_among(Case.participant_id, ids)),
                       list(frames.CASE_COLUMNS))
    offences = read_frame(conn, select(Case.participant_id, CaseOffence.offence_type)
                          .join(CaseOffence, CaseOffence.case_id == Case.id)
                          .where(_among(Case.participant_id, ids)),
                          list(frames.OFFENCE_COLUMNS))
    sessions = select(CounselingSession.participant_id, func.count()).where(
        _among(CounselingSession.participant_id, ids), CounselingSession.attendance.in_(ATTENDED))
    if as_of is not None:
        sessions = sessions.where(CounselingSession.session_date <= as_of)
    attended = read_frame(conn, sessions.group_by(CounselingSession.participant_id),
                          list(frames.ATTENDANCE_COLUMNS))
    assessments = _assessment_rows(s, ids, as_of) if matrix else None
    return frames.baseline_frame(people, cases, offences, attended, as_of=as_of,
                                 assessments=assessments)


def _assessment_rows(s: Session, ids: Ids | None, as_of: dt.date | None) -> pd.DataFrame:
    """Final or locked domain scores: participant, stage, date, assessment, domain, score."""
    stmt = (select(Assessment.participant_id, Assessment.stage, Assessment.administered_on,
                   Assessment.id, AssessmentScore.domain, AssessmentScore.score)
            .join(AssessmentScore, AssessmentScore.assessment_id == Assessment.id)
            .where(_among(Assessment.participant_id, ids),
                   Assessment.status.in_(COUNTED_ASSESSMENTS)))
    if as_of is not None:
        stmt = stmt.where(Assessment.administered_on <= as_of)
    return read_frame(s.connection(), stmt, list(frames.ASSESSMENT_COLUMNS))


def _outcomes(s: Session, ids: Ids | None, as_of: dt.date | None) -> pd.DataFrame:
    """Per participant with a follow-up: window, duration, first event and its type
    (`frames.outcomes_frame` of the windows and events read here)."""
    conn = s.connection()
    fus = read_frame(conn, select(FollowUp.participant_id, func.min(FollowUp.start_date),
                                  func.max(FollowUp.end_date))
                     .where(_among(FollowUp.participant_id, ids)).group_by(FollowUp.participant_id),
                     list(frames.FOLLOW_UP_COLUMNS))
    events = read_frame(conn, select(RecidivismEvent.participant_id, RecidivismEvent.event_date,
                                     RecidivismEvent.event_type, RecidivismEvent.source,
                                     RecidivismEvent.id)
                        .where(_among(RecidivismEvent.participant_id, ids)),
                        list(frames.EVENT_COLUMNS))
    return frames.outcomes_frame(fus, events, as_of=as_of)


def _frame(s: Session, as_of: dt.date | None, matrix: bool = True) -> pd.DataFrame:
    if s.execute(select(FollowUp.id).limit(1)).first() is None:
        raise ValidationError(
            "models.no_follow_up_windows",
            "No follow-up windows are recorded yet, so there is nothing to analyse; record them "
            "with record_follow_up (start at programme end or drop-out).")
    # Everyone is read and the inner join keeps those with a window: at a programme's scale a
    # plain scan is faster than looking each participant up.
    outcomes = _outcomes(s, None, as_of)
    if outcomes.empty:
        raise ValidationError(
            "models.no_follow_up_window_2",
            "No follow-up window starts on or before {as_of}; choose a later as_of date.",
            as_of=as_of)
    base = _baseline(s, None, as_of, matrix=matrix)
    return frames.analysis_frame(base, outcomes, as_of=as_of, matrix=matrix)


def analysis_frame(ctx: Context, *, as_of: dt.date | None = None,
                   matrix: bool = True) -> pd.DataFrame:
    """One pseudonymised row per participant with a follow-up window.

    Outcome: `duration` (days from follow-up start to the first event, else to the window's end),
    `event` (any reoffence), `event_<type>` (1 when the first event is of that type: the
    cause-specific indicators of competing risks; they sum to `event`), `first_event_type`,
    `first_event_source`, `events_recorded`. Baseline: `age_at_referral`, `age_at_offence`
    (approximate: see the module docstring), `age_band`, `sex`, `offence_<type>` indicators and
    `offence_group` (the single type, or "multiple"), `prior_offences`, `programme`, `cohort`,
    `sessions_attended` (attended or late), `completed` (0/1). Matrix:
    `score_<domain>_<stage>` (final or locked assessments only; the latest at a step),
    `change_<domain>` (conclusion - planning, NaN when either is missing) and
    `change_to_last_<domain>` (last step reached - planning; 0 with only planning).
    The features are built by `models.frames` from the rows read here.

    `as_of` cuts the data at a date (windows starting later dropped, ends and events cut, sessions
    and assessments after it ignored); None uses everything recorded. `matrix=False` leaves out
    the matrix columns and does not read the assessments (most of the time at a programme's
    scale): for views of outcomes and baseline only. Identified by study code only: the identity
    table is never read.
    """
    access.require(ctx, "recidivism.read")
    with ctx.transaction() as s:
        return _frame(s, as_of, matrix=matrix)


def _session_dates(s: Session, ids: Ids | None, as_of: dt.date | None) -> pd.DataFrame:
    stmt = select(CounselingSession.participant_id, CounselingSession.session_date).where(
        _among(CounselingSession.participant_id, ids), CounselingSession.attendance.in_(ATTENDED))
    if as_of is not None:
        stmt = stmt.where(CounselingSession.session_date <= as_of)
    return read_frame(s.connection(), stmt, list(frames.SESSION_COLUMNS))


def person_period_frame(ctx: Context, *, as_of: dt.date | None = None) -> pd.DataFrame:
    """Counting-process (start, stop] rows for the time-varying Cox model.

    Time is days since enrolment; each row is split (through `survival.split_episodes`) at every
    step's date (the matrix scores change) and every attended session (the count grows), and rows
    before the follow-up start are cut off, so each person enters the risk set when follow-up
    starts (left truncation: no reoffence is recorded during the programme). Columns:
    study_code, start, stop, event, step (the last step measured), sessions_attended,
    score_<domain> and change_<domain> (from planning) at that step, and the baseline covariates
    prior_offences, age_at_referral, completed, programme. People whose follow-up has zero length
    cannot be in a (start, stop] frame; their number is in `frame.attrs["dropped_zero_length"]`.
    Built by `frames.person_period_frame` from the rows read here.
    """
    access.require(ctx, "recidivism.read")
    with ctx.transaction() as s:
        # The episodes need the baseline and outcomes only; their scores come from the steps.
        frame = _frame(s, as_of, matrix=False)
        id_of = dict(s.execute(select(Participant.study_code, Participant.id).where(
            Participant.study_code.in_(frame["study_code"].tolist()))).all())
        ids = list(id_of.values())
        steps = _assessment_rows(s, ids, as_of)
        sessions = _session_dates(s, ids, as_of)
    return frames.person_period_frame(frame, id_of, steps, sessions)


def _domain_norms() -> dict[str, change_cox.DomainNorm]:
    """Each matrix domain's norm (SD, reliability, direction) from the shipped instruments."""
    from assessment.instruments import default_instruments

    out = {}
    for inst in default_instruments().values():
        for domain, n in inst.norms.items():
            out[domain] = change_cox.DomainNorm(n.sd, n.reliability, n.higher_is_better)
    return out


def change_on_recidivism(ctx: Context, *, as_of: dt.date | None = None,
                         domains: Sequence[str] = vocab.MATRIX_DOMAINS,
                         adjust: Sequence[str] = change_cox.DEFAULT_ADJUST
                         ) -> change_cox.ChangeCoxResult:
    """Does change on the matrix predict reoffending? The time-varying Cox model of
    `models.change_cox` on the person-period frame (each domain's score updates at each step):
    hazard ratios per reliable improvement, the PH check, the events-per-covariate warning and
    the caveat that it is observational. Pseudonymised: study codes only, and only aggregates
    leave (the summary, the PH table, counts)."""
    frame = person_period_frame(ctx, as_of=as_of)
    return change_cox.change_cox(frame, _domain_norms(), domains=domains, adjust=adjust)


# ---------------------------------------------------------------- survival analyses


def _given_frame(ctx: Context, frame: pd.DataFrame | None, as_of: dt.date | None) -> pd.DataFrame:
    """The analysis frame the caller already read (`analysis_frame`), else a fresh read."""
    if frame is None:
        return analysis_frame(ctx, as_of=as_of)
    access.require(ctx, "recidivism.read")
    if as_of is not None and frame.attrs.get("as_of") != as_of.isoformat():
        raise ValidationError("models.frame_given_read_not",
                              "the frame given was read as of {get}, not {as_of}; read it again "
                              "with analysis_frame(as_of=...)",
                              get=frame.attrs.get('as_of'), as_of=as_of)
    return frame


def km(ctx: Context, *, by: str | None = None, as_of: dt.date | None = None,
       frame: pd.DataFrame | None = None) -> survival.KaplanMeierResult:
    """Kaplan-Meier estimate of time to any reoffence, overall or by a group column (log-rank).

    `frame`: an analysis frame already read (`analysis_frame`), so that a page showing several
    analyses reads the store once; by default it is read here.
    """
    if by is not None and by not in KM_GROUPS:
        raise ValidationError("models.group_choose_one",
                              "cannot group by {by!r}; choose one of {km_groups}.",
                              by=by, km_groups=', '.join(KM_GROUPS))
    frame = _given_frame(ctx, frame, as_of)
    return survival.kaplan_meier(frame, "duration", "event", group=by)


def cox_fit(ctx: Context, covariates: Sequence[str], *, ties: str = "efron",
            strata: str | None = None, as_of: dt.date | None = None,
            complete_cases: bool = False, frame: pd.DataFrame | None = None
            ) -> survival.CoxResult:
    """Cox model of time to any reoffence on columns of the analysis frame.

    Categorical columns must be encoded first (the error says how). With complete_cases=True
    rows missing a covariate (for example a change score of someone who left before the
    conclusion) are dropped; the result's `n` shows how many remained. `frame` as in `km`.
    """
    frame = _given_frame(ctx, frame, as_of)
    covariates = list(covariates)
    if frame.attrs.get("matrix") is False and any(c.startswith(("score_", "change_"))
                                                   for c in covariates):
        raise ValidationError("models.frame_given_read_without",
                              "the frame given was read without the matrix columns; read it "
                              "with analysis_frame(matrix=True) to use scores or changes")
    check_columns(frame, covariates, "the analysis frame")
    if complete_cases:
        frame = frame.dropna(subset=covariates)
    return survival.cox(frame, "duration", "event", covariates, ties=ties, strata=strata)


def cumulative_incidence_by_type(ctx: Context, *, as_of: dt.date | None = None,
                                 frame: pd.DataFrame | None = None) -> CumulativeIncidenceResult:
    """Aalen-Johansen cumulative incidence of each type of first reoffence (competing risks).

    Event types are coded as in EVENT_TYPE_CODES; the table also names them (`event_type_name`).
    `frame` as in `km`.
    """
    frame = _given_frame(ctx, frame, as_of)
    coded = frame.assign(event_code=frame["first_event_type"].map(EVENT_TYPE_CODES).fillna(0)
                         .astype(int))
    result = cumulative_incidence(coded, "duration", "event_code")
    names = {v: k for k, v in EVENT_TYPE_CODES.items()}
    result.table["event_type_name"] = result.table["event_type"].map(names)
    return result


# ---------------------------------------------------------------- risk models


def _code_version() -> str:
    """The installed dscr's version, as its package metadata gives it (never the git folder,
    which a deployment need not have)."""
    try:
        return f"dscr {metadata.version('dscr')}"
    except metadata.PackageNotFoundError:
        return "dscr unknown"


_NOT_FEATURES = ("study_code", "duration", "event", "follow_up_start", "follow_up_end",
                 "first_event_date", "events_recorded", "enrolled_on")


def fit_risk_model(ctx: Context, *, model: str = "logistic", horizon: int = DEFAULT_HORIZON,
                   features: Sequence[str] | None = None, random_state: int = 0,
                   as_of: dt.date | None = None, n_splits: int = 5, n_repeats: int = 10,
                   n_bootstrap: int = 200, landmark: str = vocab.CONCLUSION) -> int:
    """Fit, validate and store a draft risk model of reoffence within `horizon` days, predicting
    at `landmark` (`vocab.LANDMARKS`): only features known by then (`models.landmarks.KNOWN_AT`;
    default `landmarks.DEFAULT_FEATURES[landmark]`). Returns its id. It reaches no counselor
    until someone else approves it (`approve_model`).

    The data are those recorded up to `as_of` (default: the context's today), kept in the stored
    settings so that the same frame can be rebuilt and checked against the card's fingerprint.
    Validation: `models.risk.validate` (repeated stratified cross-validation, bootstrap CIs) with
    subgroup fairness (`fairness.group_metrics`) by age band, offence group, programme and sex.
    The card (with the data fingerprint) and the parameters are stored; the rows are not.
    """
    access.require(ctx, "model.fit")
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon <= 0:
        raise ValidationError("models.horizon_positive_whole_number",
                              "horizon must be a positive whole number of days, got {horizon!r}",
                              horizon=horizon)
    get_model(model)  # an unknown name fails here, before the data are read
    landmarks.check_landmark(landmark)
    features = list(landmarks.DEFAULT_FEATURES[landmark] if features is None else features)
    # The data are cut at a date (today by default) so that the frame can be rebuilt later.
    as_of = as_of or ctx.today
    with ctx.transaction() as s:
        frame = _frame(s, as_of)
    unknown = [f for f in features if f not in frame.columns]
    if unknown:
        raise ValidationError(
            "models.feature_not_columns_analysis",
            "feature(s) {unknown} are not columns of the analysis frame; choose from {c}",
            unknown=', '.join(unknown),
            c=', '.join(c for c in frame.columns if c not in _NOT_FEATURES))
    outcome_like = [f for f in features if f.startswith(("event", "first_event"))
                    or f in _NOT_FEATURES]
    if outcome_like:
        raise ValidationError(
            "models.describe_follow_up_outcome",
            "{outcome_like} describe the follow-up or the outcome, not the baseline; remove "
            "them from the features",
            outcome_like=', '.join(outcome_like))
    landmarks.check_features(features, landmark)
    fitted = get_model(model, random_state=random_state).fit(frame, features, horizon)
    validation = validate(model, frame, features, horizon, n_splits=n_splits, n_repeats=n_repeats,
                          random_state=random_state, n_bootstrap=n_bootstrap,
                          subgroups=list(FAIRNESS_GROUPS))
    created = utcnow()
    window = (min(frame["follow_up_start"]), max(frame["follow_up_end"]))
    card = build_card(fitted, frame, validation, created=created, code_version=_code_version(),
                      data_window=window)
    params: dict[str, Any] = {
        "model": model,
        "model_params": card.model_params,
        "features": features,
        "horizon": horizon,
        "landmark": landmark,
        "as_of": as_of.isoformat(),
        "random_state": random_state,
        "fingerprint_columns": ["duration", "event", *features],
        # The validation's calibration bins (aggregates only), for the card's calibration plot.
        "calibration": _plain_table(validation.calibration.table),
    }
    if model == "logistic":
        params["prediction"] = approval.STORED_PREDICTION
        params["logistic"] = fitted.stored_parameters()
    else:
        # Its trees are not kept, so it cannot predict from stored parameters: a model to read
        # and compare, never approved (models.approval).
        params["prediction"] = "none: not kept"
    with ctx.transaction() as s:
        row = RiskModel(name=model, horizon_days=horizon, card=card.to_dict(), params=params,
                        data_fingerprint=card.data_fingerprint, code_version=card.code_version,
                        created_by=ctx.actor.id, created_at=created, landmark=landmark,
                        status=vocab.MODEL_DRAFT)
        s.add(row)
        s.flush()
        return row.id


def _plain_table(table: pd.DataFrame) -> list[dict[str, Any]]:
    """A small aggregate table as JSON rows (NaN as None)."""
    rows = table.reset_index().astype(object).where(table.reset_index().notna(), None)
    return [{k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
            for row in rows.to_dict(orient="records")]


@dataclass(frozen=True)
class ModelInfo:
    id: int
    name: str
    horizon_days: int
    created_at: dt.datetime
    created_by: str
    n: int
    events: int
    auc: float | None
    auc_ci_lower: float | None
    auc_ci_upper: float | None
    eo_ratio: float | None
    data_fingerprint: str
    warnings: int
    landmark: str = vocab.CONCLUSION
    status: str = vocab.MODEL_DRAFT
    approved_by: str | None = None
    approved_at: dt.datetime | None = None
    approval_reason: str | None = None
    acknowledged: tuple[str, ...] = ()
    withdrawn_by: str | None = None
    withdrawn_at: dt.datetime | None = None
    withdrawal_reason: str | None = None
    blockers: tuple[Message, ...] = ()

    @property
    def label(self) -> str:
        return (f"{self.name} #{self.id} ({self.horizon_days} days, "
                f"fitted {self.created_at:%Y-%m-%d})")


def _info(s: Session, r: RiskModel) -> ModelInfo:
    names = dict(s.execute(select(Account.id, Account.username).where(
        Account.id.in_([i for i in (r.created_by, r.approved_by, r.withdrawn_by)
                        if i is not None]))).all())
    metrics = r.card.get("metrics", {})
    auc = metrics.get("auc", {})
    return ModelInfo(
        r.id, r.name, r.horizon_days, r.created_at, names[r.created_by], r.card.get("n", 0),
        r.card.get("events", 0), auc.get("estimate"), auc.get("ci_lower"), auc.get("ci_upper"),
        metrics.get("eo_ratio", {}).get("estimate"), r.data_fingerprint,
        len(r.card.get("warnings", [])), landmark=r.landmark, status=r.status,
        approved_by=names.get(r.approved_by), approved_at=r.approved_at,
        approval_reason=r.approval_reason, acknowledged=tuple(r.acknowledged or ()),
        withdrawn_by=names.get(r.withdrawn_by), withdrawn_at=r.withdrawn_at,
        withdrawal_reason=r.withdrawal_reason,
        blockers=tuple(approval.blockers(r.card, r.params)))


def list_models(ctx: Context, *, status: str | None = None) -> list[ModelInfo]:
    """The stored risk models, newest first, with discrimination and its CI from their cards,
    their landmark, status and who approved or withdrew them (all, or those of one status)."""
    access.require(ctx, "model.card")
    stmt = select(RiskModel).order_by(RiskModel.id.desc())
    if status is not None:
        stmt = stmt.where(RiskModel.status == status)
    with ctx.transaction() as s:
        return [_info(s, r) for r in s.scalars(stmt)]


def _model_row(s: Session, model_id: int) -> RiskModel:
    row = s.get(RiskModel, model_id)
    if row is None:
        raise NotFound("models.no_risk_model_dscr",
                       "No risk model {model_id}; `dscr models list` shows the stored ones.",
                       model_id=model_id)
    return row


# The action that reads the pseudonymised follow-up rows. `get_card` asks whether the reader has
# it, to choose what to show, and never requires it (tests/db/test_every_use_case.py reads the
# actions a use case names as the ones it requires).
_FOLLOW_UP_DATA = "recidivism.read"


def get_card(ctx: Context, model_id: int) -> ModelCard:
    """A stored model's card. Readers who may not read the pseudonymised follow-up data (the
    committee and the admin, who approve models; counselors) get its subgroup table with counts
    under the deployment's threshold hidden, with their figures and the cells that would give
    them away (`matrix.suppression.suppress`, each subgroup column against the card's total)."""
    access.require(ctx, "model.card")
    with ctx.transaction() as s:
        card = ModelCard.from_dict(_model_row(s, model_id).card)
    if not access.is_allowed(ctx.actor.role, _FOLLOW_UP_DATA):
        card.subgroups = _suppressed_subgroups(card, ctx.runtime.settings.suppression_threshold)
    return card


def _suppressed_subgroups(card: ModelCard, threshold: int) -> dict[str, dict[str, dict[str, Any]]]:
    from matrix.suppression import suppress

    total = "__total__"
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for column, groups in card.subgroups.items():
        rows = [{"group": g, **r} for g, r in groups.items()]
        table = pd.DataFrame([*rows, {"group": total, "n": card.n}])
        figures = [c for c in table.columns if c not in ("group", "n")]
        shown = suppress(table, "n", threshold, derived_cols=figures, group_cols=["group"],
                         total_label=total).table
        shown = shown[shown["group"] != total]
        records = shown.astype(object).where(shown.notna(), None).to_dict(orient="records")
        out[column] = {str(r.pop("group")): r for r in records}
    return out


def model_calibration(ctx: Context, model_id: int) -> CalibrationTable | None:
    """The cross-validated calibration table of a stored model (None for models stored before
    it was kept); `.plot()` draws it."""
    access.require(ctx, "model.card")
    with ctx.transaction() as s:
        row = _model_row(s, model_id)
        rows, horizon = row.params.get("calibration"), row.horizon_days
    if not rows:
        return None
    table = pd.DataFrame(rows).set_index("bin").astype(float)
    table[["n", "events"]] = table[["n", "events"]].astype(int)
    return CalibrationTable(table, float(horizon))


def _reason(reason: str | None, field_name: str, what: str) -> str:
    from casework.notes_guard import check_note

    text = (reason or "").strip()
    if len(text) < MIN_REASON:
        raise ValidationError(
            "models.give_reason_model",
            "Give the reason to {what} the model (at least {min_reason} characters); it is kept "
            "with the model and shown beside its estimates.",
            what=what, min_reason=MIN_REASON)
    check_note(text, field=field_name)
    return text


def approve_model(ctx: Context, *, model_id: int, reason: str,
                  acknowledged: Sequence[str] = ()) -> ModelInfo:
    """Approve a draft model for counselors: someone other than its fitter, after reading its
    card, with a reason, each of the card's warnings acknowledged by its key
    (`models.approval.warning_keys`). Refused while a gate of `models.approval` fails (the AUC's
    lower 95% bound at or below 0.5, E/O outside 0.8-1.25, no stored parameters)."""
    access.require(ctx, "model.approve")
    text = _reason(reason, "model approval reason", "approve")
    try:
        with ctx.transaction() as s:
            row = _model_row(s, model_id)
            if row.status != vocab.MODEL_DRAFT:
                raise Conflict(
                    "models.model_not_draft",
                    "Model {model_id} is {status}, not a draft; only a draft is approved (fit "
                    "a new model to replace a withdrawn one).",
                    model_id=model_id, status=row.status)
            if row.created_by == ctx.actor.id:
                ctx.record_denied("model.approve", f"risk model {model_id} approved by its fitter")
                raise PermissionDenied(
                    "models.fitter_cannot_approve",
                    "You fitted model {model_id}, so you cannot approve it: a second person "
                    "(a committee member or an admin) reads its card and decides.",
                    model_id=model_id)
            refused = approval.blockers(row.card, row.params)
            if refused:
                raise ValidationError(
                    "models.gates_refuse_approval",
                    "Model {model_id} cannot be approved: {why}. Fit a better model instead.",
                    model_id=model_id, why=joined(refused))
            missing = approval.unacknowledged(row.card.get("warnings", []), acknowledged)
            if missing:
                raise ValidationError(
                    "models.warnings_not_acknowledged",
                    "Acknowledge each warning on the card of model {model_id} before approving "
                    "it; not acknowledged: {missing}.",
                    model_id=model_id, missing=", ".join(missing))
            row.status = vocab.MODEL_APPROVED
            row.approved_by = ctx.actor.id
            row.approved_at = utcnow()
            row.approval_reason = text
            row.acknowledged = approval.warning_keys(row.card.get("warnings", []))
            s.flush()
            return _info(s, row)
    except StaleDataError:
        raise changed_since(ctx.session, "risk_models", model_id,
                            Message("models.model_n", "Model {model_id}",
                                    model_id=model_id)) from None


def withdraw_model(ctx: Context, *, model_id: int, reason: str) -> ModelInfo:
    """Withdraw a draft or approved model, with a reason: no counselor sees its estimates again."""
    access.require(ctx, "model.withdraw")
    text = _reason(reason, "model withdrawal reason", "withdraw")
    try:
        with ctx.transaction() as s:
            row = _model_row(s, model_id)
            if row.status == vocab.MODEL_WITHDRAWN:
                raise Conflict("models.model_withdrawn_already",
                               "Model {model_id} was withdrawn already.", model_id=model_id)
            row.status = vocab.MODEL_WITHDRAWN
            row.withdrawn_by = ctx.actor.id
            row.withdrawn_at = utcnow()
            row.withdrawal_reason = text
            s.flush()
            return _info(s, row)
    except StaleDataError:
        raise changed_since(ctx.session, "risk_models", model_id,
                            Message("models.model_n", "Model {model_id}",
                                    model_id=model_id)) from None


@dataclass(frozen=True)
class Prediction:
    """A participant's predicted risk, always with the model that made it, who approved it, and
    why."""

    model_id: int
    model_name: str
    model_label: str
    horizon_days: int
    study_code: str
    risk: float
    log_odds: float
    contributions: pd.DataFrame     # feature, value, contribution (log-odds), sorted by size
    intercept: float
    explanation: str
    method: str
    metrics: dict[str, dict[str, float | None]]
    warnings: tuple[Message | str, ...] = field(default_factory=tuple)
    landmark: str = vocab.CONCLUSION
    approved_by: str | None = None
    approved_at: dt.datetime | None = None
    approval_reason: str | None = None


def _landmark_of(s: Session, part: Participant) -> str | None:
    steps = {stage: row.status for stage, row in current_steps(s, part.id).items()}
    return landmarks.landmark_reached(ended=part.ended_on is not None, steps=steps)


def _predict(ctx: Context, s: Session, part: Participant, row: RiskModel) -> Prediction:
    """The prediction of an approved model at the participant's landmark (checked by callers)."""
    params, card = dict(row.params), dict(row.card)
    features = list(params["features"])
    # The stored features are checked again at every prediction, not only at the fit: nothing
    # known after the model's landmark is ever used.
    landmarks.check_features(features, row.landmark)
    if "logistic" not in params:
        raise ValidationError(
            "models.no_stored_parameters",
            "Model {model_id} keeps no parameters to predict from; nothing is refitted for a "
            "prediction.", model_id=row.id)
    person = _baseline(s, [part.id])
    audit.record(s, "predict", table_name="risk_models", row_id=row.id,
                 subject_participant_id=part.id, detail=ctx.task)
    code = part.study_code
    missing = [f for f in features if pd.isna(person[f].iloc[0])]
    if missing:
        raise ValidationError(
            "models.no_value_model_needs",
            "{code} has no value for {missing}, which the model needs; record it, or use a "
            "model without it.",
            code=code, missing=', '.join(missing))
    notes = [message_of(w) for w in card.get("warnings", [])]
    contrib = LogisticRisk.explain_stored(params["logistic"], features, person).iloc[0]
    log_odds = float(contrib.sum())
    table = pd.DataFrame({
        "feature": features,
        "value": [person[f].iloc[0] for f in features],
        "contribution": [float(contrib[f]) for f in features],
    })
    table = table.reindex(table["contribution"].abs().sort_values(ascending=False).index)
    approver = s.get(Account, row.approved_by) if row.approved_by else None
    label = f"{row.name} #{row.id} ({row.horizon_days} days, fitted {row.created_at:%Y-%m-%d})"
    return Prediction(
        model_id=row.id, model_name=row.name, model_label=label, horizon_days=row.horizon_days,
        study_code=code, risk=float(expit(log_odds)), log_odds=log_odds,
        contributions=table.reset_index(drop=True), intercept=float(contrib["intercept"]),
        explanation=card.get("explanation", ""), method=approval.STORED_PREDICTION,
        metrics=card.get("metrics", {}), warnings=tuple(notes), landmark=row.landmark,
        approved_by=approver.username if approver else None, approved_at=row.approved_at,
        approval_reason=row.approval_reason)


def predict_for(ctx: Context, participant_id: int, model_id: int) -> Prediction:
    """The risk of a participant (in a counselor's caseload) under an approved stored model of
    the landmark the participant has reached, with each feature's contribution, the model's name,
    who approved it and its validated performance. A draft, a withdrawn model and a model of
    another landmark are refused."""
    access.require(ctx, "model.read")
    with ctx.transaction() as s:
        part = access.access_participant(ctx, participant_id, "model.read")
        row = _model_row(s, model_id)
        if row.status != vocab.MODEL_APPROVED:
            raise Conflict(
                "models.model_not_approved",
                "Model {model_id} is {status}: its estimates reach nobody until someone other "
                "than its fitter approves it.", model_id=model_id, status=row.status)
        reached = _landmark_of(s, part)
        if reached != row.landmark:
            raise ValidationError(
                "models.landmark_not_reached",
                "Model {model_id} predicts at the {landmark} landmark; {code} is at "
                "{reached}, so it would use what is not known about them yet (or ignore what "
                "is).", model_id=model_id, landmark=row.landmark, code=part.study_code,
                reached=reached or Message("models.no_landmark", "no landmark yet"))
        return _predict(ctx, s, part, row)


@dataclass(frozen=True)
class CurrentRisk:
    """What the counselor's risk panel shows: the landmark reached and the approved model's
    prediction there, or why there is none (`note`)."""

    landmark: str | None
    prediction: Prediction | None
    note: Message | None


def current_risk(ctx: Context, participant_id: int) -> CurrentRisk:
    """The estimate a counselor may see for a participant now: from the newest approved model of
    the landmark the participant has reached (planning step signed: the planning model; programme
    ended: the conclusion model), or none, with the reason."""
    access.require(ctx, "model.read")
    with ctx.transaction() as s:
        part = access.access_participant(ctx, participant_id, "model.read")
        reached = _landmark_of(s, part)
        if reached is None:
            return CurrentRisk(None, None, Message(
                "models.no_landmark_yet",
                "No estimate yet: the first is made once the planning step is signed."))
        row = s.scalars(select(RiskModel).where(
            RiskModel.status == vocab.MODEL_APPROVED, RiskModel.landmark == reached)
            .order_by(RiskModel.approved_at.desc(), RiskModel.id.desc()).limit(1)).first()
        if row is None:
            return CurrentRisk(reached, None, Message(
                "models.no_approved_model",
                "No approved risk model predicts at the {landmark} landmark, so no estimate is "
                "shown.", landmark=reached))
        return CurrentRisk(reached, _predict(ctx, s, part, row), None)


__all__ = [
    "DEFAULT_FEATURES",
    "EVENT_TYPE_CODES",
    "EventProposalView",
    "CurrentRisk",
    "ModelInfo",
    "Prediction",
    "analysis_frame",
    "approve_model",
    "change_on_recidivism",
    "cox_fit",
    "cumulative_incidence_by_type",
    "current_risk",
    "decide_event_proposal",
    "fit_risk_model",
    "follow_up_register",
    "get_card",
    "km",
    "list_event_proposals",
    "list_models",
    "model_calibration",
    "person_period_frame",
    "predict_for",
    "record_event",
    "record_follow_up",
    "withdraw_model",
]
