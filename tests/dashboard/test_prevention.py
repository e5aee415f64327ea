"""The prevention pages through AppTest: the educator records a class and uploads its survey; the
committee reads the effect by audience, rates, recommends, adds the tailored version, downloads the report."""

from __future__ import annotations

import json

import datetime as dt

import pytest
from sqlalchemy import func, select

from db.context import local_today
from db.schema import ExportManifest, PreventionDelivery, PreventionSurvey
from prevention import service
from prevention.instruments import get_survey_instrument
from tests.dashboard.helpers import actor

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

EDUCATOR_PAGES = ("pages/deliveries.py", "pages/surveys.py")
COMMITTEE_PAGES = ("pages/prevention_effects.py", "pages/prevention_reviews.py")


def count(rt, table) -> int:
    with rt.sessions() as s:
        return s.scalar(select(func.count()).select_from(table))


def test_the_effects_page_shows_the_forest_plot_the_verdict_and_the_audiences(demo, signed_in):
    # Every page of each role, in both languages, is opened in test_every_page.py.
    effects = signed_in("committee1", "pages/prevention_effects.py")
    assert len(effects.get("plotly_chart")) == 1  # the forest plot by audience
    forest = json.loads(effects.get("plotly_chart")[0].proto.spec)
    assert forest["layout"]["xaxis"]["title"]["text"] == "변화 (POMP, 0-100점)"
    assert any("우연" in m.value for m in effects.markdown)  # the model's plain verdict
    assert "초등 고학년" in set(effects.dataframe[0].value["대상"])


def test_the_effects_are_fitted_once_until_the_data_change(demo, signed_in, make_account):
    from dashboard.state import MEMO_KEY

    at = signed_in("committee1", "pages/prevention_effects.py")
    memo = lambda: at.session_state[MEMO_KEY]["values"]
    fitted = memo()[("prevention_effects", "audience")]
    at.run()  # a click elsewhere on the page: the mixed model is not fitted again
    assert memo()[("prevention_effects", "audience")] is fitted
    assert any(key[0] == "compare_tailored" for key in memo())
    make_account("educator", "educator9")  # a write, by someone else
    at.run()
    assert not at.exception
    assert memo()[("prevention_effects", "audience")] is not fitted


def test_the_menu_shows_an_educator_only_the_prevention_pages(demo, signed_in):
    from dashboard.navigation import visible_pages

    assert [p for p, _ in visible_pages("educator")] == ["pages/home.py", *EDUCATOR_PAGES]
    assert not set(COMMITTEE_PAGES + EDUCATOR_PAGES) & {p for p, _ in visible_pages("counselor")}
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        signed_in("counselor1", "pages/deliveries.py")  # not in a counselor's menu: unreachable
    assert count(demo, PreventionDelivery) == 36


def test_an_educator_records_a_delivery_and_uploads_its_survey_then_sees_the_summary(demo, signed_in):
    at = signed_in("educator2", "pages/deliveries.py")
    with demo.context(actor(demo, "educator2")) as ctx:
        lecture = service.list_prevention_programmes(ctx).set_index("format").loc["lecture", "programme_id"]
        before = len(service.my_deliveries(ctx))
    at.selectbox(key="ed_programme").set_value(int(lecture)).run()
    at.date_input(key="ed_date").set_value(local_today() - dt.timedelta(days=1))
    at.selectbox(key="ed_audience").set_value("middle")
    at.selectbox(key="ed_district").set_value("nowon")
    at.number_input(key="ed_present").set_value(3)
    at.button(key="ed_record_btn").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("기록했습니다" in s.value for s in at.success)
    with demo.context(actor(demo, "educator2")) as ctx:
        mine = service.my_deliveries(ctx)
    assert len(mine) == before + 1 and mine.iloc[0]["district"] == "nowon"
    new_id = int(mine.iloc[0]["delivery_id"])

    up = signed_in("educator2", "pages/surveys.py")
    up.selectbox(key="ed_sv_delivery").set_value(new_id).run()
    items = get_survey_instrument("PE-12").item_ids
    bad = ("time,pair_code,satisfaction," + ",".join(items) + "\n"
           + "pre,,," + ",".join("3" for _ in items) + "\n"
           + "post,,6," + ",".join("4" for _ in items) + "\n").encode()
    sheets = count(demo, PreventionSurvey)
    up.file_uploader(key="ed_sv_file").set_value(("school.csv", bad, "text/csv"))
    up.button(key="ed_import_btn").click().run()
    assert any("3행 3열 (satisfaction)" in e.value for e in up.error), [e.value for e in up.error]
    assert count(demo, PreventionSurvey) == sheets
    good = bad.replace(b"post,,6,", b"post,,5,")
    up.file_uploader(key="ed_sv_file").set_value(("school.csv", good, "text/csv"))
    up.button(key="ed_import_btn").click().run()
    assert not up.error, [e.value for e in up.error]
    assert any("사전 1장, 사후 1장" in s.value for s in up.success)
    assert count(demo, PreventionSurvey) == sheets + 2
    back = signed_in("educator2", "pages/deliveries.py")
    table = back.dataframe[0].value
    row = table[table["#"] == new_id].iloc[0]
    assert row["설문 (사전/사후)"] == "1/1" and row["만족도 (1-5)"] == "5.0"


def test_the_committee_rates_recommends_and_adds_the_tailored_version(demo, signed_in):
    at = signed_in("committee3", "pages/prevention_reviews.py")
    with demo.context(actor(demo, "committee3")) as ctx:
        progs = service.list_prevention_programmes(ctx).set_index("format")
    lecture = int(progs.loc["lecture", "programme_id"])
    at.selectbox(key="pv_rv_programme").set_value(lecture).run()
    at.selectbox(key="pv_rv_period_half").set_value((2026, 2)).run()
    at.button(key="pv_save_btn").click().run()
    assert at.error  # every indicator needs a score
    for i in service.REVIEW_INDICATORS:
        at.radio(key=f"pv_rv_{i}").set_value(4)
    at.button(key="pv_save_btn").click().run()
    assert not at.error, [e.value for e in at.error]
    with demo.context(actor(demo, "committee3")) as ctx:
        summary = service.prevention_review_summary(ctx, period="2026-H2")
    assert set(summary.programmes.dropna(subset=["mean"])["mean"]) == {4.0}

    at.selectbox(key="pv_rec_programme").set_value(lecture)
    at.selectbox(key="pv_rec_audience").set_value("high")
    at.selectbox(key="pv_rec_format").set_value("role_play")
    at.text_area(key="pv_rec_text").input("고등학생용 역할극 대본에 딥페이크 사례를 넣을 것")
    at.button(key="pv_recommend_btn").click().run()
    assert not at.error, [e.value for e in at.error]
    at.text_input(key="pv_new_name").input("역할극 '딥페이크는 장난이 아니다'")
    at.selectbox(key="pv_new_format").set_value("role_play")
    at.selectbox(key="pv_new_origin").set_value(lecture)
    at.multiselect(key="pv_new_audiences").set_value(["high"])
    at.button(key="pv_add_btn").click().run()
    assert not at.error, [e.value for e in at.error]
    with demo.context(actor(demo, "committee3")) as ctx:
        progs = service.list_prevention_programmes(ctx)
        recs = service.list_recommendations(ctx)
    new = progs[progs["name"] == "역할극 '딥페이크는 장난이 아니다'"].iloc[0]
    rec = recs[recs["audience"] == "high"].iloc[0]
    at.run()
    at.selectbox(key="pv_ans_rec").set_value(int(rec["recommendation_id"]))
    at.selectbox(key="pv_ans_programme").set_value(int(new["programme_id"]))
    at.button(key="pv_answer_btn").click().run()
    assert not at.error, [e.value for e in at.error]
    with demo.context(actor(demo, "committee3")) as ctx:
        recs = service.list_recommendations(ctx).set_index("recommendation_id")
    assert recs.loc[int(rec["recommendation_id"]), "answered_by_id"] == new["programme_id"]


def test_the_report_asks_its_purpose_and_the_comparison_shows_the_tailored_programme(demo, signed_in):
    at = signed_in("committee1", "pages/prevention_effects.py")
    assert "인형극" in at.dataframe[3].value["프로그램"].iloc[0]  # the comparison table
    submit = "FormSubmitter:dl_pv_report_audience-내려받기 준비"
    at.button(key=submit).click().run()
    assert any("목적" in e.value for e in at.error)
    at.text_input(key="purpose_pv_report_audience").input("예방교육 평가위원회 2026 상반기")
    at.button(key=submit).click().run()
    assert not at.error, [e.value for e in at.error]
    with demo.sessions() as s:
        kinds = s.scalars(select(ExportManifest.kind)).all()
    assert kinds == ["prevention_report_html"]
    assert at.get("download_button")
