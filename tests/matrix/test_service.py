"""The matrix use cases on the store: gating, unlock versions, caseload scope, outcomes, reviews."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from assessment import service as assessments
from assessment.instruments import get_instrument
from casework import service as casework
from db.context import Runtime
from db.schema import Assessment, AssessmentScore, StageStep
from errors import Conflict, NotFound, PermissionDenied, ValidationError
from matrix import service
from matrix.service import step_action

TODAY = dt.date(2026, 3, 1)
ENROLLED = dt.date(2026, 1, 5)


def answers(instrument_id: str, value: int = 4) -> dict[str, int]:
    return {i: value for i in get_instrument(instrument_id).item_ids}


@pytest.fixture
def world(rt, make_account):
    return make_world(rt, make_account)


def make_world(rt, make_account) -> dict:
    """One programme, two counselors and their supervisor, one participant in counselor A's
    caseload, a committee member."""
    from accounts import service as accounts

    admin = make_account("admin")
    a, b = make_account("counselor", "kim"), make_account("counselor", "lee")
    lead = make_account("supervisor", "choi")
    member = make_account("committee", "han")
    with rt.context(admin, today=TODAY) as ctx:
        for counselor in ("kim", "lee"):
            accounts.set_supervisor(ctx, counselor, "choi")
    with rt.context(admin, today=TODAY) as ctx:
        prog = casework.add_programme(ctx, name="표준 과정")
        cohort = casework.add_cohort(ctx, programme_id=prog, name="2026-1기", start_date=ENROLLED)
    with rt.context(a, today=TODAY) as ctx:
        pid = casework.register_participant(ctx, casework.NewParticipant(
            intake_ref="REF-1", name="홍길동", birth_date=dt.date(2011, 5, 1), sex="male",
            cohort_id=cohort, enrolled_on=ENROLLED, age_at_referral=14))

    def ctx_of(actor, today=TODAY):
        return rt.context(actor, today=today)

    return dict(rt=rt, a=a, b=b, lead=lead, member=member, admin=admin, pid=pid, programme=prog, ctx=ctx_of)


def snapshot(rt) -> tuple:
    with rt.sessions() as s:
        steps = s.execute(select(StageStep.stage, StageStep.step_version, StageStep.status,
                                 StageStep.version).order_by(StageStep.id)).all()
        tests = s.execute(select(Assessment.id, Assessment.stage, Assessment.status,
                                 Assessment.version).order_by(Assessment.id)).all()
        scores = s.execute(select(AssessmentScore.assessment_id, AssessmentScore.score)).all()
    return tuple(steps), tuple(tests), tuple(sorted(scores))


def refused(w, actor, exc, fn, **kw) -> str:
    """Run a use case that must be refused; check the database did not change; return the message."""
    before = snapshot(w["rt"])
    with w["ctx"](actor) as ctx, pytest.raises(exc) as err:
        fn(ctx, **kw)
    assert snapshot(w["rt"]) == before
    return str(err.value)


def draft_and_finalise(w, stage: str, instrument_id: str = "GS-12", value: int = 4) -> int:
    with w["ctx"](w["a"]) as ctx:
        aid = assessments.record_draft(ctx, participant_id=w["pid"], stage=stage,
                                       instrument_id=instrument_id, responses=answers(instrument_id, value),
                                       administered_on=TODAY)
        version = ctx.session.get(Assessment, aid).version
        assessments.finalise(ctx, aid, version)
    return aid


def walk_to_signed(w, stage: str, value: int = 4) -> int:
    aid = draft_and_finalise(w, stage, value=value)
    with w["ctx"](w["a"]) as ctx:
        step_action(ctx, participant_id=w["pid"], stage=stage, action="submit")
    with w["ctx"](w["lead"]) as ctx:
        step_action(ctx, participant_id=w["pid"], stage=stage, action="review")
        step_action(ctx, participant_id=w["pid"], stage=stage, action="sign")
    return aid


def test_the_gating_walk_refuses_each_illegal_transition_and_changes_nothing(world):
    w, pid = world, world["pid"]
    msg = refused(w, w["a"], Conflict, step_action, participant_id=pid, stage="midterm", action="start")
    assert "midterm cannot start: planning is 'not_started'" in msg
    msg = refused(w, w["a"], Conflict, assessments.record_draft, participant_id=pid, stage="midterm",
                  instrument_id="GS-12", responses=answers("GS-12"), administered_on=TODAY)
    assert "planning is 'not_started', it must be signed first" in msg
    msg = refused(w, w["a"], Conflict, step_action, participant_id=pid, stage="planning", action="submit")
    assert "cannot submit planning: it is 'not_started'" in msg

    with w["ctx"](w["a"]) as ctx:
        aid = assessments.record_draft(ctx, participant_id=pid, stage="planning", instrument_id="GS-12",
                                       responses=answers("GS-12"), administered_on=TODAY)
    msg = refused(w, w["a"], Conflict, step_action, participant_id=pid, stage="planning", action="submit")
    assert "GS-12 is still a draft" in msg
    with w["ctx"](w["a"]) as ctx:
        assessments.finalise(ctx, aid, 1)
        assert step_action(ctx, participant_id=pid, stage="planning", action="submit").status == "submitted"
    msg = refused(w, w["lead"], Conflict, step_action, participant_id=pid, stage="planning", action="sign")
    assert "cannot sign planning: it is 'submitted'" in msg and "reviewed first" in msg
    msg = refused(w, w["a"], Conflict, assessments.record_draft, participant_id=pid, stage="planning",
                  instrument_id="GE-10", responses=answers("GE-10"), administered_on=TODAY)
    assert "planning cannot be edited: it is 'submitted'" in msg
    msg = refused(w, w["lead"], Conflict, step_action, participant_id=pid, stage="planning",
                  action="return", reason="GS-07 looks wrong")
    assert "cannot return planning: it is 'submitted'" in msg
    with w["ctx"](w["lead"]) as ctx:
        step_action(ctx, participant_id=pid, stage="planning", action="review")
    msg = refused(w, w["lead"], ValidationError, step_action, participant_id=pid, stage="planning",
                  action="return", reason="  ")
    assert "give a reason" in msg
    # The supervisor may review and sign, never write answers or skip.
    refused(w, w["lead"], PermissionDenied, step_action, participant_id=pid, stage="planning",
            action="skip", reason="dropout")
    with w["ctx"](w["lead"]) as ctx:
        step = step_action(ctx, participant_id=pid, stage="planning", action="sign")
    assert step.status == "signed"
    with w["ctx"](w["a"]) as ctx:
        assert [a.status for a in assessments.list_assessments(ctx, pid)] == ["locked"]
    msg = refused(w, w["a"], Conflict, assessments.record_draft, participant_id=pid, stage="planning",
                  instrument_id="GS-12", responses=answers("GS-12"), administered_on=TODAY,
                  expected_version=2)
    assert "planning cannot be edited: it is 'signed'" in msg and "unlock" in msg
    msg = refused(w, w["a"], Conflict, step_action, participant_id=pid, stage="conclusion", action="start")
    assert "conclusion cannot start: midterm is 'not_started'" in msg
    msg = refused(w, w["a"], ValidationError, step_action, participant_id=pid, stage="midterm",
                  action="skip", reason="bored")
    assert "dropout" in msg
    # Now midterm opens, and a skipped midterm lets conclusion start.
    with w["ctx"](w["a"]) as ctx:
        assert step_action(ctx, participant_id=pid, stage="midterm", action="skip",
                           reason="transfer").status == "skipped"
        assert step_action(ctx, participant_id=pid, stage="conclusion", action="start").status == "draft"
    msg = refused(w, w["a"], Conflict, step_action, participant_id=pid, stage="midterm",
                  action="reopen", reason="came back")
    assert "conclusion has already started" in msg
    with w["ctx"](w["a"]) as ctx:
        steps = {v.stage: v for v in service.participant_steps(ctx, pid)}
    assert steps["midterm"].skip_reason == "transfer"
    assert steps["conclusion"].due_date == ENROLLED + dt.timedelta(weeks=16)


def test_unlock_keeps_the_signed_version_and_its_locked_assessments(world):
    w, pid = world, world["pid"]
    aid = walk_to_signed(w, "planning", value=2)
    refused(w, w["lead"], ValidationError, step_action, participant_id=pid, stage="planning",
            action="unlock")
    with w["ctx"](w["lead"]) as ctx:
        new = step_action(ctx, participant_id=pid, stage="planning", action="unlock",
                          reason="GS-07 was entered wrong")
    assert (new.step_version, new.status, new.reason) == (2, "draft", "GS-07 was entered wrong")
    with w["ctx"](w["a"]) as ctx:
        versions = service.participant_steps(ctx, pid)
        old = ctx.session.get(Assessment, aid)
        every = assessments.list_assessments(ctx, pid, all_versions=True)
        current = assessments.list_assessments(ctx, pid)
    assert [(v.step_version, v.status) for v in versions] == [(1, "signed"), (2, "draft")]
    assert old.status == "locked" and old.step_version == 1
    assert [(a.step_version, a.status) for a in every] == [(1, "locked"), (2, "draft")]
    assert every[0].scores == {"gender_sensitivity": pytest.approx(old.scores[0].score)}
    assert current[0].responses == every[0].responses and current[0].scores == {}
    # The copy is corrected and signed again; the first version is still there, unchanged.
    fixed = dict(current[0].responses, **{"GS-07": 5})
    with w["ctx"](w["a"]) as ctx:
        assessments.record_draft(ctx, participant_id=pid, stage="planning", instrument_id="GS-12",
                                 responses=fixed, administered_on=TODAY,
                                 expected_version=current[0].version)
        v = assessments.list_assessments(ctx, pid)[0].version
        assessments.finalise(ctx, current[0].id, v)
        step_action(ctx, participant_id=pid, stage="planning", action="submit")
    with w["ctx"](w["lead"]) as ctx:
        step_action(ctx, participant_id=pid, stage="planning", action="review")
        step_action(ctx, participant_id=pid, stage="planning", action="sign")
    with w["ctx"](w["a"]) as ctx:
        every = assessments.list_assessments(ctx, pid, all_versions=True)
        first = ctx.session.scalars(select(StageStep).where(StageStep.step_version == 1)).one()
    assert [(a.step_version, a.status) for a in every] == [(1, "locked"), (2, "locked")]
    assert every[0].responses["GS-07"] == 2 and every[1].responses["GS-07"] == 5
    assert first.status == "signed" and first.superseded_at is not None


def test_a_counselor_cannot_touch_another_caseload(world):
    w, pid = world, world["pid"]
    aid = draft_and_finalise(w, "planning")
    calls = [
        (assessments.record_draft, dict(participant_id=pid, stage="planning", instrument_id="GS-12",
                                        responses=answers("GS-12"), administered_on=TODAY)),
        (assessments.finalise, dict(assessment_id=aid, expected_version=2)),
        (assessments.read_notes, dict(assessment_id=aid)),
        (step_action, dict(participant_id=pid, stage="planning", action="submit")),
        (service.participant_matrix, dict(participant_id=pid)),
        (service.set_goal, dict(participant_id=pid, text="x", set_on=TODAY)),
    ]
    messages = [refused(w, w["b"], NotFound, fn, **kw) for fn, kw in calls]
    assert all("in your caseload" in m for m in messages)
    with w["ctx"](w["b"]) as ctx:
        assert service.overdue_steps(ctx, TODAY).empty


def test_the_participant_matrix_shows_scores_ratings_goals_and_change(world):
    w, pid = world, world["pid"]
    with w["ctx"](w["a"]) as ctx:
        cr_id = assessments.record_draft(ctx, participant_id=pid, stage="planning", instrument_id="CR-3",
                                         responses={"CR-01": 2, "CR-02": 2, "CR-03": 1,
                                                    "risk_notes": "늦은 밤 단톡방 사용"},
                                         administered_on=TODAY, notes="첫 면담")
        assessments.finalise(ctx, cr_id, 1)
        goal = service.set_goal(ctx, participant_id=pid, text="동의를 구하는 법을 말할 수 있다",
                                set_on=TODAY)
    walk_to_signed(w, "planning", value=2)
    with w["ctx"](w["a"]) as ctx:
        aid = assessments.record_draft(ctx, participant_id=pid, stage="midterm", instrument_id="GS-12",
                                       responses=answers("GS-12", 5), administered_on=TODAY)
        assessments.finalise(ctx, aid, 1)
        service.review_goal(ctx, goal_id=goal, stage="midterm", progress=4, note="잘 하고 있음")
        m = service.participant_matrix(ctx, pid)
    grid = m.grid
    gs = get_instrument("GS-12")
    pre = np.mean([6 - 2 if gs.item(i).reverse else 2 for i in gs.item_ids])
    assert grid.loc["planning", "gender_sensitivity"] == pytest.approx(pre)
    assert grid.loc["midterm", "gender_sensitivity"] == pytest.approx(np.mean(
        [1 if gs.item(i).reverse else 5 for i in gs.item_ids]))
    assert grid.loc["planning", "victim_harm_understanding"] == 1.0
    cr = m.cells[m.cells.instrument_id == "CR-3"]
    assert set(cr.kind) == {"counselor_rating"} and cr.has_notes.all()
    assert list(m.steps.status) == ["signed", "draft"]
    row = m.change.set_index(["domain", "from_step", "to_step"]).loc[
        ("gender_sensitivity", "planning", "midterm")]
    norm = gs.norms["gender_sensitivity"]
    hand = (row.post - row.pre) / (math.sqrt(2) * norm.sd * math.sqrt(1 - norm.reliability))
    assert row.rci == pytest.approx(hand)
    assert row.change == ("recovered" if row.pre < norm.cutoff <= row.post else "improved")
    assert list(m.goals.text) == ["동의를 구하는 법을 말할 수 있다"]
    assert m.goal_reviews.iloc[0][["stage", "progress", "has_note"]].tolist() == ["midterm", 4, True]
    # Free text of the form is encrypted with the notes, not kept among the answers.
    with w["ctx"](w["a"]) as ctx:
        assert int(cr.assessment_id.iloc[0]) == cr_id
        stored = ctx.session.get(Assessment, cr_id)
        assert "risk_notes" not in stored.responses and "첫 면담" not in (stored.notes_enc or "")
        assert assessments.read_notes(ctx, cr_id) == {"risk_notes": "늦은 밤 단톡방 사용",
                                                      "notes": "첫 면담"}
        from db.schema import AuditLog
        reads = ctx.session.scalars(select(AuditLog).where(
            AuditLog.action == "read", AuditLog.table_name == "assessments")).all()
    assert [(r.row_id, r.fields) for r in reads] == [(str(cr_id), ["notes"])]


def test_overdue_steps_lists_the_caseload_steps_past_due(world):
    w, pid = world, world["pid"]
    with w["ctx"](w["a"]) as ctx:
        late = service.overdue_steps(ctx, TODAY)
    assert late[["participant", "stage", "status", "days_overdue"]].values.tolist() == [
        [pid, "planning", "not_started", (TODAY - ENROLLED - dt.timedelta(days=14)).days]]
    draft_and_finalise(w, "planning")
    with w["ctx"](w["a"]) as ctx:
        step_action(ctx, participant_id=pid, stage="planning", action="submit")
        assert service.overdue_steps(ctx, TODAY).empty
        later = service.overdue_steps(ctx, dt.date(2026, 3, 10))
    assert later[["stage", "days_overdue"]].values.tolist() == [["midterm", 8]]


def test_programme_reviews_replace_a_members_earlier_rating_and_summarise_with_icc(world, make_account):
    w = world
    raters = [w["member"], make_account("committee"), make_account("committee")]
    with w["ctx"](w["admin"]) as ctx:
        other = casework.add_programme(ctx, name="집중 과정")
    for k, rater in enumerate(raters):
        with w["ctx"](rater) as ctx:
            for j, ind in enumerate(service.REVIEW_INDICATORS):
                for p, base in ((w["programme"], 2), (other, 4)):
                    service.record_programme_review(ctx, programme_id=p, indicator=ind,
                                                    score=min(5, base + (j + k) % 2), period="2026-H1")
    with w["ctx"](w["member"]) as ctx:
        service.record_programme_review(ctx, programme_id=other, indicator="victim_perspective",
                                        score=5, period="2026-H1", comment="재평가")
        with pytest.raises(ValidationError, match="rubric"):
            service.record_programme_review(ctx, programme_id=other, indicator="fun", score=3,
                                            period="2026-H1")
        with pytest.raises(ValidationError, match="1..5"):
            service.record_programme_review(ctx, programme_id=other, indicator="victim_perspective",
                                            score=6, period="2026-H1")
        summary = service.programme_review_summary(ctx, period="2026-H1")
    with w["ctx"](w["a"]) as ctx, pytest.raises(PermissionDenied):
        service.record_programme_review(ctx, programme_id=other, indicator="victim_perspective",
                                        score=3, period="2026-H1")
    vp = summary.programmes.set_index(["programme", "indicator"]).loc[("집중 과정", "victim_perspective")]
    assert vp["n_raters"] == 3 and vp["mean"] == pytest.approx((5 + 5 + 4) / 3)
    assert set(summary.agreement.type) == {"ICC(2,1)", "ICC(2,k)"}
    assert "rater" not in summary.programmes.columns


# --- programme outcomes on the demo programme ----------------------------------------------------

IDENTIFYING = {"participant", "participant_id", "study_code", "name", "case_ref"}


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # pure aggregation; slow Wilcoxon
@pytest.mark.parametrize("by", [None, *service.GROUPINGS])
def test_programme_outcomes_hide_every_small_cell_and_identify_no_one(demo_rt, make_account, by):
    member = make_account("committee")
    with demo_rt.context(member) as ctx:
        table = service.programme_outcomes(ctx, by=by)
    assert not IDENTIFYING & set(table.columns)
    assert len(table) > 0
    for row in table.itertuples():
        n = row.n
        assert n == "<10" or n == "x" or (isinstance(n, (int, np.integer)) and (n == 0 or n >= 10))
        if n in ("<10", "x"):
            assert row.mean_diff is None and row.p is None and row.share_improved is None
    if by is not None:
        assert (table[by] == "Total").any()


def test_programme_outcomes_counts_match_the_signed_pairs_in_the_store(demo_rt, make_account):
    member = make_account("committee")
    # The threshold is the deployment's setting: a deployment that chose 5.
    five = Runtime(dataclasses.replace(demo_rt.settings, suppression_threshold=5))
    with five.context(member) as ctx:
        table = service.programme_outcomes(ctx).set_index(["domain", "from_step", "to_step"])
    five.dispose()
    with demo_rt.sessions() as s:
        rows = s.execute(select(Assessment.participant_id, Assessment.stage, AssessmentScore.score)
                         .join(AssessmentScore).where(Assessment.status == "locked",
                                                      AssessmentScore.domain == "gender_equality")).all()
    wide = pd.DataFrame(rows, columns=["p", "stage", "score"]).pivot(index="p", columns="stage",
                                                                       values="score")
    pairs = wide[["planning", "midterm"]].dropna()
    cell = table.loc[("gender_equality", "planning", "midterm")]
    if len(pairs) >= 5:
        assert cell.n == len(pairs)
        assert cell.mean_diff == pytest.approx((pairs.midterm - pairs.planning).mean())
    else:
        assert cell.n == "<5"


def test_outcomes_are_for_the_committee_and_analysts_with_a_threshold_of_five_at_least(world):
    w = world
    with w["ctx"](w["a"]) as ctx, pytest.raises(PermissionDenied):
        service.programme_outcomes(ctx)
    with w["ctx"](w["member"]) as ctx:
        assert service.suppression_threshold(ctx) == 10  # the default; never below 5 (db.config)
        with pytest.raises(ValidationError, match="grouped by"):
            service.programme_outcomes(ctx, by="study_code")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_synthetic_programmes_true_stage_effect_is_recovered(rt, make_account):
    """Mixed model and paired change, in SD units of each norm, cover the generator's true effect.

    The generator moves every domain by stage_effect_sd; the deteriorating share moves by -0.6 times
    that, so the programme's average effect is stage_effect_sd * (1 - 1.6 * deteriorating_share).
    """
    from demo import loader, synthetic

    loader.load(rt, participants=300, seed=5)
    analyst = make_account("analyst")
    t = synthetic.TRUE_EFFECTS
    shrink = 1 - 1.6 * t["deteriorating_share"]
    with rt.context(analyst) as ctx:
        table = service.programme_outcomes(ctx).set_index(["domain", "from_step", "to_step"])
        for domain in synthetic.DOMAINS:
            sd = next(i for i in (get_instrument(x) for x in ("GS-12", "GE-10", "DU-14"))
                      if domain in i.norms).norms[domain].sd
            model = service.three_step_model(ctx, domain=domain)
            for stage in ("midterm", "conclusion"):
                truth = t["stage_effect_sd"][stage] * shrink
                fe = model.fixed_effects.loc[f"step[{stage}]"]
                assert fe.ci_lower / sd <= truth <= fe.ci_upper / sd, (domain, stage, fe / sd, truth)
                pc = table.loc[(domain, "planning", stage)]
                assert pc.ci_lower / sd <= truth <= pc.ci_upper / sd, (domain, stage, truth)
