"""Stage rules for the three steps as a pure state machine: allowed writes and due dates.

Each step (planning, midterm, conclusion) of a participant has a status:

    not_started --start--> draft --submit--> submitted --review--> reviewed --sign--> signed
                                 <--return (reason)--  reviewed
    signed --unlock (reason)--> draft, as a new version (version + 1; the service keeps the old one)
    not_started | draft --skip (reason: dropout, transfer, other)--> skipped
    skipped --reopen (reason)--> not_started, only while no later step has started

Gating (checked on `start`):
- midterm starts only once planning is signed, or skipped for "transfer": a young person who
  joined from another programme had their planning step there, so there is nothing to wait for.
  Planning skipped for dropout or other reasons blocks midterm: the plan the midterm reviews does
  not exist. (A bare "skipped" with no known reason blocks too, the safe side.)
- conclusion starts only once midterm is signed or skipped (for any reason: a missed midterm must
  not keep a young person from finishing).
Only a draft can be edited (`check_editable`); signed means locked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

import pandas as pd

import vocab
from errors import Conflict, Message, ValidationError
from vocab import DRAFT, NOT_STARTED, REVIEWED, SIGNED, SKIPPED, SUBMITTED

STAGES = vocab.STEPS

STATUSES = vocab.STEP_STATUSES
SKIP_REASONS = vocab.SKIP_REASONS
# Planning skipped for one of these does not block midterm.
PLANNING_SKIPS_THAT_ALLOW_MIDTERM = ("transfer",)

# action -> (statuses it may leave, status it leads to)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "start": ((NOT_STARTED,), DRAFT),
    "submit": ((DRAFT,), SUBMITTED),
    "review": ((SUBMITTED,), REVIEWED),
    "sign": ((REVIEWED,), SIGNED),
    "return": ((REVIEWED,), DRAFT),
    "unlock": ((SIGNED,), DRAFT),
    "skip": ((NOT_STARTED, DRAFT), SKIPPED),
    "reopen": ((SKIPPED,), NOT_STARTED),
}
ACTIONS = tuple(TRANSITIONS)
REASON_REQUIRED = ("return", "unlock", "reopen")

# What a counselor should do instead, by status, when an action does not fit it.
_NEXT_STEP = {
    NOT_STARTED: Message("matrix.next_start", "start it first"),
    DRAFT: Message("matrix.next_submit", "submit it first"),
    SUBMITTED: Message("matrix.next_review", "it must be reviewed first"),
    REVIEWED: Message("matrix.next_sign", "sign it, or return it for changes with a reason"),
    SIGNED: Message("matrix.next_unlock", "it is locked; unlock it with a reason to change it"),
    SKIPPED: Message("matrix.next_reopen", "reopen it with a reason first"),
}

DEFAULT_SCHEDULE: Mapping[str, timedelta] = {
    "planning": timedelta(days=14),
    "midterm": timedelta(weeks=8),
    "conclusion": timedelta(weeks=16),
}
DONE_STATUSES = (SUBMITTED, REVIEWED, SIGNED, SKIPPED)


@dataclass(frozen=True)
class StepState:
    """One step's status, its version (raised by each unlock) and why it was skipped."""

    status: str = NOT_STARTED
    version: int = 1
    skip_reason: str | None = None


def states_of(rows: Mapping[str, object]) -> dict[str, StepState]:
    """The stage states of stored step rows (anything with status, step_version, skip_reason)."""
    return {stage: StepState(r.status, r.step_version, r.skip_reason) for stage, r in rows.items()}


def _state(value: str | StepState | None) -> StepState:
    if value is None:
        return StepState()
    if isinstance(value, StepState):
        state = value
    elif isinstance(value, str):
        state = StepState(status=value)
    else:
        raise ValidationError("matrix.step_status_status_name",
                              "a step status must be a status name or StepState, got {value!r}",
                              value=value)
    if state.status not in STATUSES:
        raise ValidationError("matrix.unknown_status_statuses",
                              "unknown status {state_status!r}; statuses are {statuses}",
                              state_status=state.status, statuses=list(STATUSES))
    return state


def _check_stage(stage: str) -> None:
    if stage not in STAGES:
        raise ValidationError("matrix.unknown_step_steps_3",
                              "unknown step {stage!r}; steps are {stages}",
                              stage=stage, stages=list(STAGES))


def _gate(states: Mapping[str, StepState], stage: str) -> None:
    """Refuse to start a step whose predecessor is not finished."""
    if stage == "midterm":
        planning = states["planning"]
        if planning.status == SIGNED:
            return
        if planning.status == SKIPPED:
            if planning.skip_reason in PLANNING_SKIPS_THAT_ALLOW_MIDTERM:
                return
            why = planning.skip_reason or "no recorded reason"
            raise Conflict(
                "matrix.midterm_start_planning_skipped",
                "midterm cannot start: planning was skipped ({why}); only a planning skipped "
                "for transfer lets midterm start. Reopen planning and complete it, or record "
                "the transfer as the skip reason if the young person joined from another "
                "programme",
                why=why
            )
        raise Conflict(
            "matrix.midterm_start_planning_signed",
            "midterm cannot start: planning is '{planning_status}', it must be signed first",
            planning_status=planning.status
        )
    if stage == "conclusion":
        midterm = states["midterm"]
        if midterm.status in (SIGNED, SKIPPED):
            return
        raise Conflict(
            "matrix.conclusion_start_midterm_signed",
            "conclusion cannot start: midterm is '{midterm_status}', it must be signed or "
            "skipped first",
            midterm_status=midterm.status
        )


def apply_transition(
    current_statuses: Mapping[str, str | StepState],
    stage: str,
    action: str,
    reason: str | None = None,
) -> StepState:
    """The new state of `stage` after `action`, or an error saying why the action is refused.

    `current_statuses` maps each step to its status name or `StepState` (missing steps are
    not_started). Raises `Conflict` when the action clashes with the current statuses and
    `ValidationError` for an unknown step/action or a missing or wrong reason.
    """
    _check_stage(stage)
    if action not in TRANSITIONS:
        raise ValidationError("matrix.unknown_action_actions_2",
                              "unknown action {action!r}; actions are {actions}",
                              action=action, actions=list(ACTIONS))
    unknown = [s for s in current_statuses if s not in STAGES]
    if unknown:
        raise ValidationError("matrix.unknown_step_steps_4",
                              "unknown step(s) {unknown}; steps are {stages}",
                              unknown=unknown, stages=list(STAGES))
    states = {s: _state(current_statuses.get(s)) for s in STAGES}
    state = states[stage]
    sources, target = TRANSITIONS[action]
    if state.status not in sources:
        allowed = " or ".join(f"'{s}'" for s in sources)
        raise Conflict(
            "matrix.needs",
            "cannot {action} {stage}: it is '{state_status}' and {action} needs {allowed}; "
            "{next_step}",
            action=action, stage=stage, state_status=state.status, allowed=allowed,
            next_step=_NEXT_STEP[state.status]
        )
    reason = reason.strip() if isinstance(reason, str) else reason
    if action in REASON_REQUIRED and not reason:
        raise ValidationError("matrix.give_reason_kept_record",
                              "to {action} {stage}, give a reason (it is kept in the record)",
                              action=action, stage=stage)
    if action == "skip" and reason not in SKIP_REASONS:
        raise ValidationError(
            "matrix.skip_give_reason_one",
            "to skip {stage}, give the reason as one of {skip_reasons}, got {reason!r}",
            stage=stage, skip_reasons=list(SKIP_REASONS), reason=reason
        )
    if action == "start":
        _gate(states, stage)
    if action == "reopen":
        later = [s for s in STAGES[STAGES.index(stage) + 1 :] if states[s].status != NOT_STARTED]
        if later:
            raise Conflict(
                "matrix.reopen_already_started_skipped",
                "cannot reopen {stage}: {first_later} has already started ('{states_status}'); "
                "a skipped {stage} can only be reopened before later steps begin",
                stage=stage, first_later=later[0], states_status=states[later[0]].status
            )
    if action == "skip":
        return replace(state, status=SKIPPED, skip_reason=reason)
    if action == "unlock":
        return StepState(status=DRAFT, version=state.version + 1)
    return StepState(status=target, version=state.version)


def check_transition(
    current_statuses: Mapping[str, str | StepState],
    stage: str,
    action: str,
    reason: str | None = None,
) -> str:
    """The status `stage` moves to under `action`; raises like `apply_transition`."""
    return apply_transition(current_statuses, stage, action, reason).status


def check_editable(current_statuses: Mapping[str, str | StepState], stage: str) -> None:
    """Refuse to change a step's answers unless it is a draft."""
    _check_stage(stage)
    state = _state(current_statuses.get(stage))
    if state.status != DRAFT:
        raise Conflict(
            "matrix.edited",
            "{stage} cannot be edited: it is '{state_status}'; {next_step}",
            stage=stage, state_status=state.status, next_step=_NEXT_STEP[state.status]
        )


def due_dates(
    enrolled_on: date, schedule: Mapping[str, timedelta | int] = DEFAULT_SCHEDULE
) -> dict[str, date]:
    """Due date of each step: enrolment plus its offset (a timedelta, or whole days).

    Default: planning 14 days after enrolment, midterm at 8 weeks, conclusion at 16 weeks.
    """
    if isinstance(enrolled_on, datetime) or not isinstance(enrolled_on, date):
        raise ValidationError("matrix.enrolled_date_no_time",
                              "enrolled_on must be a date (no time), got {enrolled_on!r}",
                              enrolled_on=enrolled_on)
    missing = [s for s in STAGES if s not in schedule]
    if missing or set(schedule) - set(STAGES):
        raise ValidationError(
            "matrix.schedule_give_exactly_steps",
            "the schedule must give exactly the steps {stages}, got {schedule}",
            stages=list(STAGES), schedule=list(schedule)
        )
    offsets = {}
    for stage in STAGES:
        value = schedule[stage]
        offset = (
            timedelta(days=value)
            if isinstance(value, int) and not isinstance(value, bool)
            else value
        )
        if not isinstance(offset, timedelta) or offset < timedelta(0):
            raise ValidationError(
                "matrix.offset_days_timedelta",
                "the {stage} offset must be days >= 0 or a timedelta, got {value!r}",
                stage=stage, value=value
            )
        offsets[stage] = offset
    if not offsets["planning"] <= offsets["midterm"] <= offsets["conclusion"]:
        raise ValidationError(
            "matrix.schedule_put_planning_midterm",
            "the schedule must put planning <= midterm <= conclusion, got {offsets_days} days",
            offsets_days=[offsets[s].days for s in STAGES]
        )
    return {stage: enrolled_on + offsets[stage] for stage in STAGES}


def overdue(
    steps: pd.DataFrame | Iterable[Mapping[str, object]],
    as_of: date,
    done_statuses: Iterable[str] = DONE_STATUSES,
) -> pd.DataFrame:
    """Steps past their due date and not yet done, most overdue first.

    `steps` has one row per participant and step with `participant`, `stage`, `status` and
    `due_on`. A step is done once the counselor has submitted it (review and signing are the
    committee's part, so they do not make a counselor's step overdue) or it was skipped; pass
    `done_statuses` to change that. A step due today is not overdue. Adds `days_overdue`.
    """
    if isinstance(as_of, datetime) or not isinstance(as_of, date):
        raise ValidationError("matrix.date", "as_of must be a date, got {as_of!r}", as_of=as_of)
    frame = steps.copy() if isinstance(steps, pd.DataFrame) else pd.DataFrame(list(steps))
    columns = ["participant", "stage", "status", "due_on"]
    missing = [c for c in columns if c not in frame.columns]
    if missing and not frame.empty:
        raise ValidationError("matrix.steps_need_columns_they",
                              "steps need columns {missing}; they have {frame_columns}",
                              missing=missing, frame_columns=list(frame.columns))
    if frame.empty:
        return pd.DataFrame(columns=[*columns, "days_overdue"])
    bad = sorted(set(frame["status"]) - set(STATUSES))
    if bad:
        raise ValidationError("matrix.unknown_status_es_statuses",
                              "unknown status(es) {bad}; statuses are {statuses}",
                              bad=bad, statuses=list(STATUSES))
    due = pd.to_datetime(frame["due_on"], errors="coerce")
    if due.isna().any():
        row = frame.loc[due.isna()].iloc[0]
        raise ValidationError(
            "matrix.participant_no_valid_due",
            "participant {participant} {stage} has no valid due date ({due_on!r})",
            participant=row['participant'], stage=row['stage'], due_on=row['due_on']
        )
    days = (pd.Timestamp(as_of) - due.dt.normalize()).dt.days
    late = (~frame["status"].isin(list(done_statuses))) & (days > 0)
    out = frame.loc[late].assign(days_overdue=days[late].astype(int))
    return out.sort_values(["days_overdue", "participant", "stage"], ascending=[False, True, True])
