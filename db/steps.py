"""The stage-step rows as the store keeps them: the current version of each step, and a new row.

Store helpers shared by the step use cases of `matrix.service` and `assessment.service`; they ask
no permission (the use cases ask `db.access` first) and know no stage rule (those are
`matrix.stages`, pure).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.schema import StageStep
from vocab import NOT_STARTED


def current_steps(session: Session, participant_id: int) -> dict[str, StageStep]:
    """The newest version of each step row that exists (unlocking adds versions)."""
    rows = session.scalars(
        select(StageStep).where(StageStep.participant_id == participant_id)
        .order_by(StageStep.step_version)
    )
    return {r.stage: r for r in rows}


def new_step(participant_id: int, stage: str, due_date: dt.date, version: int = 1) -> StageStep:
    """A step row not started yet, due on `due_date`."""
    return StageStep(participant_id=participant_id, stage=stage, step_version=version,
                     status=NOT_STARTED, due_date=due_date)
