"""Use cases of assessments: record a draft, amend it, finalise it, list them, read their notes."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from assessment.instruments import Instrument, get_instrument
from assessment.scoring import score_responses
from db import access
from casework.notes_guard import check_note
from db.conflicts import changed_since, converting_stale, last_change
from db.context import Context
from db.steps import current_steps, new_step
from db.schema import Assessment, AssessmentScore, utcnow
from errors import Conflict, Message, NotFound, ValidationError
from matrix import stages


def _open_step_for_editing(ctx: Context, participant, stage: str):
    """The step row answers are written to: a draft, started (with its gate checked) if need be."""
    s = ctx.session
    current = current_steps(s, participant.id, lock=stage)
    states = stages.states_of(current)
    row = current.get(stage)
    if row is None or row.status == stages.NOT_STARTED:
        stages.apply_transition(states, stage, "start")
        if row is None:
            row = new_step(participant.id, stage, stages.due_dates(participant.enrolled_on)[stage])
            s.add(row)
        row.status = stages.DRAFT
        row.updated_by, row.updated_at = ctx.actor.id, utcnow()
        s.flush()
        return row
    stages.check_editable(states, stage)
    return row


@dataclass(frozen=True)
class AssessmentView:
    """One administration of an instrument at a step, without its notes (read them apart)."""

    id: int
    participant_id: int
    stage: str
    step_version: int
    instrument_id: str
    instrument_version: int
    status: str
    administered_on: dt.date
    responses: Mapping[str, Any]
    scores: Mapping[str, float]
    has_notes: bool
    version: int
    created_by: int
    finalised_by: int | None
    finalised_at: dt.datetime | None


def _view(a: Assessment) -> AssessmentView:
    return AssessmentView(
        a.id, a.participant_id, a.stage, a.step_version, a.instrument_id, a.instrument_version,
        a.status, a.administered_on, dict(a.responses), {sc.domain: sc.score for sc in a.scores},
        a.notes_enc is not None, a.version, a.created_by, a.finalised_by, a.finalised_at)


def _split_form(inst: Instrument, responses: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Item answers apart from the form's free-text fields (risk notes), which are encrypted."""
    free_ids = {f.id for f in inst.free_text_fields}
    answers = {k: v for k, v in responses.items() if k not in free_ids}
    free = {k: str(v).strip() for k, v in responses.items() if k in free_ids and v and str(v).strip()}
    return answers, free


def _check_date(administered_on: dt.date, ctx: Context) -> None:
    if isinstance(administered_on, dt.datetime) or not isinstance(administered_on, dt.date):
        raise ValidationError("assessment.administered_date",
                              "administered_on must be a date, got {administered_on!r}",
                              administered_on=administered_on)
    if administered_on > ctx.today:
        raise ValidationError(
            "assessment.administered_future_today_give",
            "administered_on {administered_on} is in the future (today is {today}); give the "
            "date the young person answered",
            administered_on=administered_on, today=ctx.today)


def _load(ctx: Context, assessment_id: int, action: str) -> Assessment:
    """An assessment of a participant the actor may see; the same NotFound otherwise."""
    return access.access_record(
        ctx, Assessment, assessment_id, action,
        NotFound("assessment.no_assessment", "No assessment {assessment_id} in your caseload.",
                 assessment_id=assessment_id))


def _check_version(ctx: Context, a: Assessment, expected_version: int | None, what: str) -> None:
    if expected_version is None:
        raise Conflict(
            "assessment.exist_already_assessment_version",
            "{what} exist already (assessment {a_id}, version {a_version}, last saved by "
            "{last_change}); open them and save with expected_version={a_version} to change them",
            what=what, a_id=a.id, a_version=a.version,
            last_change=last_change(ctx.session, 'assessments', a.id))
    if a.version != expected_version:
        raise changed_since(ctx.session, "assessments", a.id, what, expected=expected_version,
                            actual=a.version)


def record_draft(ctx: Context, *, participant_id: int, stage: str, instrument_id: str,
                 responses: Mapping[str, Any], administered_on: dt.date, notes: str | None = None,
                 expected_version: int | None = None) -> int:
    """Save answers to an instrument at a step as a draft; returns the assessment id.

    The answers are validated as the instrument scores them (a bad item is named). The step must
    be a draft: a step not started yet is started here, if its gate allows (midterm only after
    planning is signed, ...). A second save of the same instrument at the same step amends the
    draft (or a finalised answer sheet, which goes back to draft) and needs the `expected_version`
    the caller read; a stale one is refused with a Conflict naming who saved in between.
    Notes and the form's free-text fields are stored encrypted.
    """
    part = access.access_participant(ctx, participant_id, "assessment.record")
    inst = get_instrument(instrument_id)
    if stage not in inst.stages:
        raise ValidationError(
            "assessment.given_not",
            "{inst_id} is given at {inst_stages}, not at {stage!r}",
            inst_id=inst.id, inst_stages=', '.join(inst.stages), stage=stage)
    answers, free = _split_form(inst, responses)
    score_responses(inst, answers)  # validates; the stored scores are made at finalise
    _check_date(administered_on, ctx)
    text = {**free, **({"notes": notes.strip()} if notes and notes.strip() else {})}
    for field_name, value in text.items():
        check_note(value, field=field_name)  # victims' identities are never written down
    notes_enc = ctx.keyring.encrypt(json.dumps(text, ensure_ascii=False)) if text else None
    what = Message("assessment.answers_at", "The {instrument} answers at {stage}",
                   instrument=inst.id, stage=stage)
    with converting_stale(ctx, "assessments", what, expected_version) as target:
        s = ctx.session
        step = _open_step_for_editing(ctx, part, stage)
        a = s.scalars(select(Assessment).where(
            Assessment.participant_id == part.id, Assessment.stage == stage,
            Assessment.instrument_id == inst.id, Assessment.step_version == step.step_version)
        ).one_or_none()
        if a is None:
            a = Assessment(participant_id=part.id, stage=stage, instrument_id=inst.id,
                           instrument_version=inst.version, step_version=step.step_version,
                           created_by=ctx.actor.id)
            s.add(a)
        else:
            target["row_id"] = a.id
            _check_version(ctx, a, expected_version, what)
            if a.status == "locked":  # pragma: no cover - a draft step holds no locked answers
                raise Conflict("assessment.locked_unlock_step_reason",
                               "{what} are locked; unlock the step with a reason to change them",
                               what=what)
            a.scores.clear()
            a.finalised_by = a.finalised_at = None
        a.instrument_version = inst.version
        a.responses = answers
        a.notes_enc = notes_enc
        a.administered_on = administered_on
        a.status = "draft"
        s.flush()
        return a.id


def finalise(ctx: Context, assessment_id: int, expected_version: int) -> None:
    """Score a draft and store its domain scores (checked against the instrument's range)."""
    a = _load(ctx, assessment_id, "assessment.record")
    what = Message("assessment.answers_at", "The {instrument} answers at {stage}",
                   instrument=a.instrument_id, stage=a.stage)
    with converting_stale(ctx, "assessments", what, expected_version) as target:
        s = ctx.session
        target["row_id"] = a.id
        _check_version(ctx, a, expected_version, what)
        if a.status != "draft":
            raise Conflict("assessment.already_draft_finalised",
                           "{what} are '{a_status}' already; only a draft is finalised",
                           what=what, a_status=a.status)
        current = current_steps(s, a.participant_id, lock=a.stage).get(a.stage)
        if current is None or current.step_version != a.step_version:
            raise Conflict("assessment.belong_old_version_step",
                           "{what} belong to an old version of the {a_stage} step; work on the "
                           "current version",
                           what=what, a_stage=a.stage)
        stages.check_editable({a.stage: current.status}, a.stage)
        inst = get_instrument(a.instrument_id, a.instrument_version)
        result = score_responses(inst, a.responses)
        scored = {d: v for d, v in result.domain_scores.items() if v is not None}
        if not scored:
            raise ValidationError(
                "assessment.too_few_items_answered",
                "{what}: too few items answered to score any domain (at least "
                "{inst_min_answered:.0%} of each domain's items are needed)",
                what=what, inst_min_answered=inst.scoring.min_answered)
        for domain, value in scored.items():
            lo, hi = inst.score_range(domain)
            a.scores.append(AssessmentScore(domain=domain, score=float(value), scale_min=lo,
                                            scale_max=hi))
        a.status = "final"
        a.finalised_by, a.finalised_at = ctx.actor.id, utcnow()
        s.flush()


def list_assessments(ctx: Context, participant_id: int, *, stage: str | None = None,
                     all_versions: bool = False) -> list[AssessmentView]:
    """A participant's assessments, current step versions only unless `all_versions`."""
    part = access.access_participant(ctx, participant_id, "assessment.read")
    stmt = select(Assessment).where(Assessment.participant_id == part.id)
    if stage is not None:
        if stage not in stages.STAGES:
            raise ValidationError("assessment.unknown_step_steps",
                                  "unknown step {stage!r}; steps are {stages_stages}",
                                  stage=stage, stages_stages=list(stages.STAGES))
        stmt = stmt.where(Assessment.stage == stage)
    rows = list(ctx.session.scalars(stmt.order_by(Assessment.stage, Assessment.step_version,
                                                  Assessment.id)))
    if not all_versions:
        current = {st: r.step_version for st, r in current_steps(ctx.session, part.id).items()}
        rows = [a for a in rows if a.step_version == current.get(a.stage, a.step_version)]
    order = {s: i for i, s in enumerate(stages.STAGES)}
    return sorted((_view(a) for a in rows), key=lambda v: (order[v.stage], v.step_version, v.id))


def open_drafts(ctx: Context) -> list[tuple[str, AssessmentView]]:
    """The answer sheets of the caseload still saved as drafts, on the current version of their
    step, oldest first, each with its participant's study code: what a counselor left open."""
    from db.schema import Participant, StageStep

    scoped = access.scoped_participants(ctx, "assessment.record").with_only_columns(Participant.id)
    rows = ctx.session.execute(
        select(Assessment, Participant.study_code)
        .join(Participant, Participant.id == Assessment.participant_id)
        .join(StageStep, (StageStep.participant_id == Assessment.participant_id)
              & (StageStep.stage == Assessment.stage)
              & (StageStep.step_version == Assessment.step_version))
        .where(Assessment.participant_id.in_(scoped), Assessment.status == "draft",
               StageStep.superseded_at.is_(None))
        .order_by(Assessment.administered_on, Assessment.id)).all()
    out = [(code, _view(a)) for a, code in rows]
    ctx.session.rollback()
    return out


def read_notes(ctx: Context, assessment_id: int) -> dict[str, str]:
    """The notes and free-text fields of an assessment, decrypted; the read is audited."""
    a = _load(ctx, assessment_id, "assessment.read")
    if a.notes_enc is None:
        return {}
    with ctx.transaction():
        text = ctx.decrypt(a.notes_enc, table="assessments", row_id=a.id, field_name="notes",
                           participant_id=a.participant_id)
    return json.loads(text) if text else {}


__all__ = ["AssessmentView", "finalise", "list_assessments", "read_notes", "record_draft"]
