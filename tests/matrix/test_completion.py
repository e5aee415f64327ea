"""The caseload's completion matrix: the cell rule on plain values, and the use case on the store."""

from __future__ import annotations

import datetime as dt

import pytest

from errors import PermissionDenied
from matrix import completion, service
from matrix.service import step_action
from tests.matrix.test_service import ENROLLED, TODAY, draft_and_finalise, make_world


@pytest.mark.parametrize(("step", "sheet", "late", "expected"), [
    ("not_started", None, False, "not_started"),
    ("not_started", None, True, "overdue"),
    ("draft", "draft", False, "draft"),
    ("draft", "draft", True, "overdue"),
    ("draft", "final", True, "final"),          # the counselor's part of this sheet is done
    ("submitted", "final", False, "submitted"),
    ("reviewed", "final", False, "reviewed"),
    ("signed", "locked", False, "signed"),
    ("skipped", None, True, "skipped"),
    ("skipped", "final", False, "skipped"),
    ("submitted", None, False, "not_started"),  # an instrument not given at a submitted step
])
def test_each_cell_gets_the_status_a_counselor_reads(step, sheet, late, expected):
    assert completion.cell_status(step, sheet, late) == expected


def test_an_unknown_status_is_refused():
    with pytest.raises(ValueError, match="unknown step status"):
        completion.cell_status("done", None, False)
    with pytest.raises(ValueError, match="answer sheet status"):
        completion.cell_status("draft", "scored", False)


@pytest.fixture
def world(rt, make_account):
    return make_world(rt, make_account)


def test_the_overview_gives_the_next_step_last_session_and_each_sheet(world):
    w, pid = world, world["pid"]
    from casework import service as casework

    with w["ctx"](w["a"]) as ctx:
        first = service.caseload_overview(ctx, TODAY)
    row = first.participants.iloc[0]
    planning_due = ENROLLED + dt.timedelta(days=14)
    assert (row.participant_id, row.next_stage, row.next_due) == (pid, "planning", planning_due)
    assert (row.overdue_steps, row.days_overdue) == (1, (TODAY - planning_due).days)
    assert row.last_session is None
    planning = first.cells[first.cells["stage"] == "planning"]
    assert set(planning["status"]) == {"overdue"}
    assert sorted(planning["instrument_id"]) == ["CR-3", "DU-14", "GE-10", "GS-12"]
    assert len(first.cells) == 12

    draft_and_finalise(w, "planning", "GS-12")
    with w["ctx"](w["a"]) as ctx:
        casework.record_session(ctx, participant_id=pid, session_date=dt.date(2026, 2, 20), minutes=50,
                             modality="in_person", attendance="attended", topics=())
        step_action(ctx, participant_id=pid, stage="planning", action="submit")
        after = service.caseload_overview(ctx, TODAY)
    row = after.participants.iloc[0]
    assert (row.next_stage, row.overdue_steps, row.last_session) == ("midterm", 0, dt.date(2026, 2, 20))
    cells = after.cells.set_index(["stage", "instrument_id"])["status"]
    assert cells[("planning", "GS-12")] == "submitted"
    assert cells[("planning", "GE-10")] == "not_started"
    assert cells[("midterm", "GS-12")] == "not_started"


def test_the_overview_is_the_caseload_only_and_the_counselors(world):
    w = world
    with w["ctx"](w["b"]) as ctx:
        other = service.caseload_overview(ctx, TODAY)
    assert other.participants.empty and other.cells.empty
    for who in ("member", "admin"):
        with w["ctx"](w[who]) as ctx, pytest.raises(PermissionDenied):
            service.caseload_overview(ctx, TODAY)
