"""The counselor's pages through AppTest on a demo database: caseload, matrix, giving an instrument."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from assessment import service as assessments
from assessment.instruments import get_instrument
from dashboard.navigation import visible_pages
from casework import service as casework
from db.context import local_today
from db.schema import Cohort, Goal, StageStep
from errors import PermissionDenied
from matrix import service as matrix_service

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

SAVE = "FormSubmitter:co_in_form_{}-임시 저장"
FINALISE = "FormSubmitter:co_in_form_{}-입력 완료 (채점)"


@pytest.fixture
def newcomer(demo):
    """A young person who joined counselor1's caseload 30 days ago: planning not started, overdue."""
    with demo.context_for("counselor1") as ctx:
        cohort = ctx.session.scalars(select(Cohort.id).order_by(Cohort.id)).first()
        pid = casework.register_participant(ctx, casework.NewParticipant(
            intake_ref="REF-APPTEST-1", name="시험 참여자", birth_date=dt.date(2011, 3, 1), sex="male",
            cohort_id=cohort, enrolled_on=local_today() - dt.timedelta(days=30), age_at_referral=15))
        code = next(r.study_code for r in casework.my_caseload(ctx) if r.participant_id == pid)
    return pid, code


def open_for(signed_in, page, code, username="counselor1"):
    at = signed_in(username)
    at.session_state["current_code"] = code
    return at.switch_page(page).run()


def sheets(rt, pid, stage="planning"):
    with rt.context_for("counselor1") as ctx:
        return {a.instrument_id: a for a in assessments.list_assessments(ctx, pid, stage=stage)}


def table_with(at, column):
    """The shown table that has a column (st.dataframe is found by what it shows)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def date_format(table, column: str) -> str | None:
    """The format a shown table gives a date column (dashboard.dates.date_columns)."""
    return json.loads(table.proto.columns or "{}").get(column, {}).get("type_config", {}).get("format")


def answer(at, instrument_id, values):
    for item_id, value in values.items():
        at.radio(key=f"co_item_{instrument_id}_{item_id}").set_value(value)


# --- pages render for their role --------------------------------------------------------------

def test_the_counselor_has_the_three_pages_and_no_other_role_does(backend):
    pages = [p for p, _ in visible_pages("counselor")]
    assert {"pages/caseload.py", "pages/matrix.py", "pages/instrument.py"} <= set(pages)
    for role in ("committee", "analyst", "reviewer", "admin"):
        assert not {"pages/matrix.py", "pages/instrument.py"} & {p for p, _ in visible_pages(role)}
    assert "pages/instrument.py" not in {p for p, _ in visible_pages("supervisor")}


def test_the_caseload_shows_the_next_step_overdue_marks_and_the_completion_matrix(demo, signed_in, newcomer):
    _pid, code = newcomer
    at = signed_in("counselor1", "pages/caseload.py")
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    row = table[table["연구 코드"] == code].iloc[0]
    assert row["다음 단계"] == "계획 단계 (사전 평가)"
    assert row["기한 지남"].startswith("⚠ 1단계 · 16일")
    enrolled = local_today() - dt.timedelta(days=30)
    assert row["등록일"] == enrolled  # a date, so the column sorts by date ...
    assert date_format(at.dataframe[0], "등록일") == "YYYY. M. D."  # ... shown the Korean way
    assert any("기한이 지난 단계" in w.value for w in at.warning)
    heat = [c for c in at.get("plotly_chart")]
    assert heat, "the completion matrix is drawn"
    at.segmented_control(key="co_cl_show").set_value("all").run()
    assert not at.exception
    # Opening a participant from the caseload carries the study code to the matrix page.
    at.selectbox(key="co_cl_code").set_value(code)
    at.button(key="FormSubmitter:co_cl_open_form-평가 매트릭스로 가기").click().run()
    assert not at.exception
    assert at.selectbox(key="co_mx_code").value == code


def test_the_matrix_page_shows_steps_scores_change_and_goals_of_a_signed_participant(demo, signed_in):
    with demo.context_for("counselor1") as ctx:
        done = next(r.study_code for r in casework.my_caseload(ctx) if r.status == "completed")
    at = open_for(signed_in, "pages/matrix.py", done)
    assert not at.exception and not at.error
    steps = table_with(at, "버전")
    assert list(steps["상태"]) == ["승인·잠김"] * 3
    assert len(at.get("plotly_chart")) >= 2  # the heatmap and the change chart
    assert not table_with(at, "RCI").empty
    assert not table_with(at, "상담 목표").empty
    # A signed step is locked for its counselor: only the supervisor or an admin unlocks it.
    assert any("할 수 있는 처리가 없습니다" in c.value for c in at.caption)


def test_the_supervisor_reviews_the_teams_matrix_and_edits_nothing(demo, signed_in):
    with demo.context_for("counselor1") as ctx:
        done, done_pid = next((r.study_code, r.participant_id) for r in casework.my_caseload(ctx)
                              if r.status == "completed")
    assert "pages/matrix.py" in [p for p, _ in visible_pages("supervisor")]
    assert "pages/instrument.py" not in [p for p, _ in visible_pages("supervisor")]
    at = open_for(signed_in, "pages/matrix.py", done, username="supervisor1")
    assert not at.exception and not at.error
    assert any("확인 서명" in c.value for c in at.caption)  # review mode, said on the page
    assert not [b for b in at.button if "co_mx_goal_form" in b.key or "co_mx_review_form" in b.key]
    # A signed step offers its unlock, and only after confirming with a reason.
    assert at.selectbox(key="co_mx_act_action").options == ["잠금 해제 (사유 필수)"]
    at.text_input(key="co_mx_act_reason").input("점수 입력 오류 정정")
    at.button(key="FormSubmitter:co_mx_act_form-잠금 해제 (사유 필수)").click().run()
    assert any("점수 입력 오류 정정" in m.value for m in at.markdown), "the dialog shows the reason"
    at.button(key="co_mx_act_no").click().run()
    assert not at.exception and not at.error
    assert at.text_input(key="co_mx_act_reason").value == "점수 입력 오류 정정"
    assert status_of(demo, done_pid, "planning") == "signed", "cancelled: still locked"


def test_the_counselor_pages_render_in_english(demo, signed_in, newcomer):
    _pid, code = newcomer
    for page in ("pages/caseload.py", "pages/matrix.py", "pages/instrument.py", "pages/participant.py"):
        at = signed_in("counselor1")
        at.session_state["lang"] = at.session_state["lang_select"] = "en"
        at.session_state["current_code"] = code
        at.switch_page(page).run()
        assert not at.exception, page
        assert not any(e.value for e in at.error), page
    assert at.title[0].value == "Participant record"


# --- giving an instrument ----------------------------------------------------------------------

def test_a_counselor_rating_is_saved_as_a_draft_reloaded_and_finalised(demo, signed_in, newcomer):
    pid, code = newcomer
    at = open_for(signed_in, "pages/instrument.py", code)
    assert not at.exception
    assert at.selectbox(key="co_in_stage").value == "planning"
    at.selectbox(key="co_in_inst").set_value("CR-3").run()
    cr = get_instrument("CR-3")
    assert len(at.radio(key="co_item_CR-3_CR-01").options) == 5  # one anchor per point
    answer(at, "CR-3", {"CR-01": 4, "CR-02": 3})
    at.text_area(key="co_free_CR-3_risk_notes").input("늦은 밤 단체 대화방 사용이 잦음")
    at.button(key=SAVE.format("CR-3")).click().run()
    assert not at.exception and not at.error
    sheet = sheets(demo, pid)["CR-3"]
    assert (sheet.status, dict(sheet.responses), sheet.has_notes) == ("draft", {"CR-01": 4, "CR-02": 3}, True)

    # A new visit reloads the draft, risk notes included.
    again = open_for(signed_in, "pages/instrument.py", code)
    again.selectbox(key="co_in_inst").set_value("CR-3").run()
    assert again.radio(key="co_item_CR-3_CR-02").value == 3
    assert again.radio(key="co_item_CR-3_CR-03").value is None
    assert again.text_area(key="co_free_CR-3_risk_notes").value == "늦은 밤 단체 대화방 사용이 잦음"
    answer(again, "CR-3", {"CR-03": 2})
    again.button(key=FINALISE.format("CR-3")).click().run()
    assert not again.exception and not again.error
    sheet = sheets(demo, pid)["CR-3"]
    assert sheet.status == "final"
    assert sheet.scores == {"engagement": 4.0, "responsibility_taking": 3.0, "victim_harm_understanding": 2.0}
    assert set(cr.domains) == set(sheet.scores)


def test_too_few_answers_to_finalise_are_explained_in_place_and_kept(demo, signed_in, newcomer):
    pid, code = newcomer
    at = open_for(signed_in, "pages/instrument.py", code)
    at.selectbox(key="co_in_inst").set_value("GS-12").run()
    answer(at, "GS-12", {"GS-01": 5})
    at.button(key=FINALISE.format("GS-12")).click().run()
    assert not at.exception
    assert any("응답한 문항이 너무 적어" in e.value for e in at.error)
    assert at.radio(key="co_item_GS-12_GS-01").value == 5
    assert sheets(demo, pid)["GS-12"].status == "draft"  # the answers were kept as a draft


def test_a_stale_save_shows_the_conflict_and_keeps_the_answers(demo, signed_in, newcomer):
    pid, code = newcomer
    at = open_for(signed_in, "pages/instrument.py", code)
    at.selectbox(key="co_in_inst").set_value("GE-10").run()
    answer(at, "GE-10", {"GE-01": 2})
    at.button(key=SAVE.format("GE-10")).click().run()
    first = sheets(demo, pid)["GE-10"]
    # Someone saves the same sheet in between (another tab, a colleague covering).
    with demo.context_for("counselor1") as ctx:
        assessments.record_draft(ctx, participant_id=pid, stage="planning", instrument_id="GE-10",
                                 responses={"GE-01": 1}, administered_on=ctx.today,
                                 expected_version=first.version)
    answer(at, "GE-10", {"GE-01": 4, "GE-02": 4})
    at.button(key=SAVE.format("GE-10")).click().run()
    assert not at.exception
    assert any("연 뒤에" in e.value for e in at.error)
    assert at.radio(key="co_item_GE-10_GE-02").value == 4
    assert dict(sheets(demo, pid)["GE-10"].responses) == {"GE-01": 1}
    # Reloading shows what is stored now.
    at.button(key="co_in_reload").click().run()
    assert at.radio(key="co_item_GE-10_GE-01").value == 1
    assert at.radio(key="co_item_GE-10_GE-02").value is None


def test_a_signed_step_is_read_only_on_the_instrument_page(demo, signed_in):
    with demo.context_for("counselor1") as ctx:
        done = next(r.study_code for r in casework.my_caseload(ctx) if r.status == "completed")
    at = open_for(signed_in, "pages/instrument.py", done)
    assert not at.exception
    assert any("바꿀 수 없습니다" in i.value for i in at.info)
    assert at.radio(key="co_item_DU-14_DU-01").disabled


# --- the matrix page's actions and goals ----------------------------------------------------------

def test_goals_and_step_actions_change_the_store(demo, signed_in, newcomer):
    pid, code = newcomer
    with demo.context_for("counselor1") as ctx:
        aid = assessments.record_draft(ctx, participant_id=pid, stage="planning", instrument_id="CR-3",
                                       responses={"CR-01": 3, "CR-02": 3, "CR-03": 3},
                                       administered_on=ctx.today)
        assessments.finalise(ctx, aid, 1)
    at = open_for(signed_in, "pages/matrix.py", code)
    assert not at.exception and not at.error
    due = table_with(at, "기한")["기한"].tolist()
    assert isinstance(due[0], dt.date) and all(d is None or isinstance(d, dt.date) for d in due), due
    steps_table = next(d for d in at.dataframe if "기한" in d.value.columns)
    assert date_format(steps_table, "기한") == "YYYY. M. D."
    # An empty goal is refused in place; a written one is kept (encrypted).
    at.button(key="FormSubmitter:co_mx_goal_form-상담 목표 설정").click().run()
    assert any("상담 목표가 비어 있습니다" in e.value for e in at.error)
    at.text_area(key="co_mx_goal_text").input("위험 상황에서 도움을 청할 사람을 정한다.")
    at.button(key="FormSubmitter:co_mx_goal_form-상담 목표 설정").click().run()
    assert not at.error
    with demo.sessions() as s:
        assert s.scalars(select(Goal).where(Goal.participant_id == pid)).one()
    assert "위험 상황에서" in table_with(at, "상담 목표").iloc[0, 0]
    # Submitting planning asks first, in a dialog that says what it does; then it is done.
    at.selectbox(key="co_mx_act_stage").set_value("planning").run()
    at.selectbox(key="co_mx_act_action").set_value("submit").run()
    at.button(key="FormSubmitter:co_mx_act_form-제출").click().run()
    assert any(code in m.value and "'제출됨'" in m.value for m in at.markdown), "the dialog says what happens"
    assert status_of(demo, pid, "planning") == "draft"  # nothing yet
    at.button(key="co_mx_act_yes").click().run()
    assert not at.exception and not at.error
    assert status_of(demo, pid, "planning") == "submitted"
    assert not [b for b in at.button if b.key == "co_mx_act_yes"], "the dialog has closed"
    # Skipping midterm, cancelled in the dialog: nothing changes.
    at.selectbox(key="co_mx_act_stage").set_value("midterm").run()
    at.selectbox(key="co_mx_act_action").set_value("skip").run()
    at.button(key="FormSubmitter:co_mx_act_form-건너뛰기 (사유 필수)").click().run()
    at.button(key="co_mx_act_no").click().run()
    assert not at.exception and not at.error
    assert status_of(demo, pid, "midterm") is None
    assert not [b for b in at.button if b.key == "co_mx_act_yes"]


def status_of(rt, pid, stage):
    with rt.sessions() as s:
        return s.scalar(select(StageStep.status).where(StageStep.participant_id == pid,
                                                       StageStep.stage == stage))


def test_the_risk_panel_shows_no_estimate_before_the_planning_step_is_signed(demo, signed_in, newcomer):
    # tests/dashboard/test_model_approval.py shows an approved model's estimate on this panel.
    _pid, code = newcomer
    at = open_for(signed_in, "pages/matrix.py", code)
    at.toggle(key="co_risk_show").set_value(True).run()
    assert not at.exception and not at.metric
    assert any("계획 단계가 승인(서명)된 뒤에" in i.value for i in at.info)


# --- other roles' use cases refuse ---------------------------------------------------------------

@pytest.mark.parametrize("username", ["committee1", "analyst1", "reviewer1", "admin"])
def test_other_roles_cannot_use_the_counselor_use_cases(demo, newcomer, username):
    pid, _code = newcomer
    with demo.context_for(username) as ctx:
        with pytest.raises(PermissionDenied):
            matrix_service.caseload_overview(ctx, ctx.today)
        with pytest.raises(PermissionDenied):
            matrix_service.participant_matrix(ctx, pid)
        with pytest.raises(PermissionDenied):
            assessments.record_draft(ctx, participant_id=pid, stage="planning", instrument_id="CR-3",
                                     responses={"CR-01": 3}, administered_on=ctx.today)


def test_each_change_panel_is_drawn_on_its_instruments_range_and_the_conclusion_by_the_whole_change(
        demo, signed_in):
    import json

    from assessment.instruments import get_instrument

    with demo.context_for("counselor1") as ctx:
        done = next(r for r in casework.my_caseload(ctx) if r.status == "completed")
        matrix = matrix_service.participant_matrix(ctx, done.participant_id)
    at = open_for(signed_in, "pages/matrix.py", done.study_code)
    spec = next(json.loads(e.proto.spec) for e in at.get("plotly_chart")
                if "co_mx_change_chart" in e.proto.id)
    layout = spec["layout"]
    order = {"planning": 0, "midterm": 1, "conclusion": 2}
    ranges = {}  # a domain's scores in step order -> its instrument's score ranges
    for domain, part in matrix.cells.groupby("domain"):
        part = part.sort_values("stage", key=lambda col: col.map(order))
        first = part.iloc[0]
        span = get_instrument(first.instrument_id, int(first.instrument_version)).score_range(domain)
        ranges.setdefault(tuple(round(v, 6) for v in part["score"]), []).append(span)
    def values(y) -> list[float]:  # Plotly 6 sends numeric arrays as base64 typed arrays
        if isinstance(y, dict):
            import base64

            import numpy as np
            return np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"]).tolist()
        return list(y)

    lines = [tr for tr in spec["data"] if tr.get("mode") == "lines"]
    assert len(lines) == matrix.cells["domain"].nunique()
    for tr in lines:
        axis = "yaxis" + tr.get("yaxis", "y")[1:]
        low, high = layout[axis]["range"]
        spans = ranges[tuple(round(v, 6) for v in values(tr["y"]))]
        assert any(low < lo <= hi < high and (high - low) < 1.2 * (hi - lo) for lo, hi in spans), (
            axis, (low, high), spans)
    # The conclusion marker of each domain has the colour of its planning -> conclusion class.
    colours = {"recovered": "#1f5f3f", "improved": "#5bb974", "unchanged": "#b0b7c3",
               "deteriorated": "#d64541"}
    whole = matrix.change[(matrix.change["from_step"] == "planning")
                          & (matrix.change["to_step"] == "conclusion")]
    markers = [tr for tr in spec["data"] if tr.get("mode") == "markers" and tr["x"] == ["종결"]]
    assert len(markers) == len(whole) > 0
    assert sorted(tr["marker"]["color"] for tr in markers) == sorted(colours[c] for c in whole["change"])
