"""The committee's prevention use cases on the demo: effect by audience (suppressed), reviews with
ICC, recommendations answered by a tailored version, the comparison, the CLI and the report."""

from __future__ import annotations

import dataclasses
import io
import json

import pandas as pd
import pytest
from sqlalchemy import select

import cli
from db.context import Runtime
from db.schema import ExportManifest
from errors import PermissionDenied, ValidationError
from exports import service as exports
from matrix import reviews
from prevention import effects, service
from tests.conftest import point_cli_at


def test_the_committees_effect_table_is_the_class_level_change_of_the_stored_sheets(demo_rt):
    with demo_rt.context_for("committee1") as ctx:
        view = service.prevention_effects(ctx, by="audience")
        sheets = service._sheets(ctx)
    expected = effects.change_by(effects.class_changes(sheets), ["audience"])
    assert demo_rt.demo_summary.prevention_deliveries == 36
    assert view.table["audience"].tolist() == expected["audience"].tolist()
    shown = view.table[view.table["n"].map(lambda n: isinstance(n, int))]
    for row in shown.itertuples():
        ref = expected.set_index("audience").loc[row.audience]
        assert row.n >= view.threshold and row.change == pytest.approx(ref["change"])
    assert view.model is not None and view.verdict.code.startswith("prevention.audiences_")
    assert "satisfaction" not in view.table.columns and "mean" in view.satisfaction.columns


def test_an_audience_under_the_threshold_shows_no_figure(demo_rt):
    with demo_rt.context_for("committee1") as ctx:
        full = service.prevention_effects(ctx).table.set_index("audience")
    smallest = int(full["n"].min())
    higher = Runtime(dataclasses.replace(demo_rt.settings, suppression_threshold=smallest + 1))
    with higher.context_for("committee1") as ctx:
        cut = service.prevention_effects(ctx).table.set_index("audience")
    higher.dispose()
    hidden = full.index[full["n"] == smallest]
    for audience in hidden:
        assert cut.loc[audience, "n"] == f"<{smallest + 1}"
        assert cut.loc[audience, ["change", "ci_lower", "ci_upper"]].isna().all()


def test_an_educator_reads_no_effect_table_and_the_committee_records_no_delivery(demo_rt):
    with demo_rt.context_for("educator1") as ctx, pytest.raises(PermissionDenied):
        service.prevention_effects(ctx)
    with demo_rt.context_for("committee1") as ctx, pytest.raises(PermissionDenied):
        service.my_deliveries(ctx)


def test_reviews_summarise_with_the_counseling_programmes_icc(demo_rt):
    with demo_rt.context_for("committee2") as ctx:
        summary = service.prevention_review_summary(ctx, period="2026-H1")
        ratings = pd.DataFrame(ctx.session.execute(select(
            service.PreventionReview.programme_id, service.PreventionReview.rater_id,
            service.PreventionReview.indicator, service.PreventionReview.score)).all(),
            columns=["programme", "rater", "indicator", "score"])
    expected = reviews.rater_agreement(ratings, reviews.REVIEW_INDICATORS)
    assert summary.agreement["icc"].to_numpy() == pytest.approx(expected["icc"].to_numpy(),
                                                                nan_ok=True)
    assert set(summary.programmes["n_raters"]) == {3}


def test_a_recommendation_is_answered_only_by_a_version_derived_from_its_programme(demo_rt):
    with demo_rt.context_for("committee1") as ctx:
        progs = service.list_prevention_programmes(ctx).set_index("format")
        recs = service.list_recommendations(ctx)
        assert recs.iloc[0]["answered_by"] == f"{progs.loc['puppet_show', 'name']} v1"
        rec = service.record_recommendation(
            ctx, programme_id=int(progs.loc["board_game", "programme_id"]), period="2026-H1",
            text="저학년용 보드게임의 규칙 설명을 그림 카드로 바꿀 것", audience="elementary_lower")
        with pytest.raises(ValidationError, match="neither was tailored from"):
            service.answer_recommendation(ctx, recommendation_id=rec,
                                          programme_id=int(progs.loc["puppet_show", "programme_id"]))
        v2 = service.add_prevention_programme(
            ctx, name=progs.loc["board_game", "name"], version=2,
            audiences=["elementary_lower", "elementary_upper"], format="board_game")
        service.answer_recommendation(ctx, recommendation_id=rec, programme_id=v2)
        answered = service.list_recommendations(ctx).set_index("recommendation_id")
    assert answered.loc[rec, "answered_by_id"] == v2


def test_the_tailored_puppet_show_is_compared_with_the_lecture_it_came_from(demo_rt):
    with demo_rt.context_for("committee1") as ctx:
        progs = service.list_prevention_programmes(ctx).set_index("format")
        row = service.compare_tailored(ctx, programme_id=int(progs.loc["puppet_show", "programme_id"]),
                                       audience="kindergarten").iloc[0]
        classes = effects.class_changes(service._sheets(ctx))
    kinder = classes[classes["audience"] == "kindergarten"]
    puppet = kinder[kinder["format"] == "puppet_show"]["change"].to_numpy()
    lecture = kinder[kinder["format"] == "lecture"]["change"].to_numpy()
    ref = effects.compare_changes(puppet, lecture)
    assert row["origin"].startswith("디지털 성범죄 예방 강의")
    if isinstance(row["n"], int):
        assert row["difference"] == pytest.approx(ref["difference"])
    else:  # the demo's few kindergarten classes may fall under the threshold
        assert pd.isna(row["difference"])
    with demo_rt.context_for("committee1") as ctx, pytest.raises(ValidationError, match="not tailored"):
        service.compare_tailored(ctx, programme_id=int(progs.loc["lecture", "programme_id"]),
                                 audience="kindergarten")


@pytest.fixture
def committee_env(demo_rt, monkeypatch):
    point_cli_at(demo_rt, monkeypatch)
    return demo_rt


def test_the_cli_prints_the_committees_table_as_csv_and_json_and_records_the_export(
        committee_env, capsys):
    code = cli.main(["--user", "committee1", "prevention", "effects", "--by", "audience",
                     "--purpose", "예방교육 평가위원회 회의"])
    out = capsys.readouterr()
    assert code == 0, out.err
    table = pd.read_csv(io.StringIO(out.out), dtype={"n": str})
    with committee_env.context_for("committee1") as ctx:
        expected = service.prevention_effects(ctx).table
    assert list(table.columns) == list(expected.columns)
    assert table["audience"].tolist() == expected["audience"].tolist()
    code = cli.main(["--user", "committee1", "prevention", "effects", "--format", "json",
                     "--by", "audience_format", "--purpose", "예방교육 평가위원회 회의"])
    body = json.loads(capsys.readouterr().out)
    assert code == 0 and body["by"] == "audience_format" and "differ" in body["verdict"]
    assert {(r["audience"], r["format"]) for r in body["table"]} >= {("kindergarten", "puppet_show")}
    with committee_env.sessions() as s:
        kinds = s.scalars(select(ExportManifest.kind)).all()
    assert kinds.count("prevention_effects") == 2


def test_the_printable_report_asks_its_purpose_and_is_recorded(demo_rt):
    with demo_rt.context_for("committee1") as ctx:
        with pytest.raises(ValidationError, match="purpose"):
            exports.prevention_report(ctx, period="2026-H1", purpose="")
        export = exports.prevention_report(ctx, period="2026-H1",
                                           purpose="예방교육 평가 보고서 (2026 상반기)",
                                           labels={"title": "예방교육 평가 보고서"})
    page = export.data.decode("utf-8")
    assert export.kind == "prevention_report_html" and "<h1>예방교육 평가 보고서</h1>" in page
    assert "ICC(2,1)" in page and "유치원용 인형극" in page


def test_a_prevention_period_is_a_calendar_period_not_free_text_or_a_cohort(demo_rt):
    with demo_rt.context_for("committee1") as ctx:
        pid = int(service.list_prevention_programmes(ctx)["programme_id"].iloc[0])
        for period in ("다음주쯤", "cohort:2026 봄", "2026-06-30~2026-01-05"):
            with pytest.raises(ValidationError, match="is not a period"):
                service.record_prevention_review(ctx, programme_id=pid, indicator="victim_perspective",
                                                 score=3, period=period)
            with pytest.raises(ValidationError, match="is not a period"):
                service.record_recommendation(ctx, programme_id=pid, period=period, text="그림 카드")
        service.record_prevention_review(ctx, programme_id=pid, indicator="victim_perspective",
                                         score=3, period="2026-03-02~2026-07-17")
        assert service.prevention_review_summary(ctx, period="2026-03-02~2026-07-17").programmes[
            "n_raters"].max() == 1
