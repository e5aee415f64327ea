"""Store helpers for the stage-step rows, shared by the step use cases of matrix and assessment.

They take the session (or the Context) but ask no permission: the use cases in `matrix.service` and
`assessment.service` ask `db.access` first and then call them. A stale save is turned
into a Conflict by the store's one conflict helper, `db.conflicts`.
"""

from __future__ import annotations


from sqlalchemy import select
from sqlalchemy.orm import Session

from db.context import Context
from db.schema import Participant, StageStep, utcnow
from matrix import stages


# --- step rows ----------------------------------------------------------------------------------

def current_steps(session: Session, participant_id: int) -> dict[str, StageStep]:
    """The newest version of each step row that exists (unlocking adds versions)."""
    rows = session.scalars(
        select(StageStep).where(StageStep.participant_id == participant_id)
        .order_by(StageStep.step_version)
    )
    return {r.stage: r for r in rows}


def step_states(current: dict[str, StageStep]) -> dict[str, stages.StepState]:
    return {stage: stages.StepState(r.status, r.step_version, r.skip_reason)
            for stage, r in current.items()}


def open_step_for_editing(ctx: Context, participant: Participant, stage: str) -> StageStep:
    """The step row answers are written to: a draft, started (with its gate checked) if need be."""
    s = ctx.session
    current = current_steps(s, participant.id)
    states = step_states(current)
    row = current.get(stage)
    if row is None or row.status == stages.NOT_STARTED:
        stages.apply_transition(states, stage, "start")
        if row is None:
            row = new_step(participant, stage)
            s.add(row)
        row.status = stages.DRAFT
        row.updated_by, row.updated_at = ctx.actor.id, utcnow()
        s.flush()
        return row
    stages.check_editable(states, stage)
    return row


def new_step(participant: Participant, stage: str, version: int = 1) -> StageStep:
    due = stages.due_dates(participant.enrolled_on)[stage]
    return StageStep(participant_id=participant.id, stage=stage, step_version=version,
                     status=stages.NOT_STARTED, due_date=due)


__all__ = ["current_steps", "new_step", "open_step_for_editing", "step_states"]
