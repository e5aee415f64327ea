"""Assessment use cases: validation of answers, drafts and amendments, finalising, notes."""

from __future__ import annotations

import datetime as dt

import pytest

from assessment import service as assessments
from assessment.instruments import get_instrument
from casework import service as casework
from db.schema import AssessmentScore
from errors import Conflict, ValidationError
from matrix.service import step_action
from tests.matrix.test_service import (
    ENROLLED,
    TODAY,
    answers,
    draft_and_finalise,
    make_world,
    refused,
)


@pytest.fixture
def world(rt, make_account):
    return make_world(rt, make_account)


def test_answers_and_scores_out_of_range_are_refused(world):
    w, pid = world, world["pid"]
    bad = dict(answers("GS-12"), **{"GS-03": 9})
    msg = refused(w, w["a"], ValidationError, assessments.record_draft, participant_id=pid,
                  stage="planning", instrument_id="GS-12", responses=bad, administered_on=TODAY)
    assert "item GS-03" in msg and "1..5" in msg and "9" in msg
    msg = refused(w, w["a"], ValidationError, assessments.record_draft, participant_id=pid,
                  stage="planning", instrument_id="GS-12",
                  responses=dict(answers("GS-12"), **{"GS-99": 3}), administered_on=TODAY)
    assert "GS-99" in msg
    aid = draft_and_finalise(w, "planning")
    # The database itself refuses a score outside its instrument's range.
    from sqlalchemy.exc import IntegrityError
    with w["rt"].context(w["a"]) as ctx, pytest.raises(IntegrityError):
        with ctx.transaction() as s:
            s.add(AssessmentScore(assessment_id=aid, domain="other", score=7.0, scale_min=1.0,
                                  scale_max=5.0))


def test_a_stale_version_is_refused_with_the_name_of_who_saved_it(world, rt, make_account):
    w, pid = world, world["pid"]
    with w["ctx"](w["a"]) as ctx:
        aid = assessments.record_draft(ctx, participant_id=pid, stage="planning", instrument_id="GS-12",
                                       responses=answers("GS-12", 3), administered_on=TODAY)
    # Counselor A's colleague on the same case saves first.
    colleague = make_account("counselor", "park")
    with w["ctx"](w["admin"]) as ctx:
        casework.assign_counselor(ctx, counselor_id=colleague.id, participant_id=pid, start_date=ENROLLED)
    with w["ctx"](colleague) as ctx:
        assessments.record_draft(ctx, participant_id=pid, stage="planning", instrument_id="GS-12",
                                 responses=answers("GS-12", 5), administered_on=TODAY, expected_version=1)
    msg = refused(w, w["a"], Conflict, assessments.record_draft, participant_id=pid, stage="planning",
                  instrument_id="GS-12", responses=answers("GS-12", 2), administered_on=TODAY,
                  expected_version=1)
    assert "park" in msg and " UTC" in msg and "version 1" in msg and "now version 2" in msg
    msg = refused(w, w["a"], Conflict, assessments.record_draft, participant_id=pid, stage="planning",
                  instrument_id="GS-12", responses=answers("GS-12", 2), administered_on=TODAY)
    assert "exist already" in msg and "expected_version=2" in msg and "park" in msg
    msg = refused(w, w["a"], Conflict, assessments.finalise, assessment_id=aid, expected_version=1)
    assert "park" in msg
    with w["ctx"](w["a"]) as ctx:
        step = step_action(ctx, participant_id=pid, stage="planning", action="skip", reason="other")
    msg = refused(w, colleague, Conflict, step_action, participant_id=pid, stage="planning",
                  action="reopen", reason="not a drop-out after all", expected_version=step.version - 1)
    assert "kim" in msg


def test_amending_a_finalised_sheet_makes_it_a_draft_again_without_scores(world):
    w, pid = world, world["pid"]
    aid = draft_and_finalise(w, "planning", value=4)
    with w["ctx"](w["a"]) as ctx:
        first = assessments.list_assessments(ctx, pid)[0]
        gs = get_instrument("GS-12")
        keyed = [2 if gs.item(i).reverse else 4 for i in gs.item_ids]  # 6 - 4 on reversed items
        assert first.status == "final"
        assert first.scores == {"gender_sensitivity": pytest.approx(sum(keyed) / len(keyed))}
        assert assessments.record_draft(
            ctx, participant_id=pid, stage="planning", instrument_id="GS-12",
            responses=answers("GS-12", 5), administered_on=TODAY,
            expected_version=first.version) == aid
        again = assessments.list_assessments(ctx, pid)[0]
    assert (again.status, again.scores, again.finalised_by) == ("draft", {}, None)
    assert again.version == first.version + 1


def test_finalise_needs_enough_answers_and_answers_need_a_real_date_and_stage(world):
    w, pid = world, world["pid"]
    sparse = {"GS-01": 3, "GS-02": 3}
    with w["ctx"](w["a"]) as ctx:
        aid = assessments.record_draft(ctx, participant_id=pid, stage="planning",
                                       instrument_id="GS-12", responses=sparse,
                                       administered_on=TODAY)
    msg = refused(w, w["a"], ValidationError, assessments.finalise, assessment_id=aid,
                  expected_version=1)
    assert "too few items" in msg
    msg = refused(w, w["a"], ValidationError, assessments.record_draft, participant_id=pid,
                  stage="planning", instrument_id="GE-10", responses=answers("GE-10"),
                  administered_on=TODAY + dt.timedelta(days=1))
    assert "in the future" in msg
    with w["ctx"](w["a"]) as ctx:
        finalised = assessments.list_assessments(ctx, pid)
    assert [a.status for a in finalised] == ["draft"]


def test_two_saves_racing_to_create_one_sheet_give_one_row_and_a_conflict(world):
    """The database's unique rule settles the race; the loser is told, and nothing of it is kept."""
    from sqlalchemy import func, select

    from db.schema import Assessment
    from db.conflicts import converting_stale

    w, pid = world, world["pid"]
    with w["ctx"](w["a"]) as ctx:
        aid = assessments.record_draft(ctx, participant_id=pid, stage="planning", instrument_id="GS-12",
                                       responses=answers("GS-12", 3), administered_on=TODAY)
    with w["ctx"](w["a"]) as ctx:
        first = ctx.session.get(Assessment, aid)
        with pytest.raises(Conflict, match="at the same moment"):
            with converting_stale(ctx, "assessments", "The GS-12 answers at planning", None):
                # What the second of two concurrent first saves does: insert the same sheet.
                ctx.session.add(Assessment(
                    participant_id=pid, stage="planning", instrument_id="GS-12", instrument_version=1,
                    step_version=first.step_version, responses={}, administered_on=TODAY,
                    created_by=w["a"].id))
        n = ctx.session.scalar(select(func.count()).select_from(Assessment).where(
            Assessment.participant_id == pid, Assessment.instrument_id == "GS-12"))
    assert n == 1


def test_risk_notes_that_name_a_victim_are_refused(world):
    w, pid = world, world["pid"]
    msg = refused(w, w["a"], ValidationError, assessments.record_draft, participant_id=pid,
                  stage="planning", instrument_id="CR-3", responses=answers("CR-3"),
                  administered_on=TODAY, notes="피해자 김하늘 학생에게 다시 연락 시도함")
    assert "seems to identify a person" in msg and "김하늘" not in msg
