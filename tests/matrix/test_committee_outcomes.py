"""The committee's outcomes overview, its printable report, step means and programme-review helpers."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sqlalchemy import select

from db.context import Actor
from db.schema import Account, ExportManifest, Participant
from exports import service as exports
from errors import PermissionDenied, ValidationError
from matrix import service
from matrix.outcomes import STEPS, step_means
from matrix.report import effect_size_label, render_outcomes_html

CODE = re.compile(r"P-[0-9A-Z]{10}")


def actor(rt, username: str) -> Actor:
    with rt.sessions() as s:
        acc = s.scalars(select(Account).where(Account.username == username)).one()
        return Actor(acc.id, acc.username, acc.role)


# --- pure logic -------------------------------------------------------------------------------


def test_step_means_match_scipy_t_intervals_and_keep_empty_steps():
    rng = np.random.default_rng(7)
    rows = [{"participant": p, "step": s, "domain": "d", "score": float(rng.normal(3 + i, 1)),
             "group": "a" if p < 12 else "b"}
            for p in range(20) for i, s in enumerate(STEPS) if not (s == "conclusion" and p % 4 == 0)]
    df = pd.DataFrame(rows)
    out = step_means(df, by="group", margins=True)
    assert list(out.columns) == ["group", "domain", "step", "n", "mean", "sd", "ci_lower", "ci_upper"]
    total = out[out["group"] == "Total"].set_index("step")
    for s in STEPS:
        x = df.loc[df["step"] == s, "score"].to_numpy()
        lo, hi = stats.t.interval(0.95, x.size - 1, loc=x.mean(), scale=stats.sem(x))
        assert total.at[s, "n"] == x.size
        assert total.at[s, "mean"] == pytest.approx(x.mean(), abs=1e-12)
        assert total.at[s, "ci_lower"] == pytest.approx(lo, abs=1e-10)
        assert total.at[s, "ci_upper"] == pytest.approx(hi, abs=1e-10)
    one = step_means(df[(df["participant"] == 0) & (df["step"] == "planning")])
    assert one["n"].tolist() == [1, 0, 0]
    assert math.isnan(one["ci_lower"].iloc[0]) and math.isnan(one["mean"].iloc[1])
    with pytest.raises(ValidationError, match="unknown step"):
        step_means(df.assign(step="follow_up"))


@pytest.mark.parametrize("d, label", [(0.05, "negligible"), (-0.19, "negligible"), (0.2, "small"),
                                      (-0.49, "small"), (0.5, "medium"), (0.81, "large"),
                                      (-1.4, "large"), (None, None), (float("nan"), None)])
def test_effect_size_labels_follow_cohens_benchmarks_on_the_absolute_value(d, label):
    assert effect_size_label(d) == label


def test_the_report_escapes_what_it_prints_and_shows_suppressed_cells_as_they_are():
    table = pd.DataFrame([{"domain": "<script>", "from_step": "planning", "to_step": "midterm",
                           "n": "<10", **{c: None for c in (
                               "mean_pre", "mean_post", "mean_diff", "ci_lower", "ci_upper", "t", "p",
                               "wilcoxon_p", "d_z", "d_av", "hedges_g", "share_improved",
                               "share_deteriorated", "d_z_label", "d_av_label")}}])
    means = pd.DataFrame([{"domain": "<script>", "step": "planning", "n": 12, "mean": 3.14159,
                           "sd": 1.0, "ci_lower": 2.5, "ci_upper": 3.8}])
    page = render_outcomes_html(table=table, step_means=means, models=pd.DataFrame(columns=["domain"]),
                                model_notes={"<script>": "too few"}, by=None, threshold=10,
                                generated_on=dt.date(2026, 7, 1), labels={"title": "보고서"})
    assert page.startswith("<!DOCTYPE html>") and "<script>" not in page and "&lt;script&gt;" in page
    assert "&lt;10" in page and "3.14" in page and "3.14159" not in page and "[2.50, 3.80]" in page
    assert "lang='ko'" in page and "2026-07-01" in page and "too few" in page


# --- use cases on the demo programme -----------------------------------------------------------


@pytest.mark.parametrize("by", [None, "cohort"])
def test_tables_from_coded_steps_and_domains_are_the_same_to_the_dtype(demo_rt, by):
    with demo_rt.context(actor(demo_rt, "committee1")) as ctx:
        long = service._outcome_rows(ctx, [by] if by else [])
    coded = service._coded(long)
    assert isinstance(coded["step"].dtype, pd.CategoricalDtype)
    margins = by is not None
    pd.testing.assert_frame_equal(step_means(coded, by=by, margins=margins),
                                  step_means(long, by=by, margins=margins))
    pd.testing.assert_frame_equal(service._suppressed_outcomes(coded, by, 10),
                                  service._suppressed_outcomes(long, by, 10))


@pytest.mark.parametrize("by", [None, "cohort", "age_band"])
def test_committee_outcomes_are_suppressed_and_carry_no_identifier(demo_rt, by):
    with demo_rt.context(actor(demo_rt, "committee1")) as ctx:
        view = service.committee_outcomes(ctx, by=by)
        plain = service.programme_outcomes(ctx, by=by)
    pd.testing.assert_frame_equal(view.table.drop(columns=["d_z_label", "d_av_label"]), plain)
    for frame in (view.table, view.step_means, view.models):
        assert not {"participant", "participant_id", "study_code"} & set(frame.columns)
    for frame in (view.table, view.step_means):
        shown = frame["n"]
        small = shown.map(lambda v: isinstance(v, (int, np.integer)) and 0 < v < 10)
        assert not small.any()
        hidden = shown.isin(["<10", "x"])
        assert frame.loc[hidden, "mean" if "mean" in frame else "mean_diff"].isna().all()
    assert set(view.step_means["step"]) == set(STEPS)
    labelled = view.table.dropna(subset=["d_z"])
    assert (labelled["d_z_label"] == labelled["d_z"].map(effect_size_label)).all()
    # models: only for domains with enough people, with CIs around the estimate
    if len(view.models):
        assert (view.models["n_participants"] >= 10).all()
        assert (view.models["ci_lower"] <= view.models["coef"]).all()
        assert (view.models["coef"] <= view.models["ci_upper"]).all()
        assert {"Intercept", "step[midterm]", "step[conclusion]"} <= set(view.models["term"])
    assert set(view.model_notes) | set(view.models["domain"]) == set(view.table["domain"])


def test_the_report_is_recorded_as_an_export_and_names_no_one(demo_rt):
    member = actor(demo_rt, "committee2")
    with demo_rt.context(member, today=dt.date(2026, 7, 1)) as ctx:
        with pytest.raises(ValidationError, match="purpose"):
            exports.outcomes_report(ctx, by="programme", purpose="  ")
        export = exports.outcomes_report(ctx, by="programme", purpose="2026 상반기 평가위원회 보고",
                                         labels={"title": "프로그램 성과 보고서"})
    data = export.data
    assert export.file_name == "programme-outcomes-report-by-programme-2026-07-01.html"
    page = data.decode("utf-8")
    assert "프로그램 성과 보고서" in page and "2026-07-01" in page
    with demo_rt.sessions() as s:
        codes = set(s.scalars(select(Participant.study_code)))
        manifests = s.scalars(select(ExportManifest)).all()
    assert not CODE.search(page) and not any(c in page for c in codes)
    assert [(m.kind, m.purpose, m.filters, m.account_id) for m in manifests] == [
        ("outcomes_report_html", "2026 상반기 평가위원회 보고", {"by": "programme"}, member.id)]
    assert manifests[0].id == export.manifest_id
    assert manifests[0].sha256 == hashlib.sha256(data).hexdigest()
    assert manifests[0].suppression["threshold"] == 10


@pytest.mark.parametrize("username", ["counselor1", "reviewer1", "admin"])
def test_other_roles_get_no_outcomes_report_or_review_helpers(demo_rt, username):
    who = actor(demo_rt, username)
    for call in (lambda c: service.committee_outcomes(c),
                 lambda c: exports.outcomes_report(c, purpose="curious reading"),
                 lambda c: service.review_programmes(c),
                 lambda c: service.my_programme_reviews(c, period="2026-H1")):
        with demo_rt.context(who) as ctx, pytest.raises(PermissionDenied):
            call(ctx)


def test_a_member_sees_their_own_ratings_and_a_comment_naming_someone_is_refused(demo_rt):
    member = actor(demo_rt, "committee3")
    with demo_rt.context(member) as ctx:
        programmes = service.review_programmes(ctx)
        pid = int(programmes["programme_id"].iloc[0])
        mine = service.my_programme_reviews(ctx, period="2026-H1")
        assert set(mine["indicator"]) == set(service.REVIEW_INDICATORS)
        assert len(mine) == len(programmes) * len(service.REVIEW_INDICATORS)
        with pytest.raises(ValidationError, match="identify a person"):
            service.record_programme_review(ctx, programme_id=pid, indicator="victim_perspective",
                                            score=4, period="2026-H2",
                                            comment="피해자 이서연 학생 사례를 교재에 넣음")
        assert service.my_programme_reviews(ctx, period="2026-H2").empty


@pytest.mark.parametrize("period", ["다음주쯤", "2026 second half", "2026-H3", "2026-13",
                                    "2026-06-30~2026-01-05", "2026-02-30~2026-03-01", "cohort:",
                                    "1999-H1", ""])
def test_a_review_period_is_a_period_not_free_text(demo_rt, period):
    with demo_rt.context(actor(demo_rt, "committee3")) as ctx:
        pid = int(service.review_programmes(ctx)["programme_id"].iloc[0])
        with pytest.raises(ValidationError, match="is not a period"):
            service.record_programme_review(ctx, programme_id=pid, indicator="victim_perspective",
                                            score=4, period=period)


def test_a_review_period_may_be_a_range_a_quarter_a_month_or_one_of_the_programmes_cohorts(demo_rt):
    with demo_rt.context(actor(demo_rt, "committee3")) as ctx:
        pid = int(service.review_programmes(ctx)["programme_id"].iloc[0])
        cohorts = service.review_cohorts(ctx, pid)
        assert cohorts
        periods = ["2026-01-05~2026-06-30", "2026-Q3", "2026-10", f"cohort:{cohorts[0]}"]
        for period in periods:
            service.record_programme_review(ctx, programme_id=pid, indicator="victim_perspective",
                                            score=4, period=period)
        assert all(len(service.my_programme_reviews(ctx, period=p)) == 1 for p in periods)
        with pytest.raises(ValidationError, match="has no cohort named 'no such cohort'"):
            service.record_programme_review(ctx, programme_id=pid, indicator="victim_perspective",
                                            score=4, period="cohort:no such cohort")


def test_the_report_prints_the_interval_its_d_z_header_promises():
    row = {"domain": "empathy", "from_step": "planning", "to_step": "conclusion", "n": 40,
           "mean_pre": 3.0, "mean_post": 3.6, "mean_diff": 0.6, "ci_lower": 0.4, "ci_upper": 0.8,
           "t": 5.1, "p": 1e-5, "wilcoxon_p": 1e-4, "d_z": 0.81, "d_z_ci_lower": 0.45,
           "d_z_ci_upper": 1.16, "d_av": 0.62, "hedges_g": 0.61, "share_improved": 0.3,
           "share_deteriorated": 0.05, "d_z_label": "large", "d_av_label": "medium"}
    means = pd.DataFrame(columns=["domain", "step", "n", "mean", "sd", "ci_lower", "ci_upper"])
    page = render_outcomes_html(table=pd.DataFrame([row]), step_means=means,
                                models=pd.DataFrame(columns=["domain"]), model_notes={}, by=None,
                                threshold=10, generated_on=dt.date(2026, 7, 1))
    assert "<th>d_z (95% CI)</th>" in page
    assert "<td>0.81 (large) [0.45, 1.16]</td>" in page
    # Without an interval (too few to compute one) the cell holds the estimate alone.
    page = render_outcomes_html(table=pd.DataFrame([{**row, "d_z_ci_lower": None}]),
                                step_means=means, models=pd.DataFrame(columns=["domain"]),
                                model_notes={}, by=None, threshold=10,
                                generated_on=dt.date(2026, 7, 1))
    assert "<td>0.81 (large)</td>" in page
