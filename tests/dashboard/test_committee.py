"""The evaluation committee's pages through AppTest: aggregates only, exports with a purpose, sign-off."""

from __future__ import annotations

import datetime as dt
import io
import re

import pandas as pd
import pytest
from sqlalchemy import select

from db.schema import ExportManifest, Participant, StageStep
from errors import PermissionDenied
from matrix import service
from tests.matrix.test_service_signoff import conclusion_status, reviewed_cohort
from tests.dashboard.helpers import actor, rendered

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

PAGES = ("pages/outcomes.py", "pages/reviews.py", "pages/signoff.py")
CODE = re.compile(rb"P-[0-9A-Z]{10}")
ID_COLUMNS = {"participant", "participant_id", "study_code", "id", "연구 코드", "참여자"}


def assert_names_no_one(at, rt) -> None:
    sent = rendered(at)
    assert not CODE.search(sent)
    with rt.sessions() as s:
        codes = set(s.scalars(select(Participant.study_code)))
    assert codes and not any(c.encode() in sent for c in codes)
    for frame in at.dataframe:
        assert not ID_COLUMNS & {str(c) for c in frame.value.columns}, list(frame.value.columns)


def manifests(rt) -> list[tuple[str, str]]:
    with rt.sessions() as s:
        return [(m.kind, m.purpose) for m in s.scalars(select(ExportManifest).order_by(ExportManifest.id))]


def test_every_committee_page_names_no_one_not_even_by_study_code(demo, signed_in):
    # Both languages, errors and Korean text are checked on every page in test_every_page.py.
    reviewed_cohort(demo)  # so that the sign-off page has its form
    for page in PAGES:
        at = signed_in("committee1", page)
        assert not at.exception, (page, at.exception)
        assert_names_no_one(at, demo)
    outcomes = signed_in("committee1", "pages/outcomes.py")
    # One tab per domain, drawn when opened: each in turn has its chart and names no one.
    labels = [tab.label for tab in outcomes.tabs]
    assert len(labels) == 6
    for label in labels:
        outcomes.session_state["cm_domain_tabs"] = label
        outcomes.run()
        assert not outcomes.exception, label
        assert len(outcomes.get("plotly_chart")) == 1, label
        assert_names_no_one(outcomes, demo)
    assert any("<10" in i.value and "소표본" in i.value for i in outcomes.info)
    assert any("d_z" in c.value and "d_av" in c.value for c in outcomes.caption)


def test_grouping_switch_regroups_and_small_cells_stay_hidden(demo, signed_in):
    at = signed_in("committee2", "pages/outcomes.py")
    overall = at.dataframe[1].value
    assert "집단" not in overall.columns and len(overall) == 3  # three step pairs, one group
    for by in ("cohort", "programme", "age_band", "offence_type"):
        at.selectbox(key="cm_by").set_value(by).run()
        assert not at.exception and not at.error, by
        change = at.dataframe[1].value
        assert "집단" in change.columns and "전체" in set(change["집단"])
        # a suppressed count shows its mark, and its figures are empty
        hidden = change[change["인원 (n)"].isin(["<10", "x"])]
        assert (hidden["평균 변화"] == "").all()
        assert_names_no_one(at, demo)
    assert any(c.isin(["<10"]).any() for c in (d.value["인원 (n)"] for d in at.dataframe
                                                if "인원 (n)" in d.value.columns))


def test_the_grouping_and_the_model_switch_survive_a_language_switch(demo, signed_in):
    at = signed_in("committee1", "pages/outcomes.py")
    at.selectbox(key="cm_by").set_value("programme").run()
    at.toggle(key="cm_fit_models").set_value(True).run()
    at.selectbox(key="lang_select").set_value("en").run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Programme outcomes"]
    assert at.selectbox(key="cm_by").value == "programme"
    assert at.toggle(key="cm_fit_models").value is True
    assert "Group" in at.dataframe[1].value.columns  # still grouped, now in English


def test_mixed_models_are_fitted_when_asked(demo, signed_in):
    at = signed_in("committee1", "pages/outcomes.py")
    assert any("스위치를 켜면" in c.value for c in at.caption)
    n_tables = len(at.dataframe)
    at.toggle(key="cm_fit_models").set_value(True).run()
    assert not at.exception and not at.error
    assert not any("스위치를 켜면" in c.value for c in at.caption)
    # The open domain gains its fixed-effects table: intercept and the two step effects.
    assert len(at.dataframe) == n_tables + 1
    terms = [d.value for d in at.dataframe[n_tables:] if "항" in "".join(map(str, d.value.columns))
             or len(d.value) == 3]
    assert terms and all(len(v) >= 3 for v in terms)


def test_downloads_ask_their_purpose_and_are_recorded(demo, signed_in):
    at = signed_in("committee1", "pages/outcomes.py")
    at.button(key="FormSubmitter:dl_cm_csv_none-내려받기 준비").click().run()
    assert any("내려받기 목적" in e.value for e in at.error)
    assert "file_cm_csv_none" not in at.session_state and manifests(demo) == []
    at.text_input(key="purpose_cm_csv_none").input("평가위원회 반기 회의 자료")
    at.button(key="FormSubmitter:dl_cm_csv_none-내려받기 준비").click().run()
    export = at.session_state["file_cm_csv_none"]
    csv = export.data
    assert b"domain" in csv and not CODE.search(csv)
    assert export.file_name.startswith("programme-outcomes-whole-programme-")
    # Beside every figure its rounded copy; the exact value stays.
    table = pd.read_csv(io.BytesIO(csv), dtype=str, keep_default_na=False)
    assert list(table.columns[:6]) == ["domain", "from_step", "to_step", "n", "mean_pre", "mean_pre (반올림)"]
    for _, row in table.iterrows():
        if row["mean_diff"] not in ("", "x"):
            assert row["mean_diff (반올림)"] == f"{float(row['mean_diff']):.2f}"
            assert row["share_improved (반올림)"].endswith("%")
    # Korean headers and names on request, in a file that says so.
    at.checkbox(key="cm_csv_korean").check().run()
    at.button(key="FormSubmitter:dl_cm_csv_none-내려받기 준비").click().run()
    korean = at.session_state["file_cm_csv_none"]
    assert korean.file_name.startswith("programme-outcomes-whole-programme-korean-")
    headed = pd.read_csv(io.BytesIO(korean.data), dtype=str, keep_default_na=False)
    assert list(headed.columns[:6]) == ["영역", "이전 단계", "이후 단계", "인원", "이전 평균", "이전 평균 (반올림)"]
    assert "성인지 감수성" in set(headed["영역"]) and not {"planning", "midterm"} & set(headed["이전 단계"])
    assert not [c for c in headed.columns if re.search(r"[a-z]{3,}_", c)]  # no raw column code left
    assert len(headed) == len(table)

    at.button(key="FormSubmitter:cm_report_form-내려받기 준비").click().run()
    assert any("내려받기 목적" in e.value for e in at.error)
    at.text_input(key="cm_report_purpose").input("평가위원회 보고서 인쇄")
    at.button(key="FormSubmitter:cm_report_form-내려받기 준비").click().run()
    report = at.session_state["cm_report_file_none"].data
    assert report.startswith(b"<!DOCTYPE html>") and "프로그램 성과 보고서".encode() in report
    assert "사전 (계획 단계)".encode() in report and not CODE.search(report)
    assert manifests(demo) == [("programme_outcomes", "평가위원회 반기 회의 자료"),
                               ("programme_outcomes", "평가위원회 반기 회의 자료"),
                               ("outcomes_report_html", "평가위원회 보고서 인쇄")]


def test_the_review_form_wants_every_indicator_and_keeps_what_was_chosen(demo, signed_in):
    at = signed_in("committee2", "pages/reviews.py")
    # The period is chosen, not typed: this half-year by default, the demo's ratings are 2026-H1.
    assert at.selectbox(key="cm_rv_period_half").value == (2026, 2)
    at.selectbox(key="cm_rv_period_half").set_value((2026, 1)).run()
    assert at.radio(key="cm_rv_victim_perspective").value is not None  # the demo's 2026-H1 rating
    icc = next(d.value for d in at.dataframe if "ICC" in d.value.columns)
    assert {"ICC(2,1)", "ICC(2,k)"} == set(icc["유형"]) and "95% 신뢰구간" in icc.columns
    # Every ICC is read in words, and an unbounded interval says so instead of printing "-inf".
    assert (icc["해석"].str.len() > 0).all() and not icc["95% 신뢰구간"].str.contains("inf").any()
    assert "[하한 없음, 1.00]" in set(icc["95% 신뢰구간"])  # the demo's ICC(2,k) with two programmes
    # Banded as printed: a shown 0.50 is moderate, not "below 0.5".
    assert all(r.startswith("보통") for r in icc.loc[icc["ICC"] == "0.50", "해석"])
    assert at.get("plotly_chart")
    at.selectbox(key="cm_rv_period_half").set_value((2026, 2)).run()
    assert all(at.radio(key=f"cm_rv_{i}").value is None for i in service.REVIEW_INDICATORS)
    at.radio(key="cm_rv_gender_sensitive_language").set_value(4)
    at.radio(key="cm_rv_consent_and_boundaries").set_value(2)
    at.button(key="FormSubmitter:cm_review_form-평가 저장").click().run()
    assert len(at.error) == 2 and all("점수를 선택하십시오" in e.value for e in at.error)
    assert at.radio(key="cm_rv_consent_and_boundaries").value == 2
    at.radio(key="cm_rv_power_and_gender_norms").set_value(3)
    at.radio(key="cm_rv_victim_perspective").set_value(5)
    at.text_area(key="cm_rv_comment").input("피해자 관점 회기가 충실함")
    at.button(key="FormSubmitter:cm_review_form-평가 저장").click().run()
    assert not at.error and any("저장" in s.value for s in at.success)
    with demo.context(actor(demo, "committee2")) as ctx:
        mine = service.my_programme_reviews(ctx, period="2026-H2")
    assert dict(zip(mine["indicator"], mine["score"], strict=True)) == {
        "gender_sensitive_language": 4, "consent_and_boundaries": 2,
        "power_and_gender_norms": 3, "victim_perspective": 5}
    # The period's summary (one rater so far: no agreement yet, and the page says why).
    summary = next(d.value for d in at.dataframe if "평가자 수" in d.value.columns)
    assert set(summary["평가자 수"]) == {1}
    assert any("일치도를 계산할 수 없습니다" in i.value for i in at.info)
    # A period the use case refuses: the message is shown in place and the choices are kept.
    # (a date range that ends before it starts).
    at.selectbox(key="cm_rv_period_kind").set_value("range").run()
    at.date_input(key="cm_rv_period_from").set_value(dt.date(2026, 6, 30))
    at.date_input(key="cm_rv_period_to").set_value(dt.date(2026, 1, 5)).run()
    at.radio(key="cm_rv_gender_sensitive_language").set_value(5)
    for i in service.REVIEW_INDICATORS[1:]:
        at.radio(key=f"cm_rv_{i}").set_value(1)
    at.button(key="FormSubmitter:cm_review_form-평가 저장").click().run()
    assert any("평가 기간" in e.value and "기간이 아닙니다" in e.value for e in at.error), \
        [e.value for e in at.error]
    assert at.radio(key="cm_rv_gender_sensitive_language").value == 5
    # A cohort of the programme is a period too, and the rating is kept under its name.
    at.selectbox(key="cm_rv_period_kind").set_value("cohort").run()
    cohort = at.selectbox(key="cm_rv_period_cohort").value
    assert cohort in at.selectbox(key="cm_rv_period_cohort").options
    for i in service.REVIEW_INDICATORS:  # a new period starts from no rating
        at.radio(key=f"cm_rv_{i}").set_value(3)
    at.button(key="FormSubmitter:cm_review_form-평가 저장").click().run()
    assert not at.error, [e.value for e in at.error]
    with demo.context(actor(demo, "committee2")) as ctx:
        assert len(service.my_programme_reviews(ctx, period=f"cohort:{cohort}")) == 4


def test_sign_off_needs_confirmation_and_then_signs_the_cohort(demo, signed_in):
    label, _cid, pids = reviewed_cohort(demo)
    at = signed_in("committee3", "pages/signoff.py")
    assert at.selectbox(key="cm_so_cohort").options == [label]
    shown = at.dataframe[0].value
    assert "<10" in set(shown.iloc[:, 2])  # the cohort's count, suppressed
    at.text_area(key="cm_so_decision").input("2026-07-14 평가위원회 회의에서 승인")
    at.button(key="FormSubmitter:cm_signoff_form-승인").click().run()
    assert any(label in m.value and "잠기며" in m.value for m in at.markdown), "the dialog says what it does"
    at.button(key="cm_so_no").click().run()  # cancelled: nothing signed, the decision kept
    assert not at.exception and not at.error
    assert at.text_area(key="cm_so_decision").value == "2026-07-14 평가위원회 회의에서 승인"
    assert set(conclusion_status(demo, pids).values()) == {"reviewed"}
    at.button(key="FormSubmitter:cm_signoff_form-승인").click().run()
    at.button(key="cm_so_yes").click().run()
    assert not at.exception and not at.error
    assert any(label in s.value for s in at.success)
    assert set(conclusion_status(demo, pids).values()) == {"signed"}
    member = actor(demo, "committee3")
    with demo.sessions() as s:
        assert set(s.scalars(select(StageStep.signed_by).where(
            StageStep.participant_id.in_(pids), StageStep.stage == "conclusion"))) == {member.id}
    assert any("승인을 기다리는" in i.value for i in at.info)


def test_a_decision_naming_someone_is_refused_in_place(demo, signed_in):
    _label, _cid, pids = reviewed_cohort(demo)
    at = signed_in("committee1", "pages/signoff.py")
    at.text_area(key="cm_so_decision").input("피해자 김민지 학생 건 확인 후 승인")
    at.button(key="FormSubmitter:cm_signoff_form-승인").click().run()
    at.button(key="cm_so_yes").click().run()
    assert any("식별할 수 있는 정보" in e.value for e in at.error)
    assert at.text_area(key="cm_so_decision").value == "피해자 김민지 학생 건 확인 후 승인"
    assert set(conclusion_status(demo, pids).values()) == {"reviewed"}


def test_other_roles_are_kept_out_of_the_committee_pages_and_use_cases(demo, signed_in):
    from dashboard.navigation import visible_pages

    committee = {key for _path, key in visible_pages("committee")}
    assert {"cm_outcomes", "cm_reviews", "cm_signoff"} <= committee
    assert {key for _p, key in visible_pages("analyst")} & {"cm_reviews", "cm_signoff"} == set()
    assert "cm_outcomes" in {key for _p, key in visible_pages("analyst")}  # outcomes.read
    for role in ("counselor", "reviewer", "admin"):
        # The admin, like the committee, approves risk models on their page.
        assert not committee & {key for _p, key in visible_pages(role)} - {"home", "an_models"}
    # reached anyway, each page refuses before showing anything
    at = signed_in("analyst1", "pages/outcomes.py")
    assert not at.exception and at.get("plotly_chart")
    for username, page in (("counselor1", "pages/signoff.py"), ("analyst1", "pages/reviews.py")):
        at = signed_in(username, None)
        try:
            at.switch_page(page).run()
        except ValueError as exc:
            assert "Could not find a navigation page" in str(exc)
            continue
        assert [e.value for e in at.error] == ["접근 권한이 없습니다"]
        assert not at.dataframe
    label, _cid, _pids = reviewed_cohort(demo)
    for username in ("counselor1", "analyst1", "reviewer1"):
        with demo.context(actor(demo, username)) as ctx:
            with pytest.raises(PermissionDenied):
                service.record_programme_review(ctx, programme_id=1, indicator="victim_perspective",
                                                score=3, period="2026-H2")
        with demo.context(actor(demo, username)) as ctx:
            with pytest.raises(PermissionDenied):
                service.sign_off_cohort(ctx, label, as_of=dt.datetime(2030, 1, 1),
                                        decision="정기 회의 승인 의결")


def test_past_decisions_are_shown_on_request_corrected_and_erased(demo, signed_in):
    from db.schema import AuditLog

    label, _cid, _pids = reviewed_cohort(demo)
    with demo.context(actor(demo, "committee1")) as ctx:
        service.sign_off_cohort(ctx, label, as_of=dt.datetime(2030, 1, 1),
                                decision="2026-07-14 평가위원회 회의에서 승인")
    at = signed_in("committee3", "pages/signoff.py")
    assert not at.exception
    # Nothing is decrypted until the member asks for the past decisions.
    assert all("위원회 결정" not in d.value.columns for d in at.dataframe)
    at.toggle(key="cm_so_show_past").set_value(True).run()
    past = next(d.value for d in at.dataframe if "위원회 결정" in d.value.columns)
    assert list(past["위원회 결정"]) == ["2026-07-14 평가위원회 회의에서 승인"]
    assert list(past["작성자"]) == ["committee1"]
    at.text_area(key="cm_so_correct_text").input("2026-07-15 평가위원회 회의에서 승인")
    at.button(key="FormSubmitter:cm_so_correct_form-정정 저장").click().run()
    assert not at.exception and not at.error and at.success
    at.run()
    past = next(d.value for d in at.dataframe if "위원회 결정" in d.value.columns)
    assert list(past["위원회 결정"]) == ["2026-07-15 평가위원회 회의에서 승인"]
    at.button(key="cm_so_erase").click().run()
    assert any("확인란" in e.value for e in at.error)
    at.checkbox(key="cm_so_erase_confirm").check()
    at.button(key="cm_so_erase").click().run()
    assert not at.error
    at.run()
    past = next(d.value for d in at.dataframe if "위원회 결정" in d.value.columns)
    assert past["위원회 결정"].iloc[0].startswith("(삭제됨: committee3")
    with demo.sessions() as s:
        details = " ".join(d or "" for d in s.scalars(select(AuditLog.detail)))
        reads = s.scalars(select(AuditLog).where(AuditLog.action == "read",
                                                 AuditLog.table_name == "reason_texts")).all()
    assert "평가위원회 회의에서 승인" not in details
    assert reads and {r.actor for r in reads} == {"committee3"}
