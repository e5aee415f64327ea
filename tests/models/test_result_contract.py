"""One contract for every fitted result: a documented `.summary`, ordered intervals, a repeatable
fit and a `.plot()` that returns a Plotly figure (models.survival.FittedResult)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from matrix.outcomes import STEPS, ThreeStepModel, three_step_model
from models import survival
from models.change_cox import ChangeCoxResult, DomainNorm, change_cox
from models.competing import CumulativeIncidenceResult, cumulative_incidence
from models.survival import (
    CoxResult,
    KaplanMeierResult,
    TimeVaryingCoxResult,
    cox,
    cox_time_varying,
    kaplan_meier,
    split_episodes,
)


def follow_up(seed: int = 31, n: int = 500) -> pd.DataFrame:
    """Whole days (tied times), two covariates, three groups and two kinds of reoffence."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.binomial(1, 0.4, n).astype(float)
    t = np.ceil(rng.exponential(900 * np.exp(-(0.5 * x1 + 0.6 * x2))))
    c = np.ceil(rng.uniform(200, 1500, n))
    event = (t <= c).astype(int)
    return pd.DataFrame({
        "days": np.minimum(t, c), "event": event, "x1": x1, "x2": x2,
        "group": rng.choice(["A", "B", "C"], n),
        "kind": event * rng.choice([1, 2], n, p=[0.7, 0.3]),
    })


def episodes(seed: int = 32, n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = follow_up(seed, n).rename_axis("pid").reset_index()[["pid", "days", "event", "x1"]]
    base["school"] = rng.binomial(1, 0.5, n).astype(float)
    changes = pd.DataFrame({"pid": base["pid"], "day": rng.integers(1, 400, n).astype(float),
                            "school": 1.0 - base["school"]})
    pp = split_episodes(base, changes, "pid", "days", "event", "day", ["school"])
    return pp.merge(base[["pid", "x1"]], on="pid")


def steps(seed: int = 33, n: int = 90) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pid = np.repeat(np.arange(n), 3)
    y = rng.normal(0, 0.8, n)[pid] + np.array([0.0, 0.3, 0.6])[np.tile([0, 1, 2], n)]
    return pd.DataFrame({"participant": pid, "step": np.tile(STEPS, n),
                         "score": y + rng.normal(0, 0.6, 3 * n)})


def change_episodes() -> pd.DataFrame:
    """The episodes above with a change of score from planning that flips with the school."""
    pp = episodes()
    return pp.assign(change_gender_equality=0.4 * pp["school"] - 0.1)


# Each entry: the result class, and how to fit it from fresh data (so a refit is a new fit).
FITS = {
    "kaplan_meier": (KaplanMeierResult, lambda: kaplan_meier(follow_up(), "days", "event")),
    "kaplan_meier_by_group": (
        KaplanMeierResult, lambda: kaplan_meier(follow_up(), "days", "event", group="group")),
    "cumulative_incidence": (
        CumulativeIncidenceResult, lambda: cumulative_incidence(follow_up(), "days", "kind")),
    "cox": (CoxResult, lambda: cox(follow_up(), "days", "event", ["x1", "x2"])),
    "cox_stratified": (
        CoxResult, lambda: cox(follow_up(), "days", "event", ["x1", "x2"], strata="group")),
    "cox_breslow": (
        CoxResult, lambda: cox(follow_up(), "days", "event", ["x1", "x2"], ties="breslow")),
    "cox_time_varying": (
        TimeVaryingCoxResult,
        lambda: cox_time_varying(episodes(), "pid", "start", "stop", "event", ["school", "x1"])),
    "change_cox": (
        ChangeCoxResult,
        lambda: change_cox(change_episodes(), {"gender_equality": DomainNorm(0.45, 0.80)},
                           domains=["gender_equality"], adjust=["x1"], id="pid")),
    "three_step_model": (ThreeStepModel, lambda: three_step_model(steps(), test_random_slope=False)),
}


@pytest.fixture(scope="module", params=sorted(FITS))
def fitted(request):
    kind, fit = FITS[request.param]
    return kind, fit, fit()


def test_the_summary_has_exactly_the_documented_columns(fitted):
    kind, _, result = fitted
    assert isinstance(result, kind)
    assert isinstance(result.summary, pd.DataFrame) and len(result.summary) > 0
    assert list(result.summary.columns) == list(kind.summary_columns)
    assert kind.estimate_column in kind.summary_columns
    # The class documents every column it promises (the Cox classes point to _summary's list).
    doc = kind.__doc__ + (survival._summary.__doc__ if "COX_SUMMARY_COLUMNS" in kind.__doc__ else "")
    assert [c for c in kind.summary_columns if c not in doc] == []


def test_intervals_hold_their_estimate(fitted):
    kind, _, result = fitted
    s = result.summary
    est = s[kind.estimate_column].to_numpy(dtype=float)
    lower, upper = s["ci_lower"].to_numpy(dtype=float), s["ci_upper"].to_numpy(dtype=float)
    known = ~(np.isnan(lower) | np.isnan(upper))
    assert known.sum() > 0
    assert (lower[known] <= est[known] + 1e-12).all()
    assert (est[known] <= upper[known] + 1e-12).all()
    if "hazard_ratio" in s:
        assert (s["hr_ci_lower"] <= s["hazard_ratio"]).all()
        assert (s["hazard_ratio"] <= s["hr_ci_upper"]).all()
        np.testing.assert_allclose(s["hr_ci_lower"], np.exp(s["ci_lower"]), rtol=1e-12)


def test_a_refit_gives_the_same_numbers(fitted):
    _, fit, result = fitted
    pd.testing.assert_frame_equal(fit().summary, result.summary)


def test_plot_returns_a_plotly_figure_with_data(fitted):
    _, _, result = fitted
    figure = result.plot()
    assert isinstance(figure, go.Figure)
    assert len(figure.data) > 0
