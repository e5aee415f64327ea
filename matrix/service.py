"""Use cases of the three-step matrix: step actions, the participant matrix, goals, programme outcomes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from assessment.instruments import Instrument, default_instruments, get_instrument
from assessment.scoring import score_responses
from db import access, reasons
from casework.notes_guard import check_note
from db.conflicts import changed_since, converting_stale
from db.context import Context
from db.steps import current_steps, new_step
from db.engine import read_frame
from db.schema import (
    Assessment,
    Case,
    CaseOffence,
    Cohort,
    Goal,
    GoalReview,
    Participant,
    Programme,
    ProgrammeReview,
    StageStep,
    utcnow,
)
import vocab
from errors import Conflict, Message, NotFound, PermissionDenied, ValidationError
from matrix import change, outcomes, reviews, stages
from matrix.suppression import suppress

# The committee's rubric (four gender-sensitivity indicators, 1..5), kept in matrix.reviews.
REVIEW_INDICATORS, REVIEW_SCALE = reviews.REVIEW_INDICATORS, reviews.REVIEW_SCALE
GROUPINGS = ("cohort", "programme", "age_band", "offence_type")
# The permission each step action needs (db.access has who holds it). Starting, submitting,
# skipping and reopening are the counselor's work on the record; reviewing, countersigning,
# returning and unlocking are the second pair of eyes.
STEP_PERMISSIONS: dict[str, str] = {
    "start": "assessment.record", "submit": "assessment.record", "skip": "assessment.record",
    "reopen": "assessment.record", "review": "step.review", "sign": "step.sign",
    "return": "step.sign", "unlock": "step.unlock",
}
# Whoever submitted a step may not take these on it.
FOUR_EYES_ACTIONS = ("review", "sign", "return")
if set(STEP_PERMISSIONS) != set(stages.ACTIONS):  # pragma: no cover - caught at import
    raise RuntimeError(f"step permissions and step actions differ: "
                       f"{set(STEP_PERMISSIONS) ^ set(stages.ACTIONS)}")


# --- step actions ------------------------------------------------------------------------------

@dataclass(frozen=True)
class StepView:
    participant_id: int
    stage: str
    step_version: int
    status: str
    due_date: dt.date | None
    skip_reason: str | None
    reason: str | None
    version: int


def _step_view(r: StageStep) -> StepView:
    return StepView(r.participant_id, r.stage, r.step_version, r.status, r.due_date, r.skip_reason,
                    r.reason, r.version)


def step_action(ctx: Context, *, participant_id: int, stage: str, action: str,
                reason: str | None = None, expected_version: int | None = None) -> StepView:
    """Move one step of a participant's matrix: start, submit, review, sign, return, unlock, skip, reopen.

    The pure rules (`matrix.stages`) decide; a refused action changes nothing. `expected_version`
    is the step row's version as the caller saw it; a newer one gives a Conflict naming who saved it.
    Unlocking a signed step adds a new draft version with draft copies of its assessments; the
    signed version and its locked assessments stay as they were. Each action needs its
    permission (`STEP_PERMISSIONS`) within the actor's scope, and whoever submitted a step may not
    review, sign or return it (four eyes on a young person's record).
    """
    if action not in stages.ACTIONS:
        raise ValidationError("matrix.unknown_action_actions",
                              "unknown action {action!r}; actions are {stages_actions}",
                              action=action, stages_actions=list(stages.ACTIONS))
    part = access.access_participant(ctx, participant_id, STEP_PERMISSIONS[action])
    if isinstance(reason, str):
        check_note(reason, field=f"{action} reason")
    with converting_stale(ctx, "stage_steps", f"The {stage} step", expected_version) as target:
        return _transition(ctx, part, stage, action, reason, expected_version, target)


def _transition(ctx: Context, part: Participant, stage: str, action: str, reason: str | None,
                expected_version: int | None, target: dict[str, object]) -> StepView:
    """The body of `step_action`, inside the caller's transaction (a cohort sign-off runs many)."""
    s = ctx.session
    current = current_steps(s, part.id, lock=stage)
    row = current.get(stage)
    if row is not None:
        target["row_id"] = row.id
        if expected_version is not None and row.version != expected_version:
            raise changed_since(s, "stage_steps", row.id, f"The {stage} step",
                                expected=expected_version, actual=row.version)
    new = stages.apply_transition(stages.states_of(current), stage, action, reason)
    # After the state rules, so that a step that cannot be reviewed anyway says why first.
    if action in FOUR_EYES_ACTIONS and row.submitted_by is not None and row.submitted_by == ctx.actor.id:
        ctx.record_denied(f"step.{action}", f"{stage} step of participant {part.id} was "
                          "submitted by the same account")
        raise PermissionDenied("matrix.own_step",
                               "You submitted this {stage} step; another person must {action} it.",
                               stage=stage, action=action)
    reason = reason.strip() if isinstance(reason, str) else reason
    now = utcnow()
    step_assessments = [] if row is None else list(s.scalars(
        select(Assessment).where(Assessment.participant_id == part.id, Assessment.stage == stage,
                                 Assessment.step_version == row.step_version)
        .order_by(Assessment.id)))
    if action == "submit":
        if not step_assessments:
            raise Conflict("matrix.submit_no_assessment_recorded",
                           "cannot submit {stage}: no assessment was recorded at this step; "
                           "record and finalise its instruments first",
                           stage=stage)
        drafts = [a.instrument_id for a in step_assessments if a.status == "draft"]
        if drafts:
            raise Conflict("matrix.submit_still_draft_finalise",
                           "cannot submit {stage}: {drafts} is still a draft; finalise it (or "
                           "correct it) first",
                           stage=stage, drafts=', '.join(drafts))
    if action == "unlock":
        row.superseded_at, row.updated_by, row.updated_at = now, ctx.actor.id, now
        fresh = StageStep(participant_id=part.id, stage=stage, step_version=new.version,
                          status=stages.DRAFT, due_date=row.due_date, reason=reason,
                          updated_by=ctx.actor.id, updated_at=now)
        s.add(fresh)
        for a in step_assessments:
            s.add(Assessment(
                participant_id=a.participant_id, stage=a.stage, instrument_id=a.instrument_id,
                instrument_version=a.instrument_version, responses=dict(a.responses),
                status="draft", step_version=new.version, notes_enc=a.notes_enc,
                administered_on=a.administered_on, created_by=ctx.actor.id))
        s.flush()
        return _step_view(fresh)
    if row is None:
        row = new_step(part.id, stage, stages.due_dates(part.enrolled_on)[stage])
        s.add(row)
    row.status = new.status
    row.skip_reason = new.skip_reason if new.status == stages.SKIPPED else None
    if action in ("return", "reopen", "skip") and reason:
        row.reason = reason
    row.updated_by, row.updated_at = ctx.actor.id, now
    if action == "submit":
        row.submitted_by, row.submitted_at = ctx.actor.id, now
    elif action == "review":
        row.reviewed_by, row.reviewed_at = ctx.actor.id, now
    elif action == "sign":
        row.signed_by, row.signed_at = ctx.actor.id, now
        for a in step_assessments:
            a.status = "locked"
    s.flush()
    return _step_view(row)


def participant_steps(ctx: Context, participant_id: int) -> list[StepView]:
    """Every version of every step of a participant, oldest first."""
    part = access.access_participant(ctx, participant_id, "assessment.read")
    rows = ctx.session.scalars(select(StageStep).where(StageStep.participant_id == part.id)
                               .order_by(StageStep.stage, StageStep.step_version))
    order = {s: i for i, s in enumerate(stages.STAGES)}
    return sorted((_step_view(r) for r in rows), key=lambda v: (order[v.stage], v.step_version))


def overdue_steps(ctx: Context, as_of: dt.date) -> pd.DataFrame:
    """Steps of the caseload's active participants past their due date and not yet submitted.

    A step with no row yet counts as not started, due by the default schedule from enrolment.
    Columns: participant, study_code, stage, status, due_on, days_overdue.
    """
    stmt = access.scoped_participants(ctx, "assessment.read").where(Participant.status == "active")
    parts = list(ctx.session.scalars(stmt))
    rows = []
    for p in parts:
        current = current_steps(ctx.session, p.id)
        due = stages.due_dates(p.enrolled_on)
        for stage in stages.STAGES:
            r = current.get(stage)
            rows.append({"participant": p.id, "study_code": p.study_code, "stage": stage,
                         "status": r.status if r else stages.NOT_STARTED,
                         "due_on": (r.due_date if r and r.due_date else due[stage])})
    frame = pd.DataFrame(rows, columns=["participant", "study_code", "stage", "status", "due_on"])
    return stages.overdue(frame, as_of).reset_index(drop=True)


def steps_awaiting(ctx: Context) -> pd.DataFrame:
    """The steps waiting for the actor's hand: submitted ones to review (not their own) and, for
    a supervisor, reviewed ones to countersign; within the actor's scope, oldest first.

    Columns: participant_id (kept on the server by the caller), study_code, stage, status,
    submitted_at, waiting_for ("review" or "sign"). The start of a supervisor's day.
    """
    wanted = {stages.SUBMITTED: "review", stages.REVIEWED: "sign"}
    wanted = {status: act for status, act in wanted.items()
              if access.is_allowed(ctx.actor.role, STEP_PERMISSIONS[act])}
    columns = ["participant_id", "study_code", "stage", "status", "submitted_at", "waiting_for"]
    if not wanted:
        access.require(ctx, "step.review")  # the denial, audited as every other
    scoped = access.scoped_participants(ctx, "assessment.read").with_only_columns(Participant.id)
    rows = ctx.session.execute(
        select(StageStep.participant_id, Participant.study_code, StageStep.stage, StageStep.status,
               StageStep.submitted_at, StageStep.submitted_by)
        .join(Participant, Participant.id == StageStep.participant_id)
        .where(StageStep.participant_id.in_(scoped), StageStep.superseded_at.is_(None),
               StageStep.status.in_(tuple(wanted)))
        .order_by(StageStep.submitted_at, StageStep.id)).all()
    ctx.session.rollback()
    me = ctx.actor.id
    out = [{"participant_id": pid, "study_code": code, "stage": stage, "status": status,
            "submitted_at": at, "waiting_for": wanted[status]}
           for pid, code, stage, status, at, by in rows
           if by != me]  # four eyes: whoever submitted a step neither reviews nor signs it
    return pd.DataFrame(out, columns=columns)


@dataclass(frozen=True)
class CaseloadOverview:
    """A counselor's caseload at a glance (`caseload_overview`).

    - `participants`: one row per participant: participant_id, study_code, programme, cohort,
      status, enrolled_on, next_stage and next_due (the first step not yet submitted or skipped,
      for active participants), overdue_steps (how many), days_overdue (the most), last_session.
    - `cells`: one row per participant, step and instrument given at that step: participant_id,
      study_code, stage, instrument_id, status (matrix.completion.CELL_STATUSES).
    """

    participants: pd.DataFrame
    cells: pd.DataFrame


def caseload_overview(ctx: Context, as_of: dt.date) -> CaseloadOverview:
    """Next due step, last session, overdue marks and the completion matrix of the caseload.

    A handful of queries for the whole caseload (never one per participant), so that the page stays
    fast with thousands of participants.
    """
    from sqlalchemy import func

    from db.schema import CounselingSession
    from matrix import completion

    if isinstance(as_of, dt.datetime) or not isinstance(as_of, dt.date):
        raise ValidationError("matrix.date", "as_of must be a date, got {as_of!r}", as_of=as_of)
    scoped = access.scoped_participants(ctx, "assessment.read")
    access.require(ctx, "session.read")
    s = ctx.session
    ids = scoped.with_only_columns(Participant.id)
    parts = s.execute(
        scoped.join(Cohort, Participant.cohort_id == Cohort.id)
        .join(Programme, Cohort.programme_id == Programme.id)
        .with_only_columns(Participant.id, Participant.study_code, Programme.name, Cohort.name,
                           Participant.status, Participant.enrolled_on)
        .order_by(Participant.enrolled_on, Participant.id)).all()
    steps: dict[tuple[int, str], StageStep] = {}
    for r in s.scalars(select(StageStep).where(StageStep.participant_id.in_(ids))
                       .order_by(StageStep.step_version)):
        steps[(r.participant_id, r.stage)] = r  # the newest version wins
    sheets: dict[tuple[int, str, int, str], str] = {
        (pid, st, ver, inst): status for pid, st, ver, inst, status in s.execute(
            select(Assessment.participant_id, Assessment.stage, Assessment.step_version,
                   Assessment.instrument_id, Assessment.status)
            .where(Assessment.participant_id.in_(ids)))}
    last_session = dict(s.execute(
        select(CounselingSession.participant_id, func.max(CounselingSession.session_date))
        .where(CounselingSession.participant_id.in_(ids))
        .group_by(CounselingSession.participant_id)).all())

    step_rows = []
    for pid, _code, _prog, _cohort, status, enrolled in parts:
        due = stages.due_dates(enrolled)
        for stage in stages.STAGES:
            r = steps.get((pid, stage))
            step_rows.append({"participant": pid, "stage": stage,
                              "status": r.status if r is not None else stages.NOT_STARTED,
                              "due_on": r.due_date if r is not None and r.due_date else due[stage],
                              "step_version": r.step_version if r is not None else 1,
                              "active": status == "active"})
    step_frame = pd.DataFrame(step_rows, columns=["participant", "stage", "status", "due_on",
                                                  "step_version", "active"])
    active_steps = step_frame[step_frame["active"].astype(bool)]
    late = stages.overdue(active_steps[["participant", "stage", "status", "due_on"]], as_of)
    late_keys = set(zip(late["participant"], late["stage"], strict=True))
    late_count = late.groupby("participant").size().to_dict() if not late.empty else {}
    late_days = late.groupby("participant")["days_overdue"].max().to_dict() if not late.empty else {}
    next_due = {}
    for row in active_steps.itertuples():
        if row.participant not in next_due and row.status not in stages.DONE_STATUSES:
            next_due[row.participant] = (row.stage, row.due_on)

    by_stage = {stage: [i for i in default_instruments().values() if stage in i.stages]
                for stage in stages.STAGES}
    codes = {p[0]: p[1] for p in parts}
    cells = []
    for row in step_frame.itertuples():
        for inst in by_stage[row.stage]:
            sheet = sheets.get((row.participant, row.stage, row.step_version, inst.id))
            cells.append({"participant_id": row.participant, "study_code": codes[row.participant],
                          "stage": row.stage, "instrument_id": inst.id,
                          "status": completion.cell_status(
                              row.status, sheet, (row.participant, row.stage) in late_keys)})
    people = pd.DataFrame(
        [{"participant_id": pid, "study_code": code, "programme": prog, "cohort": cohort,
          "status": status, "enrolled_on": enrolled,
          "next_stage": next_due.get(pid, (None, None))[0],
          "next_due": next_due.get(pid, (None, None))[1],
          "overdue_steps": int(late_count.get(pid, 0)), "days_overdue": int(late_days.get(pid, 0)),
          "last_session": last_session.get(pid)}
         for pid, code, prog, cohort, status, enrolled in parts],
        columns=["participant_id", "study_code", "programme", "cohort", "status", "enrolled_on",
                 "next_stage", "next_due", "overdue_steps", "days_overdue", "last_session"])
    return CaseloadOverview(people, pd.DataFrame(
        cells, columns=["participant_id", "study_code", "stage", "instrument_id", "status"]))


# --- the participant matrix --------------------------------------------------------------------

@dataclass(frozen=True)
class ParticipantMatrix:
    """One young person's matrix, for their counselor.

    - `steps`: the current version of each step (stage, step_version, status, due_date,
      skip_reason, version).
    - `cells`: one row per step and domain scored there: stage, domain, kind (self_report or
      counselor_rating), instrument_id, score (a draft's score is computed from its answers),
      assessment_id, assessment_status, assessment_version, has_notes, step_status.
    - `goals` (goal_id, text, set_on, version) and `goal_reviews` (goal_id, stage, progress,
      has_note, version).
    - `change`: per domain and step pair, pre, post, rci and the Jacobson-Truax class from the
      instrument's norms.
    """

    participant_id: int
    study_code: str
    steps: pd.DataFrame
    cells: pd.DataFrame
    goals: pd.DataFrame
    goal_reviews: pd.DataFrame
    change: pd.DataFrame

    @property
    def grid(self) -> pd.DataFrame:
        """Steps x domains of scores, the matrix as counselors draw it."""
        if self.cells.empty:
            return pd.DataFrame(index=list(stages.STAGES))
        return self.cells.pivot_table(index="stage", columns="domain", values="score",
                                      aggfunc="first").reindex(list(stages.STAGES))


def _scores_of(a: Assessment, inst: Instrument) -> dict[str, float | None]:
    if a.status != "draft":
        return {sc.domain: sc.score for sc in a.scores}
    try:
        return dict(score_responses(inst, a.responses).domain_scores)
    except ValidationError:
        return {}


def participant_matrix(ctx: Context, participant_id: int) -> ParticipantMatrix:
    """Steps x domains with scores, ratings, notes flags and status; goals; change per domain.

    Goal texts are decrypted for the counselor, and each read is audited.
    """
    part = access.access_participant(ctx, participant_id, "assessment.read")
    with ctx.transaction() as s:
        current = current_steps(s, part.id)
        steps = pd.DataFrame(
            [{"stage": st, "step_version": r.step_version, "status": r.status, "due_date": r.due_date,
              "skip_reason": r.skip_reason, "version": r.version}
             for st in stages.STAGES if (r := current.get(st)) is not None],
            columns=["stage", "step_version", "status", "due_date", "skip_reason", "version"])
        cells = []
        for st, r in current.items():
            for a in s.scalars(select(Assessment).where(
                    Assessment.participant_id == part.id, Assessment.stage == st,
                    Assessment.step_version == r.step_version).order_by(Assessment.id)):
                inst = get_instrument(a.instrument_id, a.instrument_version)
                for domain, score in _scores_of(a, inst).items():
                    cells.append({
                        "stage": st, "domain": domain, "kind": inst.kind,
                        "instrument_id": a.instrument_id, "instrument_version": a.instrument_version,
                        "score": np.nan if score is None else float(score),
                        "assessment_id": a.id, "assessment_status": a.status,
                        "assessment_version": a.version, "has_notes": a.notes_enc is not None,
                        "step_status": r.status})
        cell_cols = ["stage", "domain", "kind", "instrument_id", "instrument_version", "score",
                     "assessment_id", "assessment_status", "assessment_version", "has_notes",
                     "step_status"]
        cells_df = pd.DataFrame(cells, columns=cell_cols)
        goal_rows, review_rows = [], []
        for g in s.scalars(select(Goal).where(Goal.participant_id == part.id).order_by(Goal.id)):
            text = ctx.decrypt(g.text_enc, table="goals", row_id=g.id, field_name="text",
                               participant_id=part.id)
            goal_rows.append({"goal_id": g.id, "text": text, "set_on": g.set_on, "version": g.version})
            for rv in s.scalars(select(GoalReview).where(GoalReview.goal_id == g.id)):
                review_rows.append({"goal_id": g.id, "stage": rv.stage, "progress": rv.progress,
                                    "has_note": rv.note_enc is not None, "version": rv.version})
        change_df = _change(cells_df)
        return ParticipantMatrix(
            part.id, part.study_code, steps, cells_df,
            pd.DataFrame(goal_rows, columns=["goal_id", "text", "set_on", "version"]),
            pd.DataFrame(review_rows, columns=["goal_id", "stage", "progress", "has_note", "version"]),
            change_df)


def _change(cells: pd.DataFrame) -> pd.DataFrame:
    columns = ["domain", "from_step", "to_step", "pre", "post", "rci", "change"]
    rows = []
    for domain, part in cells.groupby("domain", sort=False):
        by_stage = part.drop_duplicates("stage").set_index("stage")
        inst = get_instrument(by_stage["instrument_id"].iloc[0],
                              int(by_stage["instrument_version"].iloc[0]))
        norm = inst.norms.get(domain)
        if norm is None:
            continue
        for first, second in outcomes.STEP_PAIRS:
            if first not in by_stage.index or second not in by_stage.index:
                continue
            pre, post = float(by_stage.at[first, "score"]), float(by_stage.at[second, "score"])
            if np.isnan(pre) or np.isnan(post):
                continue
            rows.append({
                "domain": domain, "from_step": first, "to_step": second, "pre": pre, "post": post,
                "rci": change.reliable_change_index(pre, post, norm.sd, norm.reliability),
                "change": change.classify_change(pre, post, norm.sd, norm.reliability, norm.cutoff,
                                                 norm.higher_is_better)})
    return pd.DataFrame(rows, columns=columns)


# --- goals ---------------------------------------------------------------------------------------

def _require_draft_step(s: Session, participant_id: int, stage: str, what: Message) -> None:
    row = current_steps(s, participant_id).get(stage)
    status = row.status if row is not None else stages.NOT_STARTED
    if status != stages.DRAFT:
        if status == stages.NOT_STARTED:
            raise Conflict("matrix.goal_step_not_started",
                           "{what} only while {stage} is a draft; {stage} is '{status}'; record "
                           "its first assessment to start it",
                           what=what, stage=stage, status=status)
        raise Conflict("matrix.goal_step_not_draft",
                       "{what} only while {stage} is a draft; {stage} is '{status}'",
                       what=what, stage=stage, status=status)


def set_goal(ctx: Context, *, participant_id: int, text: str, set_on: dt.date) -> int:
    """Set a counseling goal while planning is a draft; the text is encrypted."""
    part = access.access_participant(ctx, participant_id, "assessment.record")
    text = (text or "").strip()
    if not text:
        raise ValidationError("matrix.goal_text_empty_write",
                              "The goal text is empty; write the goal as agreed with the young "
                              "person.")
    if set_on > ctx.today:
        raise ValidationError("matrix.goal_date_future_today",
                              "The goal date {set_on} is in the future (today is {today}).",
                              set_on=set_on, today=ctx.today)
    check_note(text, field="goal")
    with ctx.transaction() as s:
        _require_draft_step(s, part.id, "planning",
                            Message("matrix.goals_are_set", "goals are set"))
        g = Goal(participant_id=part.id, text_enc=ctx.keyring.encrypt(text), set_on=set_on,
                 created_by=ctx.actor.id)
        s.add(g)
        s.flush()
        return g.id


def review_goal(ctx: Context, *, goal_id: int, stage: str, progress: int, note: str | None = None,
                expected_version: int | None = None) -> int:
    """Rate a goal's progress (1..5) at midterm or conclusion, while that step is a draft."""
    if stage not in ("midterm", "conclusion"):
        raise ValidationError("matrix.goals_reviewed_midterm_conclusion",
                              "goals are reviewed at midterm or conclusion, not {stage!r}",
                              stage=stage)
    if isinstance(progress, bool) or not isinstance(progress, int) or not 1 <= progress <= 5:
        raise ValidationError("matrix.goal_progress_whole_number",
                              "goal progress must be a whole number 1..5, got {progress!r}",
                              progress=progress)
    access.require(ctx, "assessment.record")
    check_note(note, field="goal review note")
    goal = access.access_record(ctx, Goal, goal_id, "assessment.record", NotFound(
        "matrix.no_goal", "No goal {goal_id} in your caseload.", goal_id=goal_id))
    part = ctx.session.get(Participant, goal.participant_id)
    with ctx.transaction() as s:
        _require_draft_step(s, part.id, stage,
                            Message("matrix.goals_are_reviewed", "goals are reviewed"))
        rv = s.scalars(select(GoalReview).where(GoalReview.goal_id == goal_id,
                                                GoalReview.stage == stage)).one_or_none()
        if rv is None:
            rv = GoalReview(goal_id=goal_id, stage=stage, reviewed_by=ctx.actor.id)
            s.add(rv)
        elif expected_version is None or rv.version != expected_version:
            raise changed_since(s, "goal_reviews", rv.id, f"The {stage} review of goal {goal_id}",
                                expected=expected_version or 0, actual=rv.version)
        rv.progress = progress
        rv.note_enc = ctx.keyring.encrypt(note.strip()) if note and note.strip() else None
        rv.reviewed_by, rv.reviewed_at = ctx.actor.id, utcnow()
        s.flush()
        return rv.id


# --- programme outcomes (the committee's aggregates) ----------------------------------------

def _outcome_rows(ctx: Context, groupings: Sequence[str] = GROUPINGS) -> pd.DataFrame:
    """Long frame of signed scores: participant, step, domain, score and the grouping columns
    asked for (all by default; a table by one grouping needs only that one).

    Only locked assessments (of signed steps) count; after an unlock the signed version stays in
    until the new one is signed. Participant ids stay inside the use case.
    """
    from db.schema import AssessmentScore

    groupings = list(groupings)
    # Core reads (no ORM row objects): at 10,000 participants these are ~150,000 score rows.
    conn = ctx.session.connection()
    scores = read_frame(conn, select(
        Assessment.participant_id, Assessment.stage, Assessment.step_version,
        AssessmentScore.domain, AssessmentScore.score)
        .join(AssessmentScore, AssessmentScore.assessment_id == Assessment.id)
        .where(Assessment.status == "locked"),
        ["participant", "step", "step_version", "domain", "score"])
    if scores.empty:
        return pd.DataFrame(columns=["participant", "step", "domain", "score", *groupings])
    # The newest signed version of each step wins.
    df = (scores.sort_values("step_version", kind="stable")
          .drop_duplicates(["participant", "step", "domain"], keep="last"))
    people = read_frame(conn, select(Participant.id, Participant.age_at_referral, Cohort.name,
                                     Programme.name)
                        .join(Cohort, Cohort.id == Participant.cohort_id)
                        .join(Programme, Programme.id == Cohort.programme_id),
                        ["participant", "age", "cohort_name", "programme"]
                        ).set_index("participant")
    if "offence_type" in groupings:
        offences = read_frame(conn, select(Case.participant_id, CaseOffence.offence_type)
                              .join(CaseOffence, CaseOffence.case_id == Case.id),
                              ["participant", "offence_type"]).drop_duplicates()
        # The same offence group as the analyst's frames (vocab.offence_group).
        types = offences.groupby("participant")["offence_type"].agg(vocab.offence_group)
        people["offence_type"] = types.reindex(people.index).fillna(vocab.UNKNOWN_OFFENCE)
    # Cohort names repeat across programmes ("2024-1기"), so the programme is part of the label.
    people["cohort"] = people["programme"] + " " + people["cohort_name"]
    people["age_band"] = people["age"].map(vocab.age_band)
    df = df[df["participant"].isin(people.index)]
    for name in groupings:
        df[name] = people[name].reindex(df["participant"]).to_numpy()
    return df[["participant", "step", "domain", "score", *groupings]].reset_index(drop=True)


def _norms() -> dict[str, change.ChangeNorms]:
    out = {}
    for inst in default_instruments().values():
        for domain, n in inst.norms.items():
            out[domain] = change.ChangeNorms(n.sd, n.reliability, n.cutoff, n.higher_is_better)
    return out


def suppression_threshold(ctx: Context) -> int:
    """The deployment's threshold (DSCR_SUPPRESSION_THRESHOLD, default 10, never below 5)."""
    return ctx.runtime.settings.suppression_threshold


def programme_outcomes(ctx: Context, *, by: str | None = None) -> pd.DataFrame:
    """The committee's outcomes table, always passed through small-cell suppression.

    One row per group (and a "Total" margin when grouped), domain and step pair, with n, mean
    change, paired t and Wilcoxon tests, effect sizes (d_z, d_av, hedges_g; see
    `matrix.outcomes.PairedChange`) and shares reliably improved/recovered/deteriorated. Counts
    under `threshold` show as "<threshold", cells that would give them away as "x", and their
    figures as empty. No participant id or study code is in it.
    """
    access.require(ctx, "outcomes.read")
    if by is not None and by not in GROUPINGS:
        raise ValidationError("matrix.outcomes_grouped",
                              "outcomes can be grouped by {groupings}; got {by!r}",
                              groupings=', '.join(GROUPINGS), by=by)
    long = _outcome_rows(ctx, [by] if by else [])
    ctx.session.rollback()  # read only: end the read transaction
    return _suppressed_outcomes(long, by, suppression_threshold(ctx))


def _no_identifiers(out: pd.DataFrame, what: str) -> pd.DataFrame:
    leaked = {"participant", "study_code", "participant_id"} & set(out.columns)
    if leaked:  # pragma: no cover - a programming error, never a result
        raise RuntimeError(f"{what} would publish identifying columns {sorted(leaked)}")
    return out.reset_index(drop=True)


def _coded(long: pd.DataFrame) -> pd.DataFrame:
    """Step and domain as categories: coded once instead of in every grouping of the tables
    (which come out the same, to the dtype; tests/matrix/test_committee_outcomes.py)."""
    steps, domains = set(long["step"]), set(long["domain"])
    return long.assign(
        step=pd.Categorical(long["step"], categories=[s for s in outcomes.STEPS if s in steps]
                            + sorted(steps - set(outcomes.STEPS))),
        domain=pd.Categorical(long["domain"], categories=sorted(domains)))


def _suppressed_outcomes(long: pd.DataFrame, by: str | None, threshold: int) -> pd.DataFrame:
    table = outcomes.outcomes_table(long, norms=_norms(), by=by, margins=by is not None)
    keys = ["domain", "from_step", "to_step"]
    result = suppress(table, "n", threshold, group_cols=[by] if by else [], key_cols=keys)
    return _no_identifiers(result.table, "outcomes table")


def three_step_model(ctx: Context, *, domain: str, covariates: Sequence[str] = ()
                     ) -> outcomes.ThreeStepModel:
    """The mixed model over the three steps for one domain (REML, random intercept per person).

    Covariates may be the grouping columns (cohort, programme, age_band, offence_type). Refused
    when fewer than `threshold` participants have a score in the domain.
    """
    access.require(ctx, "outcomes.read")
    threshold = suppression_threshold(ctx)
    bad = [c for c in covariates if c not in GROUPINGS]
    if bad:
        raise ValidationError("matrix.covariates_among",
                              "covariates must be among {groupings}; got {bad}",
                              groupings=', '.join(GROUPINGS), bad=bad)
    long = _outcome_rows(ctx, covariates)
    ctx.session.rollback()
    known = sorted(long["domain"].unique())
    if domain not in known:
        raise ValidationError("matrix.no_signed_scores_domain",
                              "no signed scores in domain {domain!r}; domains: {known}",
                              domain=domain, known=', '.join(known))
    data = long[long["domain"] == domain]
    n = data["participant"].nunique()
    if n < threshold:
        raise ValidationError(
            "matrix.model_needs_least_participants",
            "the model of {domain} needs at least {threshold} participants with signed scores; "
            "there are fewer, so it is not shown",
            domain=domain, threshold=threshold)
    return outcomes.three_step_model(data, score="score", step="step", participant="participant",
                                     covariates=tuple(covariates))


# --- the committee's programme reviews --------------------------------------------------------

def record_programme_review(ctx: Context, *, programme_id: int, indicator: str, score: int,
                            period: str, comment: str | None = None,
                            indicators: Sequence[str] = REVIEW_INDICATORS) -> int:
    """A committee member rates a programme on one indicator for a period; a new rating replaces
    the member's earlier one for the same programme, indicator and period."""
    access.require(ctx, "review.record")
    if indicator not in indicators:
        raise ValidationError("matrix.unknown_indicator_rubric",
                              "unknown indicator {indicator!r}; the rubric has {indicators}",
                              indicator=indicator, indicators=', '.join(indicators))
    lo, hi = REVIEW_SCALE
    if isinstance(score, bool) or not isinstance(score, int) or not lo <= score <= hi:
        raise ValidationError("matrix.score_whole_number",
                              "{indicator}: the score must be a whole number {lo}..{hi}, got "
                              "{score!r}",
                              indicator=indicator, lo=lo, hi=hi, score=score)
    period = (period or "").strip()
    kind = vocab.period_kind(period)
    if kind is None:
        raise ValidationError("matrix.review_period_form",
                              "the review period {period!r} is not a period: give a half "
                              "(2026-H2), a quarter (2026-Q3), a month (2026-10), a date range "
                              "(2026-01-05~2026-06-30) or a cohort (cohort:<its name>)",
                              period=period)
    check_note(comment, field="review comment")
    with ctx.transaction() as s:
        if s.get(Programme, programme_id) is None:
            raise NotFound("matrix.no_programme",
                           "No programme {programme_id}.",
                           programme_id=programme_id)
        name = period[len(vocab.COHORT_PERIOD_PREFIX):].strip()
        if kind == "cohort" and s.scalar(select(Cohort.id).where(
                Cohort.programme_id == programme_id, Cohort.name == name)) is None:
            raise ValidationError("matrix.review_period_cohort",
                                  "programme {programme_id} has no cohort named {name!r}",
                                  programme_id=programme_id, name=name)
        row = s.scalars(select(ProgrammeReview).where(
            ProgrammeReview.programme_id == programme_id, ProgrammeReview.rater_id == ctx.actor.id,
            ProgrammeReview.indicator == indicator, ProgrammeReview.period == period)).one_or_none()
        if row is None:
            row = ProgrammeReview(programme_id=programme_id, rater_id=ctx.actor.id,
                                  indicator=indicator, period=period)
            s.add(row)
        row.score, row.comment = score, (comment.strip() if comment else None)
        s.flush()
        return row.id


@dataclass(frozen=True)
class ReviewSummary:
    """Mean rating per programme and indicator, and agreement between raters (ICC)."""

    programmes: pd.DataFrame
    agreement: pd.DataFrame
    note: Message | str = ""  # why there is no agreement table, or ""


def programme_review_summary(ctx: Context, *, period: str | None = None,
                             indicators: Sequence[str] = REVIEW_INDICATORS) -> ReviewSummary:
    access.require(ctx, "outcomes.read")
    stmt = (select(Programme.name, ProgrammeReview.rater_id, ProgrammeReview.indicator,
                   ProgrammeReview.score)
            .join(Programme, Programme.id == ProgrammeReview.programme_id))
    if period is not None:
        stmt = stmt.where(ProgrammeReview.period == period)
    ratings = pd.DataFrame(ctx.session.execute(stmt).all(),
                           columns=["programme", "rater", "indicator", "score"])
    ctx.session.rollback()
    if ratings.empty:
        empty = reviews.programme_summary(ratings, indicators)
        return ReviewSummary(empty, pd.DataFrame(),
                             Message("matrix.no_ratings_yet", "no ratings yet"))
    if period is None and ratings.duplicated(["programme", "rater", "indicator"]).any():
        raise ValidationError("matrix.ratings_several_periods_choose",
                              "ratings from several periods: choose one period to summarise")
    # Raters are committee members; the summary shows only how many rated, never who.
    ratings["rater"] = ratings["rater"].astype("category").cat.codes
    summary = reviews.programme_summary(ratings, indicators, REVIEW_SCALE)
    try:
        agreement = reviews.rater_agreement(ratings, indicators, REVIEW_SCALE)
        note = ""
    except ValidationError as exc:
        agreement, note = pd.DataFrame(), exc.message
    return ReviewSummary(summary, agreement, note)


# --- the committee's pages: outcomes overview, printable report, cohort sign-off ------------------

@dataclass(frozen=True)
class CommitteeOutcomes:
    """Everything the committee's outcomes page shows, each table already through suppression.

    - `table`: `programme_outcomes` plus `d_z_label` and `d_av_label` (Cohen's benchmarks, see
      `matrix.report.effect_size_label`).
    - `step_means`: [by,] domain, step, n, mean, sd, ci_lower, ci_upper (`outcomes.step_means`).
    - `models`: the mixed model's fixed effects per domain: domain, term, coef, se, z, p, ci_lower,
      ci_upper, n_participants, converged. Over everyone (not by group), intercept-only random
      effects; `model_notes` says why a domain has none (too few participants, no fit).
    """

    by: str | None
    threshold: int
    table: pd.DataFrame
    step_means: pd.DataFrame
    models: pd.DataFrame
    model_notes: dict[str, str]


MODEL_COLUMNS = ["domain", "term", "coef", "se", "z", "p", "ci_lower", "ci_upper",
                 "n_participants", "converged"]


def _committee_models(long: pd.DataFrame, threshold: int) -> tuple[pd.DataFrame, dict[str, str]]:
    frames, notes = [], {}
    for domain, data in long.groupby("domain", sort=True):
        if data["participant"].nunique() < threshold:
            notes[domain] = f"fewer than {threshold} participants with signed scores"
            continue
        try:
            # The page shows fixed effects only: skip the random-slope test (two more fits).
            fit = outcomes.three_step_model(data, score="score", step="step",
                                            participant="participant", test_random_slope=False)
        except (ValidationError, np.linalg.LinAlgError, ValueError) as exc:
            notes[domain] = f"the model could not be fitted ({exc})"
            continue
        fe = fit.fixed_effects.reset_index()
        fe.insert(0, "domain", domain)
        fe["n_participants"], fe["converged"] = fit.n_participants, fit.converged
        frames.append(fe[MODEL_COLUMNS])
    models = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=MODEL_COLUMNS)
    return models, notes


def committee_outcomes(ctx: Context, *, by: str | None = None,
                       models: bool = True) -> CommitteeOutcomes:
    """The outcomes table, step means and mixed models for the committee, from one read.

    Every count under `threshold` is suppressed (with its complements) before anything leaves;
    the models are fitted only for domains with at least `threshold` participants.
    """
    from matrix.report import effect_size_label

    access.require(ctx, "outcomes.read")
    threshold = suppression_threshold(ctx)
    if by is not None and by not in GROUPINGS:
        raise ValidationError("matrix.outcomes_grouped",
                              "outcomes can be grouped by {groupings}; got {by!r}",
                              groupings=', '.join(GROUPINGS), by=by)
    long = _outcome_rows(ctx, [by] if by else [])
    ctx.session.rollback()
    coded = _coded(long)
    table = _suppressed_outcomes(coded, by, threshold)
    table["d_z_label"] = table["d_z"].map(effect_size_label)
    table["d_av_label"] = table["d_av"].map(effect_size_label)
    means = outcomes.step_means(coded, by=by, margins=by is not None)
    means = suppress(means, "n", threshold, group_cols=[by] if by else [],
                     key_cols=["domain", "step"]).table
    fitted, notes = (_committee_models(long, threshold) if models
                     else (pd.DataFrame(columns=MODEL_COLUMNS), {}))
    return CommitteeOutcomes(by, threshold, table, _no_identifiers(means, "step means"),
                             fitted, notes)


def review_programmes(ctx: Context) -> pd.DataFrame:
    """The programmes a committee member can rate: programme_id, programme (by name)."""
    access.require(ctx, "review.record")
    rows = ctx.session.execute(select(Programme.id, Programme.name).order_by(Programme.name)).all()
    ctx.session.rollback()
    return pd.DataFrame(rows, columns=["programme_id", "programme"])


def review_cohorts(ctx: Context, programme_id: int) -> list[str]:
    """The names of a programme's cohorts, newest first: the named periods it can be rated for."""
    access.require(ctx, "review.record")
    names = ctx.session.scalars(select(Cohort.name).where(Cohort.programme_id == programme_id)
                                .order_by(Cohort.start_date.desc(), Cohort.name)).all()
    ctx.session.rollback()
    return list(names)


def my_programme_reviews(ctx: Context, *, period: str) -> pd.DataFrame:
    """The acting member's own ratings for a period: programme_id, indicator, score, comment."""
    access.require(ctx, "review.record")
    rows = ctx.session.execute(
        select(ProgrammeReview.programme_id, ProgrammeReview.indicator, ProgrammeReview.score,
               ProgrammeReview.comment)
        .where(ProgrammeReview.rater_id == ctx.actor.id, ProgrammeReview.period == period)).all()
    ctx.session.rollback()
    return pd.DataFrame(rows, columns=["programme_id", "indicator", "score", "comment"])


SIGNOFF_COLUMNS = {stages.SUBMITTED: "awaiting_review", stages.REVIEWED: "awaiting_signoff",
                   stages.SIGNED: "signed"}


def _cohort_labels(s: Session) -> dict[str, int]:
    # Cohort names repeat across programmes ("2024-1기"): the label carries the programme, as in
    # the outcomes table's cohort column.
    rows = s.execute(select(Cohort.id, Programme.name, Cohort.name)
                     .join(Programme, Programme.id == Cohort.programme_id)).all()
    return {f"{prog} {name}": cid for cid, prog, name in rows}


def conclusions_awaiting_signoff(ctx: Context) -> pd.DataFrame:
    """Per cohort, how many conclusion steps await review, await sign-off, and are signed.

    The committee signs off by cohort without seeing who is in it: counts only, through the same
    suppression as every aggregate ("<10", "x"), with a "Total" row. Columns: cohort,
    awaiting_review, awaiting_signoff, signed. Only each participant's current step version counts.
    """
    from sqlalchemy import func

    access.require(ctx, "outcomes.read")
    access.require(ctx, "conclusion.signoff")
    threshold = suppression_threshold(ctx)
    s = ctx.session
    labels = _cohort_labels(s)
    counted = dict(((cid, status), n) for cid, status, n in s.execute(
        select(Participant.cohort_id, StageStep.status, func.count())
        .join(Participant, Participant.id == StageStep.participant_id)
        .where(StageStep.stage == "conclusion", StageStep.superseded_at.is_(None),
               StageStep.status.in_(tuple(SIGNOFF_COLUMNS)))
        .group_by(Participant.cohort_id, StageStep.status)).all())
    s.rollback()
    rows = []
    for label, cid in sorted(labels.items()):
        for status in SIGNOFF_COLUMNS:
            rows.append({"cohort": label, "status": status, "n": int(counted.get((cid, status), 0))})
    for status in SIGNOFF_COLUMNS:
        rows.append({"cohort": "Total", "status": status,
                     "n": sum(r["n"] for r in rows if r["status"] == status and r["cohort"] != "Total")})
    columns = ["cohort", *SIGNOFF_COLUMNS.values()]
    if not labels:
        return pd.DataFrame(columns=columns)
    long = suppress(pd.DataFrame(rows), "n", threshold, derived_cols=[], group_cols=["cohort"],
                    key_cols=["status"]).table
    wide = long.pivot(index="cohort", columns="status", values="n").rename(columns=SIGNOFF_COLUMNS)
    order = [*sorted(labels), "Total"]
    wide = wide.reindex(order).reset_index()
    wide.columns.name = None
    return wide[columns]


def sign_off_cohort(ctx: Context, cohort: str, *, as_of: dt.datetime, decision: str) -> int:
    """Sign every reviewed conclusion step of a cohort at once, with the committee's decision.

    `cohort` is the label `conclusions_awaiting_signoff` shows; `as_of` is when the member saw the
    counts: a step reviewed after that waits for the next sign-off, so nobody signs what they were
    not shown. Each step goes through `step_action`'s "sign" rules (its assessments are locked), all
    in one transaction: a step changed meanwhile gives a Conflict and nothing is signed. The audit
    log keeps the cohort, the number signed and that a decision was given (its length and hash,
    never its text, and the `reason_texts` row that keeps it encrypted for the committee's
    `signoff_decisions`). Returns that number.
    """
    access.require(ctx, "outcomes.read")
    access.require(ctx, "conclusion.signoff")
    if not isinstance(as_of, dt.datetime):
        raise ValidationError("matrix.date_time_counts_were",
                              "as_of must be the date and time the counts were read, got "
                              "{as_of!r}",
                              as_of=as_of)
    decision = (decision or "").strip()
    if len(decision) < 5:
        raise ValidationError("matrix.write_committee_decision_least",
                              "Write the committee's decision (at least 5 characters), e.g. the "
                              "meeting and what was agreed; it is kept with the sign-off.")
    check_note(decision, field="sign-off decision")
    from db import audit

    s = ctx.session
    cid = _cohort_labels(s).get((cohort or "").strip())
    if cid is None:
        s.rollback()
        raise NotFound("matrix.no_cohort_named_choose",
                       "No cohort named {cohort!r}; choose one from the list.",
                       cohort=cohort)
    with converting_stale(ctx, "stage_steps", f"The conclusion steps of {cohort}", None) as target:
        due = s.execute(
            select(StageStep.participant_id, StageStep.version)
            .join(Participant, Participant.id == StageStep.participant_id)
            .where(Participant.cohort_id == cid, StageStep.stage == "conclusion",
                   StageStep.superseded_at.is_(None), StageStep.status == stages.REVIEWED,
                   StageStep.reviewed_at <= as_of)
            .order_by(StageStep.participant_id)).all()
        if not due:
            raise Conflict("matrix.no_conclusion_step_reviewed",
                           "No conclusion step of {cohort} was reviewed and awaiting sign-off "
                           "at {as_of:%Y-%m-%d %H:%M}; reload the page to see the current "
                           "counts.",
                           cohort=cohort, as_of=as_of)
        for participant_id, version in due:
            # The cohort is the committee's scope: it signs what the counts showed, never a
            # participant it chose by id (it has no participant-level permission at all).
            part = s.get(Participant, participant_id)
            _transition(ctx, part, "conclusion", "sign", None, version, target)
        kept = reasons.keep(ctx, "sign_off", decision, cohort_id=cid)
        audit.record(s, "sign_off", table_name="cohorts", row_id=cid,
                     detail=f"conclusion sign-off of {cohort}: {len(due)} step(s); "
                            + audit.about_text("decision", decision, kept_as=kept))
    return len(due)


@dataclass(frozen=True)
class SignoffDecision(reasons.ReasonView):
    """A past sign-off decision as the committee reads it: the kept reason with its cohort's name;
    `text` is None once it was erased."""

    cohort: str = "?"


def signoff_decisions(ctx: Context, *, limit: int = 50) -> list[SignoffDecision]:
    """The committee's past sign-off decisions, newest first, decrypted; each read is recorded."""
    from db.schema import ReasonText

    access.require(ctx, "conclusion.decisions")
    with ctx.transaction() as s:
        labels = {cid: label for label, cid in _cohort_labels(s).items()}
        rows = s.scalars(select(ReasonText)
                         .where(ReasonText.kind.in_(access.REASON_KINDS["conclusion.decisions"]))
                         .order_by(ReasonText.written_at.desc(), ReasonText.id.desc())
                         .limit(limit)).all()
        return [SignoffDecision(**vars(v), cohort=labels.get(v.cohort_id, "?"))
                for v in reasons.views(ctx, rows)]


def correct_signoff_decision(ctx: Context, reason_id: int, *, text: str) -> None:
    """Correct the text of a past sign-off decision (a wrong meeting date, a typo); the signed
    steps stay as they are, and the log keeps the corrected text's length and hash."""
    text = (text or "").strip()
    row = access.access_reason(ctx, reason_id, "conclusion.amend")
    if len(text) < 5:
        raise ValidationError("matrix.write_committee_decision_least",
                              "Write the committee's decision (at least 5 characters), e.g. the "
                              "meeting and what was agreed; it is kept with the sign-off.")
    check_note(text, field="sign-off decision")
    with reasons.changing(ctx, row):
        reasons.correct(ctx, row, text)


def erase_signoff_decision(ctx: Context, reason_id: int) -> bool:
    """Erase the text of a past sign-off decision for good (the sign-off itself stays);
    False when it was erased already."""
    row = access.access_reason(ctx, reason_id, "conclusion.amend")
    with reasons.changing(ctx, row):
        return reasons.erase(ctx, row)


__all__ = [
    "CaseloadOverview",
    "CommitteeOutcomes",
    "GROUPINGS",
    "ParticipantMatrix",
    "REVIEW_INDICATORS",
    "ReviewSummary",
    "SignoffDecision",
    "STEP_PERMISSIONS",
    "StepView",
    "caseload_overview",
    "steps_awaiting",
    "committee_outcomes",
    "conclusions_awaiting_signoff",
    "correct_signoff_decision",
    "erase_signoff_decision",
    "my_programme_reviews",
    "overdue_steps",
    "participant_matrix",
    "participant_steps",
    "programme_outcomes",
    "programme_review_summary",
    "record_programme_review",
    "review_goal",
    "review_cohorts",
    "review_programmes",
    "set_goal",
    "sign_off_cohort",
    "signoff_decisions",
    "step_action",
    "three_step_model",
]
