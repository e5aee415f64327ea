"""Kaplan-Meier, log-rank and Cox: checked against lifelines and statsmodels on synthetic data."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test, proportional_hazard_test
from statsmodels.duration.hazard_regression import PHReg

from errors import ValidationError
from models.survival import cox, kaplan_meier, unbounded_covariates

FOLLOW_UP_END = 1825.0  # five years, the administrative end of follow-up
# lifelines stops Newton-Raphson at a step norm of 1e-7 by default, which leaves ~5e-6 relative
# error in its coefficients; asking it for 1e-12 makes it a reference good to 1e-6.
TIGHT = {"precision": 1e-12}


def follow_up(n: int, seed: int, beta=(0.5, 0.7), scale: float = 2500.0, whole_days: bool = True):
    """Exponential times to reoffending with hazard ratio exp(beta) and administrative censoring."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.binomial(1, 0.4, n)
    t = rng.exponential(scale * np.exp(-(beta[0] * x1 + beta[1] * x2)))
    entered = rng.uniform(0, 1200, n)  # later entrants have shorter administrative follow-up
    c = FOLLOW_UP_END - entered + 365
    time = np.minimum(t, c)
    return pd.DataFrame(
        {
            "days": np.ceil(time) if whole_days else time,
            "reoffended": (t <= c).astype(int),
            "x1": x1,
            "x2": x2,
            "group": rng.choice(["A", "B", "C"], n),
        }
    )


@pytest.fixture(scope="module")
def tied() -> pd.DataFrame:
    return follow_up(400, seed=11)


@pytest.fixture(scope="module")
def tie_free() -> pd.DataFrame:
    return follow_up(400, seed=12, whole_days=False)


# ---------------------------------------------------------------- Kaplan-Meier


def test_km_table_matches_lifelines_survival_and_log_log_ci(tied):
    res = kaplan_meier(tied, "days", "reoffended")
    ref = KaplanMeierFitter().fit(tied["days"], tied["reoffended"])
    tab = res.table
    assert list(tab.columns) == [
        "time",
        "at_risk",
        "events",
        "censored",
        "survival",
        "ci_lower",
        "ci_upper",
    ]
    np.testing.assert_allclose(tab["time"], ref.survival_function_.index, rtol=0)
    np.testing.assert_allclose(tab["survival"], ref.survival_function_.iloc[:, 0], rtol=1e-6)
    np.testing.assert_allclose(tab["ci_lower"], ref.confidence_interval_.iloc[:, 0], rtol=1e-6)
    np.testing.assert_allclose(tab["ci_upper"], ref.confidence_interval_.iloc[:, 1], rtol=1e-6)
    np.testing.assert_array_equal(tab["at_risk"], ref.event_table["at_risk"])
    np.testing.assert_array_equal(tab["events"], ref.event_table["observed"])
    np.testing.assert_array_equal(tab["censored"], ref.event_table["censored"])
    assert res.median == ref.median_survival_time_


def test_km_hand_worked_small_example():
    # times 1,2,2,3,4 with events 1,1,0,1,0: S = 4/5, 4/5*3/4, 4/5*3/4*1/2 (Greenwood by hand)
    df = pd.DataFrame({"t": [1, 2, 2, 3, 4], "e": [1, 1, 0, 1, 0]})
    tab = kaplan_meier(df, "t", "e").table.set_index("time")
    np.testing.assert_allclose(tab["survival"], [1, 0.8, 0.6, 0.3, 0.3], rtol=1e-12)
    assert tab.loc[2, "at_risk"] == 4 and tab.loc[2, "censored"] == 1
    s, gw = 0.6, 1 / (5 * 4) + 1 / (4 * 3)
    v = np.log(s)
    lower = np.exp(-np.exp(np.log(-v) - 1.959963984540054 * np.sqrt(gw) / v))
    assert tab.loc[2, "ci_lower"] == pytest.approx(lower, rel=1e-9)


def test_survival_at_is_right_continuous_step_and_nan_after_follow_up():
    df = pd.DataFrame({"t": [1, 2, 2, 3, 4], "e": [1, 1, 0, 1, 0]})
    res = kaplan_meier(df, "t", "e")
    got = res.survival_at([0, 0.999, 1, 1.5, 2, 3.5, 4, 4.5])
    np.testing.assert_allclose(got.to_numpy()[:7], [1, 1, 0.8, 0.8, 0.6, 0.3, 0.3])
    assert np.isnan(got.to_numpy()[7])


def test_grouped_km_matches_lifelines_per_group_and_multivariate_logrank(tied):
    res = kaplan_meier(tied, "days", "reoffended", group="group")
    assert list(res.table.columns[:2]) == ["group", "time"]
    for g in ["A", "B", "C"]:
        sub = tied[tied["group"] == g]
        ref = KaplanMeierFitter().fit(sub["days"], sub["reoffended"])
        tab = res.table[res.table["group"] == g]
        np.testing.assert_allclose(tab["survival"], ref.survival_function_.iloc[:, 0], rtol=1e-6)
        np.testing.assert_allclose(tab["ci_upper"], ref.confidence_interval_.iloc[:, 1], rtol=1e-6)
        assert res.median[g] == ref.median_survival_time_
    lr = multivariate_logrank_test(tied["days"], tied["group"], tied["reoffended"])
    assert res.logrank.statistic == pytest.approx(lr.test_statistic, rel=1e-6)
    assert res.logrank.df == 2
    assert res.logrank.p == pytest.approx(lr.p_value, rel=1e-6)
    at = res.survival_at([365, 730])
    assert list(at.columns) == ["A", "B", "C"]


def test_logrank_detects_a_real_difference_between_two_groups():
    df = follow_up(600, seed=5)
    res = kaplan_meier(df, "days", "reoffended", group="x2")
    ref = multivariate_logrank_test(df["days"], df["x2"], df["reoffended"])
    assert res.logrank.statistic == pytest.approx(ref.test_statistic, rel=1e-6)
    assert res.logrank.p < 0.001


def test_median_not_reached_is_infinite():
    df = pd.DataFrame({"t": [10, 20, 30, 40], "e": [1, 0, 0, 0]})
    assert kaplan_meier(df, "t", "e").median == float("inf")


def test_km_plot_has_steps_bands_risk_table_and_titles(tied):
    fig = kaplan_meier(tied, "days", "reoffended", group="group").plot(time_unit="months")
    assert isinstance(fig, go.Figure)
    lines = [t for t in fig.data if t.mode == "lines"]
    bands = [t for t in fig.data if t.fill == "toself"]
    tables = [t for t in fig.data if t.mode == "text"]
    assert len(lines) == len(bands) == len(tables) == 3
    assert all(t.line.shape == "hv" for t in lines)
    assert tables[0].text[0] == str((tied["group"] == "A").sum())  # everyone at risk at 0
    assert "months" in fig.layout.xaxis2.title.text
    assert fig.layout.title.text


# ---------------------------------------------------------------- Cox


def test_cox_efron_matches_lifelines_coefficients_and_standard_errors(tied):
    res = cox(tied, "days", "reoffended", ["x1", "x2"])
    ref = CoxPHFitter().fit(
        tied[["days", "reoffended", "x1", "x2"]], "days", "reoffended", fit_options=TIGHT
    )
    s = res.summary
    assert list(s.columns) == ["coef", "se", "ci_lower", "ci_upper", "hazard_ratio",
                               "hr_ci_lower", "hr_ci_upper", "z", "p"]
    np.testing.assert_allclose(s["coef"], ref.params_, rtol=1e-6)
    np.testing.assert_allclose(s["se"], ref.standard_errors_, rtol=1e-6)
    np.testing.assert_allclose(s["ci_lower"], ref.summary["coef lower 95%"], rtol=1e-6)
    np.testing.assert_allclose(s["ci_upper"], ref.summary["coef upper 95%"], rtol=1e-6)
    np.testing.assert_allclose(s["hazard_ratio"], ref.summary["exp(coef)"], rtol=1e-6)
    np.testing.assert_allclose(s["hr_ci_lower"], ref.summary["exp(coef) lower 95%"], rtol=1e-6)
    np.testing.assert_allclose(s["hr_ci_upper"], ref.summary["exp(coef) upper 95%"], rtol=1e-6)
    np.testing.assert_allclose(s["z"], ref.summary["z"], rtol=1e-6)
    np.testing.assert_allclose(s["p"], ref.summary["p"], rtol=1e-5)
    assert res.concordance == pytest.approx(ref.concordance_index_, rel=1e-9)
    lrt = ref.log_likelihood_ratio_test()
    assert res.log_likelihood_ratio_test.statistic == pytest.approx(lrt.test_statistic, rel=1e-6)
    assert res.log_likelihood_ratio_test.df == 2
    assert res.log_likelihood == pytest.approx(ref.log_likelihood_, rel=1e-9)
    np.testing.assert_allclose(
        res.predict_partial_hazard(tied.head(20)),
        ref.predict_partial_hazard(tied.head(20)),
        rtol=1e-6,
    )


def test_cox_stratified_matches_lifelines_strata(tied):
    res = cox(tied, "days", "reoffended", ["x1"], strata="x2")
    ref = CoxPHFitter().fit(
        tied[["days", "reoffended", "x1", "x2"]],
        "days",
        "reoffended",
        strata=["x2"],
        fit_options=TIGHT,
    )
    np.testing.assert_allclose(res.summary["coef"], ref.params_, rtol=1e-6)
    np.testing.assert_allclose(res.summary["se"], ref.standard_errors_, rtol=1e-6)


def test_breslow_and_efron_differ_on_tied_times_and_breslow_matches_statsmodels():
    # Times in whole months: many tied event times, where the two approximations part.
    df = follow_up(300, seed=3)
    df["days"] = np.ceil(df["days"] / 30.0) * 30.0
    efron = cox(df, "days", "reoffended", ["x1", "x2"], ties="efron")
    breslow = cox(df, "days", "reoffended", ["x1", "x2"], ties="breslow")
    assert np.abs(efron.summary["coef"] - breslow.summary["coef"]).max() > 1e-3
    ref = PHReg(df["days"], df[["x1", "x2"]], status=df["reoffended"], ties="breslow").fit()
    np.testing.assert_allclose(breslow.summary["coef"], ref.params, rtol=1e-6)
    np.testing.assert_allclose(breslow.summary["se"], ref.bse, rtol=1e-6)


def test_breslow_hand_worked_tied_pair():
    # Two events tied at t=1 among {x=1, x=0, x=1 censored at 2}, then nothing: Breslow's partial
    # likelihood is e^b / (1 + 2e^b)^2 with a maximum at e^b = 1/2; Efron's is
    # e^b / ((1 + 2e^b) * (1/2 + 3/2 e^b)), maximal where 3 e^2b = 1/2, e^b = 1/sqrt(6).
    df = pd.DataFrame({"t": [1, 1, 2], "e": [1, 1, 0], "x": [1.0, 0.0, 1.0]})
    b = cox(df, "t", "e", ["x"], ties="breslow", min_events_per_covariate=1)
    e = cox(df, "t", "e", ["x"], ties="efron", min_events_per_covariate=1)
    assert b.summary.loc["x", "coef"] == pytest.approx(np.log(0.5), abs=1e-8)
    assert e.summary.loc["x", "coef"] == pytest.approx(np.log(1 / np.sqrt(6)), abs=1e-8)


def test_ph_test_matches_lifelines_rank_and_km_transforms(tie_free):
    cols = ["days", "reoffended", "x1", "x2"]
    res = cox(tie_free, "days", "reoffended", ["x1", "x2"])
    ref_fit = CoxPHFitter().fit(tie_free[cols], "days", "reoffended", fit_options=TIGHT)
    for transform in ("rank", "km"):
        got = res.ph_test(transform)
        ref = proportional_hazard_test(ref_fit, tie_free[cols], time_transform=transform)
        # tie-free times: lifelines' Efron-weighted Schoenfeld residuals equal the Breslow ones
        np.testing.assert_allclose(
            got.loc[["x1", "x2"], "statistic"], ref.test_statistic, rtol=1e-6
        )
        np.testing.assert_allclose(got.loc[["x1", "x2"], "p"], ref.p_value, rtol=1e-6)
        assert got.loc["GLOBAL", "df"] == 2
        assert 0 <= got.loc["GLOBAL", "p"] <= 1


def test_ph_test_flags_a_hazard_ratio_that_changes_over_time():
    # x doubles the hazard in the first year and has no effect afterwards.
    rng = np.random.default_rng(21)
    n = 1500
    x = rng.binomial(1, 0.5, n).astype(float)
    h0 = 1 / 800
    first = rng.exponential(1 / (h0 * np.where(x == 1, 3.0, 1.0)))
    later = 365 + rng.exponential(1 / h0, n)
    t = np.where(first < 365, first, later)
    df = pd.DataFrame(
        {"t": np.minimum(t, FOLLOW_UP_END), "e": (t < FOLLOW_UP_END).astype(int), "x": x}
    )
    assert cox(df, "t", "e", ["x"]).ph_test("km").loc["x", "p"] < 0.001


def test_true_hazard_ratios_lie_inside_the_95_percent_intervals():
    beta = (np.log(2.0), -0.5)
    df = follow_up(2000, seed=2024, beta=beta, scale=6000)
    df["x2"] = df["x2"].astype(float)
    # event rate of the kind seen for general reoffending, well below half
    assert 0.1 < df["reoffended"].mean() < 0.5
    s = cox(df, "days", "reoffended", ["x1", "x2"]).summary
    assert (s["ci_lower"] < beta).all() and (beta < s["ci_upper"]).all()
    truth = np.exp(beta)
    assert (s["hr_ci_lower"] < truth).all() and (truth < s["hr_ci_upper"]).all()


def test_rare_events_true_hazard_ratio_inside_interval():
    # sexual reoffending: a few percent over five years
    df = follow_up(3000, seed=7, beta=(0.8, 0.0), scale=60000)
    assert 0.02 < df["reoffended"].mean() < 0.1
    s = cox(df, "days", "reoffended", ["x1"]).summary
    assert s.loc["x1", "ci_lower"] < 0.8 < s.loc["x1", "ci_upper"]
    assert s.loc["x1", "hr_ci_lower"] < np.exp(0.8) < s.loc["x1", "hr_ci_upper"]


# ---------------------------------------------------------------- bad frames


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: d.assign(days=d["days"].where(d.index != 3, -5)), ["'days'", "negative"]),
        (
            lambda d: d.assign(reoffended=d["reoffended"].where(d.index != 3, 2)),
            ["'reoffended'", "0", "1"],
        ),
        (lambda d: d.assign(x1=d["x1"].where(d.index != 3, np.nan)), ["'x1'", "missing"]),
        (lambda d: d.assign(days=d["days"].where(d.index != 3, np.nan)), ["'days'", "missing"]),
        (lambda d: d.assign(x2=1.0), ["'x2'", "constant", "drop"]),
        (lambda d: d.assign(x1=d["group"]), ["'x1'", "numeric", "indicator"]),
        (lambda d: d.drop(columns="x2"), ["x2"]),
    ],
)
def test_cox_rejects_bad_frames_naming_the_column(tied, change, words):
    with pytest.raises(ValidationError) as err:
        cox(change(tied.copy()), "days", "reoffended", ["x1", "x2"])
    for w in words:
        assert w in str(err.value)


def test_cox_refuses_too_few_events_per_covariate(tied):
    few = tied.copy()
    few["reoffended"] = 0
    few.loc[few.index[:6], "reoffended"] = 1
    with pytest.raises(ValidationError, match=r"only 6 event\(s\) for 2 covariate\(s\)"):
        cox(few, "days", "reoffended", ["x1", "x2"])
    # an analyst who accepts the risk can lower the bar explicitly
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cox(few, "days", "reoffended", ["x1", "x2"], min_events_per_covariate=2)


def test_cox_refuses_separation_instead_of_returning_huge_ratio():
    df = pd.DataFrame(
        {"t": np.arange(1.0, 21.0), "e": [1] * 10 + [0] * 10, "x": [1.0] * 10 + [0.0] * 10}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValidationError, match=r"did not converge \(covariate\(s\) x have"):
            cox(df, "t", "e", ["x"], min_events_per_covariate=1)


def test_cox_reads_concordance_and_ph_tests_lazily_and_keeps_no_rows_once_stored(tied):
    import pickle

    res = cox(tied, "days", "reoffended", ["x1", "x2"])
    assert res._rows is not None  # nothing computed yet: the rows wait in memory
    c = res.concordance
    assert res._rows is not None  # the PH tests still need them
    rank = res.ph_test("rank")
    assert res._rows is None  # both read: rows dropped
    assert res.concordance == c
    pd.testing.assert_frame_equal(res.ph_test("rank"), rank)
    # A stored result computes both first and carries no row, no residual.
    fresh = cox(tied, "days", "reoffended", ["x1", "x2"])
    stored = pickle.loads(pickle.dumps(fresh))
    assert stored._rows is None and fresh._rows is None
    assert stored.concordance == c
    pd.testing.assert_frame_equal(stored.ph_test("km"), res.ph_test("km"))
    arrays = [v for v in vars(stored).values() if isinstance(v, np.ndarray)]
    assert all(a.shape[0] != len(tied) for a in arrays)


def test_forest_ticks_are_few_readable_ratios_around_one():
    from models.survival import log_ticks

    assert log_ticks([0.3, 0.8], [1.4, 4.0]) == [0.2, 0.5, 1.0, 2.0, 5.0]
    assert log_ticks([2.0], [3.0]) == [1.0, 2.0]  # 1 is always on the axis, the line is drawn there
    wide = log_ticks([0.01], [80.0])
    assert wide == [0.01, 0.1, 1.0, 10.0, 100.0]  # a wide span gets the powers of ten only
    assert log_ticks([float("-inf"), float("nan")], [float("inf")]) == [1.0]


def test_a_quasi_separated_covariate_is_named_unbounded_not_reported_as_an_estimate():
    """Four young people in a category, none reoffending: the fit converges with a finite
    coefficient and a standard error in the millions (lifelines warns "complete separation").
    Its hazard ratio's interval overflows: named by unbounded_covariates, left out of the forest
    plot, and no overflow warning on the way; a covariate the data do bound is not named."""
    rng = np.random.default_rng(3)
    n = 300
    df = pd.DataFrame({"t": rng.exponential(365, n).round() + 1, "e": rng.random(n) < 0.4,
                       "age": rng.normal(15, 1.5, n), "rare": 0})
    df.loc[:3, "rare"] = 1
    df.loc[:3, "e"] = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = cox(df, "t", "e", ["rare", "age"])
    assert fit.summary.loc["rare", "se"] > 100 and fit.summary.loc["age", "se"] < 1
    assert unbounded_covariates(fit.summary) == ["rare"]
    plotted = fit.plot(labels={"rare": "rare", "age": "age"}).data[0]
    assert list(plotted.y) == ["age"]
    # With events in the category too, the same covariate is bounded.
    df.loc[:1, "e"] = True
    bounded = cox(df, "t", "e", ["rare", "age"])
    assert unbounded_covariates(bounded.summary) == []
