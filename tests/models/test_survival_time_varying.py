"""Time-varying Cox on (start, stop] rows and the person-period splitter."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxTimeVaryingFitter
from lifelines.utils import add_covariate_to_timeline
from statsmodels.duration.hazard_regression import PHReg

from errors import ValidationError
from models.survival import cox_time_varying, split_episodes

TIGHT = {"precision": 1e-12}


def school_changes(n: int, seed: int, beta_school: float = 0.0, follow_up: float = 365.0):
    """Whole-day follow-up where half the people change school status on some day.

    Whole days make many intervals start on the very day someone else reoffends: the ties at
    interval boundaries where risk-set definitions part. With beta_school != 0 the hazard is
    h0 * exp(beta_school * school(t)) (piecewise exponential, drawn by inverting H(t)).
    """
    rng = np.random.default_rng(seed)
    h0 = 1 / 500
    school0 = rng.binomial(1, 0.5, n)
    switch = np.where(rng.random(n) < 0.6, rng.integers(1, 250, n).astype(float), np.inf)
    e = rng.exponential(1.0, n)
    rate0 = h0 * np.exp(beta_school * school0)
    rate1 = h0 * np.exp(beta_school * (1 - school0))
    before = e / rate0
    after = switch + (e - rate0 * np.where(np.isfinite(switch), switch, 0.0)) / rate1
    t = np.where(before <= switch, before, after)
    t = np.ceil(t)
    base = pd.DataFrame(
        {
            "pid": np.arange(n),
            "days": np.minimum(t, follow_up),
            "reoffended": (t <= follow_up).astype(int),
            "school": school0,
            "age": rng.normal(15, 1.5, n),
        }
    )
    has = np.isfinite(switch)
    changes = pd.DataFrame(
        {"pid": np.arange(n)[has], "day": switch[has], "school": 1 - school0[has]}
    )
    return base, changes


@pytest.fixture(scope="module")
def episodes() -> pd.DataFrame:
    base, changes = school_changes(200, seed=3)
    pp = split_episodes(base, changes, "pid", "days", "reoffended", "day", ["school"])
    return pp.merge(base[["pid", "age"]], on="pid")


def test_data_has_intervals_starting_at_event_times(episodes):
    event_days = set(episodes.loc[episodes["reoffended"] == 1, "stop"])
    assert episodes.loc[episodes["start"] > 0, "start"].isin(event_days).sum() >= 10


def test_time_varying_cox_matches_lifelines(episodes):
    res = cox_time_varying(episodes, "pid", "start", "stop", "reoffended", ["school", "age"])
    ref = CoxTimeVaryingFitter().fit(
        episodes,
        id_col="pid",
        event_col="reoffended",
        start_col="start",
        stop_col="stop",
        fit_options=TIGHT,
    )
    np.testing.assert_allclose(res.summary["coef"], ref.params_, rtol=1e-6)
    np.testing.assert_allclose(res.summary["se"], ref.standard_errors_, rtol=1e-6)
    np.testing.assert_allclose(
        res.summary["ci_lower"], ref.summary["coef lower 95%"], rtol=1e-6
    )
    np.testing.assert_allclose(
        res.summary["hr_ci_lower"], ref.summary["exp(coef) lower 95%"], rtol=1e-6
    )
    np.testing.assert_allclose(
        res.summary["hr_ci_upper"], ref.summary["exp(coef) upper 95%"], rtol=1e-6
    )
    assert res.log_likelihood == pytest.approx(ref.log_likelihood_, rel=1e-9)
    assert res.log_likelihood_ratio_test.statistic == pytest.approx(
        ref.log_likelihood_ratio_test().test_statistic, rel=1e-6
    )


def test_naive_statsmodels_entry_differs_from_the_correct_risk_sets(episodes):
    res = cox_time_varying(episodes, "pid", "start", "stop", "reoffended", ["school", "age"])
    naive = PHReg(
        episodes["stop"],
        episodes[["school", "age"]],
        status=episodes["reoffended"],
        entry=episodes["start"],
        ties="efron",
    ).fit()
    assert np.abs(np.asarray(naive.params) - res.summary["coef"].to_numpy()).max() > 1e-4


def test_risk_set_excludes_an_interval_starting_at_the_event_time_hand_worked():
    # Person 1 reoffends at 2 (x=1). Person 2's follow-up is split at 2: (0,2] and (2,5], x=0,
    # reoffending at 5. Person 3 enters at 3 with x=1. Correct risk sets: {1, 2a} at t=2 and
    # {2b, 3} at t=5, so L(b) = e^b/(e^b+1) * 1/(1+e^b), maximal at b=0 with information 1/2.
    # Counting 2b at t=2 as well (entry <= t) gives e^b/(e^b+2) * 1/(1+e^b): e^2b = 2.
    df = pd.DataFrame(
        {
            "pid": [1, 2, 2, 3],
            "start": [0.0, 0.0, 2.0, 3.0],
            "stop": [2.0, 2.0, 5.0, 7.0],
            "event": [1, 0, 1, 0],
            "x": [1.0, 0.0, 0.0, 1.0],
        }
    )
    res = cox_time_varying(df, "pid", "start", "stop", "event", ["x"], min_events_per_covariate=1)
    assert res.summary.loc["x", "coef"] == pytest.approx(0.0, abs=1e-8)
    assert res.summary.loc["x", "se"] == pytest.approx(np.sqrt(2.0), rel=1e-8)
    naive = PHReg(df["stop"], df[["x"]], status=df["event"], entry=df["start"]).fit()
    assert naive.params[0] == pytest.approx(np.log(2.0) / 2, abs=1e-6)


def test_true_time_varying_hazard_ratio_inside_interval():
    base, changes = school_changes(2000, seed=99, beta_school=np.log(2.5), follow_up=730.0)
    pp = split_episodes(base, changes, "pid", "days", "reoffended", "day", ["school"])
    s = cox_time_varying(pp, "pid", "start", "stop", "reoffended", ["school"]).summary
    assert s.loc["school", "hr_ci_lower"] < 2.5 < s.loc["school", "hr_ci_upper"]


def test_split_episodes_hand_example():
    base = pd.DataFrame(
        {"pid": [1, 2, 3], "days": [100.0, 50.0, 80.0], "event": [1, 0, 1], "school": [0, 1, 0]}
    )
    changes = pd.DataFrame(
        {
            "pid": [1, 1, 2, 3, 3],
            "day": [30.0, 60.0, 70.0, 0.0, 40.0],
            "school": [1, 0, 0, 1, np.nan],
        }
    )
    got = split_episodes(base, changes, "pid", "days", "event", "day", ["school"])
    want = pd.DataFrame(
        {
            "pid": [1, 1, 1, 2, 3, 3],
            "start": [0.0, 30.0, 60.0, 0.0, 0.0, 40.0],
            "stop": [30.0, 60.0, 100.0, 50.0, 40.0, 80.0],
            "event": [0, 0, 1, 0, 0, 1],
            # id 2's change at 70 is after follow-up ended; id 3's change at 0 replaces the
            # baseline and its missing value at 40 carries 1 forward
            "school": [0.0, 1.0, 0.0, 1.0, 1.0, 1.0],
        }
    )
    pd.testing.assert_frame_equal(got.astype({"school": float}), want)


def test_split_episodes_agrees_with_lifelines_add_covariate_to_timeline():
    base, changes = school_changes(60, seed=8)
    got = split_episodes(base, changes, "pid", "days", "reoffended", "day", ["school"])
    long = base.assign(start=0.0, stop=base["days"])[["pid", "start", "stop", "reoffended"]]
    cv = pd.concat(
        [base[["pid", "school"]].assign(day=0.0), changes[["pid", "day", "school"]]],
        ignore_index=True,
    )
    ref = add_covariate_to_timeline(
        long, cv, id_col="pid", duration_col="day", event_col="reoffended"
    )
    ref = ref.sort_values(["pid", "start"]).reset_index(drop=True)
    got = got.sort_values(["pid", "start"]).reset_index(drop=True)
    np.testing.assert_allclose(got[["start", "stop"]], ref[["start", "stop"]])
    np.testing.assert_array_equal(got["reoffended"], ref["reoffended"].astype(int))
    np.testing.assert_allclose(got["school"].astype(float), ref["school"].astype(float))


def test_split_episodes_refuses_two_changes_on_one_day_naming_the_id():
    base = pd.DataFrame({"pid": [1, 7], "days": [100.0, 90.0], "event": [0, 1], "school": [0, 0]})
    changes = pd.DataFrame({"pid": [7, 7], "day": [30.0, 30.0], "school": [1, 0]})
    with pytest.raises(ValidationError, match="id 7 .*overlapping or zero-length"):
        split_episodes(base, changes, "pid", "days", "event", "day", ["school"])


def test_split_episodes_refuses_zero_follow_up_naming_the_id():
    base = pd.DataFrame({"pid": [1, 7], "days": [100.0, 0.0], "event": [0, 0], "school": [0, 0]})
    changes = pd.DataFrame({"pid": [1], "day": [30.0], "school": [1]})
    with pytest.raises(ValidationError, match="id 7 .*zero"):
        split_episodes(base, changes, "pid", "days", "event", "day", ["school"])


@pytest.mark.parametrize(
    ("rows", "words"),
    [
        ([(5, 0, 10, 0), (5, 8, 20, 1)], "id 5 has overlapping intervals"),
        ([(5, 0, 10, 0), (5, 10, 10, 1)], "id 5 has an interval (10.0, 10.0] that is zero-length"),
        (
            [(5, 0, 10, 1), (5, 10, 20, 0)],
            "id 5 has an event at 10.0 on an interval that is not its last",
        ),
    ],
)
def test_time_varying_cox_refuses_broken_counting_process_frames(episodes, rows, words):
    extra = pd.DataFrame(rows, columns=["pid", "start", "stop", "reoffended"]).assign(
        pid=lambda d: d["pid"] + 10_000, school=0, age=15.0
    )
    df = pd.concat([episodes, extra], ignore_index=True)
    with pytest.raises(ValidationError) as err:
        cox_time_varying(df, "pid", "start", "stop", "reoffended", ["school", "age"])
    assert words.replace("id 5", "id 10005") in str(err.value)
