"""Each role's home page is the start of its day: what waits for it, from the use cases it may
call, on a demo database through AppTest (and the use cases the page reads, on both backends)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from accounts import service as accounts
from assessment import service as assessments
from assessment.instruments import default_instruments
from casework import service as casework
from db.context import local_today
from db.schema import Account, AuditLog, Cohort, StageStep
from errors import PermissionDenied, ValidationError
from matrix import service as matrix_service
from tests.dashboard.helpers import actor


def table_with(at, column):
    return next(d.value for d in at.dataframe if column in d.value.columns)


@pytest.fixture
def newcomer(demo):
    """A young person in counselor1's caseload since 30 days ago: planning overdue; a session
    today and one instrument left as a draft."""
    today = local_today()
    with demo.context_for("counselor1") as ctx:
        cohort = ctx.session.scalars(select(Cohort.id).order_by(Cohort.id)).first()
        pid = casework.register_participant(ctx, casework.NewParticipant(
            intake_ref="REF-HOME-1", name="시험 참여자", birth_date=dt.date(2011, 3, 1), sex="male",
            cohort_id=cohort, enrolled_on=today - dt.timedelta(days=30), age_at_referral=15))
        code = next(r.study_code for r in casework.my_caseload(ctx) if r.participant_id == pid)
        casework.record_session(ctx, participant_id=pid, session_date=today, minutes=50,
                                modality="in_person", attendance="attended")
        inst = next(i for i in default_instruments().values() if "planning" in i.stages)
        first = inst.items[0]
        assessments.record_draft(ctx, participant_id=pid, stage="planning", instrument_id=inst.id,
                                 responses={first.id: inst.scale.min}, administered_on=today)
    return pid, code, inst.id


def test_a_counselors_day_starts_with_overdue_steps_this_weeks_sessions_and_open_drafts(
        demo, signed_in, newcomer):
    pid, code, instrument = newcomer
    at = signed_in("counselor1")
    assert not at.exception
    heads = [h.value for h in at.subheader]
    assert heads[0] == "기한이 지난 단계" and heads[1].startswith("이번 주 회기 (")
    overdue = table_with(at, "지난 일수")
    mine = overdue[overdue["연구 코드"] == code]
    assert mine["다음 단계"].tolist() == ["계획"] and int(mine["지난 일수"].iloc[0]) > 0
    # The page's list is the use case's: every participant with a late step, none other.
    with demo.context_for("counselor1") as ctx:
        late = matrix_service.overdue_steps(ctx, ctx.today)
    assert set(overdue["연구 코드"]) == set(late["study_code"])
    week = table_with(at, "회기 날짜")
    assert code in set(week["연구 코드"])
    drafts = table_with(at, "검사")
    assert drafts[drafts["연구 코드"] == code]["검사"].tolist() == [instrument]
    # Nothing of another role's day.
    assert "잠긴 계정" not in heads and "검토를 기다리는 탐지 건" not in heads


def test_sessions_of_a_week_are_the_caseloads_own_and_a_backwards_period_is_refused(demo, newcomer):
    pid, code, _ = newcomer
    today = local_today()
    with demo.context_for("counselor1") as ctx:
        week = casework.sessions_between(ctx, today - dt.timedelta(days=6), today)
        with pytest.raises(ValidationError, match="starts .* after it ends"):
            casework.sessions_between(ctx, today, today - dt.timedelta(days=1))
    assert code in set(week["study_code"]) and "notes" not in week.columns
    with demo.context_for("counselor2") as ctx:
        theirs = casework.sessions_between(ctx, today - dt.timedelta(days=6), today)
    assert code not in set(theirs["study_code"])
    with demo.context_for("analyst1") as ctx, pytest.raises(PermissionDenied):
        casework.sessions_between(ctx, today, today)


def _submit_a_step_of(demo, lead: str):
    """A step of the lead's team submitted by its counselor: (participant id, study code, step)."""
    from tests.db.test_access import DEMO_TODAY, submitted_step

    pid, stage, counselor = submitted_step(demo)
    with demo.sessions() as s:
        team = {a.username for a in s.scalars(select(Account).where(
            Account.supervisor_id == select(Account.id).where(Account.username == lead)
            .scalar_subquery()))}
        code = s.scalars(select(StageStep).where(StageStep.participant_id == pid)).first()
        from db.schema import Participant
        code = s.get(Participant, pid).study_code
    return pid, code, stage, counselor, counselor in team, DEMO_TODAY


def test_a_supervisor_sees_the_teams_steps_to_review_then_to_countersign(demo, signed_in):
    pid, code, stage, counselor, in_team, when = _submit_a_step_of(demo, "supervisor1")
    lead = "supervisor1" if in_team else _lead_of(demo, counselor)
    at = signed_in(lead)
    assert not at.exception
    waiting = table_with(at, "할 일")
    row = waiting[waiting["연구 코드"] == code]
    assert row["할 일"].tolist() == ["검토"]
    with demo.context(actor(demo, lead), today=when) as ctx:
        matrix_service.step_action(ctx, participant_id=pid, stage=stage, action="review")
    at = signed_in(lead)
    waiting = table_with(at, "할 일")
    assert waiting[waiting["연구 코드"] == code]["할 일"].tolist() == ["서명"]
    # The counselor who submitted it sees nothing of it to review: four eyes.
    with demo.context_for(counselor) as ctx:
        assert code not in set(matrix_service.steps_awaiting(ctx)["study_code"])
    with demo.context_for("analyst1") as ctx, pytest.raises(PermissionDenied):
        matrix_service.steps_awaiting(ctx)


def _lead_of(demo, counselor: str) -> str:
    with demo.sessions() as s:
        acc = s.scalars(select(Account).where(Account.username == counselor)).one()
        return s.get(Account, acc.supervisor_id).username


def test_the_committee_sees_the_programmes_it_has_not_rated_for_the_half_year(demo, signed_in):
    at = signed_in("committee1")
    assert not at.exception
    today = local_today()
    period = f"{today.year}-H{1 if today.month <= 6 else 2}"
    half = "상반기" if period.endswith("H1") else "하반기"
    assert f"{today.year}년 {half} 프로그램 평가" in [h.value for h in at.subheader]
    with demo.context_for("committee1") as ctx:
        programmes = matrix_service.review_programmes(ctx)
    names = list(programmes["programme"])
    left = next(w.value for w in at.warning if w.value.startswith("아직 평가하지 않은"))
    assert all(n in left for n in names)
    with demo.context_for("committee1") as ctx:
        for indicator in matrix_service.REVIEW_INDICATORS:
            matrix_service.record_programme_review(
                ctx, programme_id=int(programmes["programme_id"].iloc[0]), indicator=indicator,
                score=4, period=period)
    at = signed_in("committee1")
    left = [w.value for w in at.warning if w.value.startswith("아직 평가하지 않은")]
    assert left and names[0] not in left[0] and all(n in left[0] for n in names[1:])


def test_the_analyst_sees_who_ended_without_a_follow_up_window(demo, signed_in):
    at = signed_in("analyst1")
    assert not at.exception
    with demo.context_for("analyst1") as ctx:
        from models import service as models_service

        n = int(models_service.follow_up_register(ctx)["follow_up_end"].isna().sum())
    assert n > 0
    assert f"프로그램을 마쳤지만 추적 관찰 기간이 없는 참여자: {n}명" in [w.value for w in at.warning]


def test_the_admin_marks_the_months_access_review_and_unlocks_a_locked_account(demo, signed_in):
    for _ in range(accounts.MAX_FAILED_LOGINS):
        with pytest.raises(accounts.LoginFailed):
            accounts.authenticate(demo, "counselor2", "not the password")
    at = signed_in("admin")
    assert not at.exception
    due = [w.value for w in at.warning if "접근 점검을 아직 마치지 않았습니다" in w.value]
    assert len(due) == 1
    assert any("counselor2" in m.value for m in at.markdown)
    at.button(key="hm_unlock_counselor2").click().run()
    assert not at.exception
    assert not any("counselor2" in m.value for m in at.markdown)
    with demo.context_for("admin") as ctx:
        assert [a.username for a in accounts.locked_accounts(ctx)] == []
    at.button(key="hm_mark_reviewed").click().run()
    assert not at.exception
    assert [s.value for s in at.success if "접근 점검을 마쳤습니다" in s.value]
    with demo.sessions() as s:
        actions = [e.action for e in s.scalars(select(AuditLog).where(
            AuditLog.actor == "admin", AuditLog.action.in_(("unlock", "access_reviewed"))))]
    assert actions == ["unlock", "access_reviewed"]


def test_an_access_review_is_marked_once_and_only_for_a_month_that_has_ended(demo):
    with demo.context_for("admin") as ctx:
        status = accounts.access_review_status(ctx, dt.date(2026, 12, 2))
        assert (status.due_month, status.done, status.last_done) == (dt.date(2026, 11, 1), False, None)
        with pytest.raises(ValidationError, match="has not ended yet"):
            accounts.mark_access_reviewed(ctx, dt.date(2026, 12, 1), today=dt.date(2026, 12, 2))
        accounts.mark_access_reviewed(ctx, dt.date(2026, 11, 17), today=dt.date(2026, 12, 2))
        accounts.mark_access_reviewed(ctx, dt.date(2026, 11, 1), today=dt.date(2026, 12, 2))
        assert accounts.access_review_status(ctx, dt.date(2026, 12, 31)).done
        later = accounts.access_review_status(ctx, dt.date(2027, 1, 3))
        assert (later.due_month, later.done, later.last_done) == (
            dt.date(2026, 12, 1), False, dt.date(2026, 11, 1))
    with demo.sessions() as s:
        marks = s.scalars(select(AuditLog.detail).where(AuditLog.action == "access_reviewed")).all()
    assert marks == ["month=2026-11"]
    with demo.context_for("counselor1") as ctx, pytest.raises(PermissionDenied):
        accounts.mark_access_reviewed(ctx, dt.date(2026, 11, 1))


@pytest.mark.parametrize("username", ["reviewer1", "committee1", "supervisor1"])
def test_every_role_has_a_home_page_in_korean_without_raw_codes(demo, signed_in, username):
    at = signed_in(username)
    assert not at.exception
    assert at.title[0].value == "홈" and at.subheader
    shown = " ".join([h.value for h in at.subheader] + [m.value for m in at.success]
                     + [m.value for m in at.warning] + [m.value for m in at.info])
    for code in ("submitted", "reviewed", "pending", "requested", "None", "Total"):
        assert code not in shown


def test_an_educators_day_starts_with_the_classes_whose_surveys_are_not_in(demo, signed_in):
    from prevention import service as prevention

    with demo.context_for("educator1") as ctx:
        programme = int(prevention.list_prevention_programmes(ctx)["programme_id"].iloc[0])
        prevention.record_delivery(ctx, programme_id=programme, delivered_on=local_today(),
                                   audience="kindergarten", institution_kind="kindergarten",
                                   district="mapo", present=18)
        waiting = prevention.my_deliveries(ctx)
    waiting = waiting[waiting["n_pre"] + waiting["n_post"] == 0]
    at = signed_in("educator1")
    assert not at.exception
    table = next(d.value for d in at.dataframe if "참석 인원" in d.value.columns)
    assert len(table) == len(waiting) >= 1 and "유치원" in set(table["대상"])
    assert "기한이 지난 단계" not in [h.value for h in at.subheader]  # nothing of counseling
