"""db.steps: the current step rows, and the lock that makes "check the step, then write on it"
one step at a time (a draft saved while the step is submitted broke "no draft left" under load,
bench.load on PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from db.schema import StageStep
from db.steps import current_steps


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_locking_a_stage_holds_its_row_until_the_transaction_ends(demo_rt):
    with demo_rt.sessions() as s:
        found = s.execute(
            select(StageStep.participant_id, StageStep.id, StageStep.stage)
            .where(StageStep.superseded_at.is_(None))).all()
        pid = found[0].participant_id
        rows = {r.stage: r.id for r in found if r.participant_id == pid}
    assert "planning" in rows and len(rows) > 1

    def try_lock(row_id: int) -> bool:
        with demo_rt.engine.connect() as other:
            try:
                other.execute(text("SELECT id FROM stage_steps WHERE id = :id FOR UPDATE NOWAIT"),
                              {"id": row_id})
                return True
            except OperationalError as exc:
                assert "could not obtain lock" in str(exc)
                return False
            finally:
                other.rollback()

    with demo_rt.sessions() as s:
        steps = current_steps(s, pid, lock="planning")
        assert steps["planning"].id == rows["planning"]
        assert not try_lock(rows["planning"])  # a submit or a draft save on it waits
        others = [i for stage, i in rows.items() if stage != "planning"]
        assert all(try_lock(i) for i in others)  # only that stage's row
        s.rollback()
    assert try_lock(rows["planning"])
    with demo_rt.sessions() as s:
        current_steps(s, pid)  # without `lock`, nothing is held
        assert try_lock(rows["planning"])
