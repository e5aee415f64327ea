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


def current_steps(session: Session, participant_id: int, *, lock: str | None = None
                  ) -> dict[str, StageStep]:
    """The newest version of each step row that exists (unlocking adds versions).

    With `lock` (a stage), that step's current row is locked for the rest of the transaction
    first and every row is read again as of the lock. A use case that checks a step's state and
    then writes on it (a draft saved, a step submitted: "no draft left") passes the stage, so
    that two of them on one step run one after the other instead of each acting on what it read
    before the other committed. PostgreSQL locks the row (SELECT ... FOR UPDATE); on SQLite a
    writing transaction holds the whole database already and the clause is left out.
    """
    query = (select(StageStep).where(StageStep.participant_id == participant_id)
             .order_by(StageStep.step_version))
    rows = {r.stage: r for r in session.scalars(query)}
    if lock is not None and lock in rows:
        session.execute(select(StageStep.id).where(StageStep.id == rows[lock].id).with_for_update())
        rows = {r.stage: r for r in session.scalars(query.execution_options(populate_existing=True))}
    return rows


def new_step(participant_id: int, stage: str, due_date: dt.date, version: int = 1) -> StageStep:
    """A step row not started yet, due on `due_date`."""
    return StageStep(participant_id=participant_id, stage=stage, step_version=version,
                     status=NOT_STARTED, due_date=due_date)
