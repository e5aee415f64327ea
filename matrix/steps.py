"""Store helpers for the stage-step rows, shared by the step use cases of matrix and assessment.

They take the session (or the Context) but ask no permission: the use cases in `matrix.service` and
`assessment.service` ask `db.access` first and then call them. The "changed by someone else"
conflict builders are here because both services raise them; they are to join the other conflict
helpers in one place.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from db.context import Context
from db.schema import Account, AuditLog, Participant, StageStep, utcnow
from errors import Conflict, Message
from matrix import stages


# --- "changed by someone else" conflicts -------------------------------------------------------

def last_change(session: Session, table: str, row_id: object) -> Message:
    """'name at time' of the last write to a row, from the audit log, for a Conflict message."""
    entry = session.scalars(
        select(AuditLog).where(AuditLog.table_name == table, AuditLog.row_id == str(row_id),
                               AuditLog.action.in_(("insert", "update")))
        .order_by(AuditLog.id.desc()).limit(1)
    ).first()
    if entry is None:
        return Message("matrix.someone_else", "someone else")
    name = entry.actor
    if entry.account_id is not None:
        acc = session.get(Account, entry.account_id)
        if acc is not None and acc.display_name and acc.display_name != acc.username:
            name = f"{acc.display_name} ({acc.username})"
    return Message("matrix.changed_by_at", "{name} at {at} UTC", name=name,
                   at=f"{entry.at:%Y-%m-%d %H:%M}")


def stale(session: Session, table: str, row_id: object, what: str | Message, expected: int,
          actual: int | None) -> Conflict:
    now: Message | str = (Message("matrix.now_version", " (now version {actual})", actual=actual)
                          if actual is not None else "")
    return Conflict(
        "matrix.changed_after_you_opened",
        "{what} was changed by {last_change} after you opened it: you have version "
        "{expected}{now}. Reload it, check the changes, and save again.",
        what=what, last_change=last_change(session, table, row_id), expected=expected, now=now
    )


@contextmanager
def converting_stale(ctx: Context, table: str, what: str | Message, expected: int | None
                     ) -> Iterator[dict[str, object]]:
    """A transaction whose concurrent-save failure (StaleDataError) becomes a Conflict naming who
    saved in between. The block puts the id of the row it changes in the yielded dict's "row_id"."""
    target: dict[str, object] = {"row_id": None}
    try:
        with ctx.transaction():
            yield target
    except StaleDataError:
        raise stale(ctx.session, table, target["row_id"], what, expected or 0, None) from None
    except IntegrityError as exc:
        # A unique rule of the database (one answer sheet, one step row per version) was hit by
        # a save that raced ours: nothing of ours was written.
        if "unique" not in str(exc.orig).lower() and "duplicate" not in str(exc.orig).lower():
            raise
        raise Conflict(
            "matrix.were_saved_someone_else",
            "{what} were saved by someone else at the same moment. Nothing of yours was saved: "
            "reload, compare and save again.",
            what=what) from None


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


__all__ = ["converting_stale", "current_steps", "last_change", "new_step",
           "open_step_for_editing", "stale", "step_states"]
