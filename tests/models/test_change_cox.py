"""Change on the matrix and reoffending: reliable improvements, the PH check of a (start, stop]
fit against the one-row-per-person Cox model's, the events-per-covariate warning, the caveat."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from errors import ValidationError
from matrix.change import standard_error_of_difference
from models import change_cox as cc
from models import survival

DOMAINS = ("gender_equality", "digital_sex_crime_understanding")
NORMS = {"gender_equality": cc.DomainNorm(sd=0.45, reliability=0.80),
         "digital_sex_crime_understanding": cc.DomainNorm(sd=7.5, reliability=0.86)}


def test_change_is_counted_in_reliable_improvements_with_the_domains_direction():
    frame = pd.DataFrame({"change_gender_equality": [0.0, 0.5, -0.25],
                          "change_digital_sex_crime_understanding": [7.5, np.nan, -15.0]})
    out = cc.improvement_frame(frame, NORMS, DOMAINS)
    criterion = 1.96 * 0.45 * np.sqrt(2 * (1 - 0.80))
    assert NORMS["gender_equality"].reliable_change == pytest.approx(
        1.96 * standard_error_of_difference(0.45, 0.80), rel=1e-12)
    np.testing.assert_allclose(out["improvement_gender_equality"], [0.0, 0.5 / criterion,
                                                                    -0.25 / criterion])
    assert np.isnan(out["improvement_digital_sex_crime_understanding"][1])
    # Lower is better: a fall is an improvement.
    lower = {"gender_equality": cc.DomainNorm(0.45, 0.80, higher_is_better=False)}
    flipped = cc.improvement_frame(frame, lower, ["gender_equality"])
    np.testing.assert_allclose(flipped["improvement_gender_equality"],
                               -out["improvement_gender_equality"])
    with pytest.raises(ValidationError, match="no norm"):
        cc.improvement_frame(frame, {}, DOMAINS)


def one_row_each(n: int = 300, seed: int = 4, beta=(0.5, -0.4)) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    t = rng.exponential(1 / (0.01 * np.exp(x @ np.array(beta))))
    c = rng.uniform(20, 200, size=n)
    return pd.DataFrame({"id": np.arange(n), "start": 0.0, "stop": np.ceil(np.minimum(t, c)),
                         "event": (t <= c).astype(int), "x1": x[:, 0], "x2": x[:, 1]})


def test_the_ph_check_of_a_start_stop_fit_is_the_cox_models_on_one_row_each():
    df = one_row_each()
    fit = survival.cox_time_varying(df, "id", "start", "stop", "event", ["x1", "x2"])
    ph = cc.counting_ph_test(df, "start", "stop", "event", fit)
    reference = survival.cox(df, "stop", "event", ["x1", "x2"]).ph_test("rank")
    pd.testing.assert_frame_equal(ph, reference, check_exact=False, atol=1e-6, rtol=1e-5)
    # Split at arbitrary days, the same people give the same fit and the same check.
    rows = []
    for r in df.itertuples():
        cut = max(1.0, np.floor(r.stop / 2))
        if cut < r.stop:
            rows += [(r.id, 0.0, cut, 0, r.x1, r.x2), (r.id, cut, r.stop, r.event, r.x1, r.x2)]
        else:
            rows.append((r.id, 0.0, r.stop, r.event, r.x1, r.x2))
    split = pd.DataFrame(rows, columns=df.columns)
    split_fit = survival.cox_time_varying(split, "id", "start", "stop", "event", ["x1", "x2"])
    pd.testing.assert_frame_equal(cc.counting_ph_test(split, "start", "stop", "event", split_fit),
                                  ph, check_exact=False, atol=1e-6, rtol=1e-5)


def test_a_hazard_that_grows_with_time_fails_the_ph_check():
    rng = np.random.default_rng(9)
    n = 600
    x = rng.integers(0, 2, size=n).astype(float)
    # x = 1: hazard 0.002 early, 0.05 after day 60; x = 0: a constant 0.01.
    early = rng.exponential(1 / np.where(x == 1, 0.002, 0.01))
    late = 60 + rng.exponential(1 / np.where(x == 1, 0.05, 0.01))
    t = np.where(early < 60, early, late)
    df = pd.DataFrame({"id": np.arange(n), "start": 0.0, "stop": np.ceil(np.minimum(t, 200)),
                       "event": (t <= 200).astype(int), "x": x})
    fit = survival.cox_time_varying(df, "id", "start", "stop", "event", ["x"])
    assert cc.counting_ph_test(df, "start", "stop", "event", fit).loc["x", "p"] < 0.001


def person_period(n: int, seed: int, base_rate: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    change = rng.normal(3.0, 6.0, size=n)
    t = rng.exponential(1 / (base_rate * np.exp(-0.3 * change / 7.78)))
    stop = np.ceil(np.minimum(t, 700)) + 100
    return pd.DataFrame({
        "study_code": [f"P{i}" for i in range(n)], "start": 100.0, "stop": stop,
        "event": (t <= 700).astype(int), "change_gender_equality": rng.normal(0.1, 0.3, size=n),
        "change_digital_sex_crime_understanding": change,
        "prior_offences": rng.poisson(0.4, size=n), "age_at_referral": rng.integers(12, 19, size=n),
        "completed": rng.integers(0, 2, size=n)})


def test_few_events_per_covariate_are_warned_about_and_the_caveat_is_always_there():
    few = cc.change_cox(person_period(400, 1, 0.00012), NORMS, domains=DOMAINS)
    assert few.n_events < 5 * cc.EPV_ADVISED
    assert few.epv == pytest.approx(few.n_events / 5)
    assert "models.change_cox_few_events" in [w.code for w in few.warnings]
    many = cc.change_cox(person_period(3000, 2, 0.002), NORMS, domains=DOMAINS)
    assert many.epv >= cc.EPV_ADVISED
    assert "models.change_cox_few_events" not in [w.code for w in many.warnings]
    for result in (few, many):
        assert result.caveat.code == "models.change_cox_caveat"
        assert list(result.summary.columns) == list(result.summary_columns)
        assert list(result.ph_test.index) == [*result.covariates, "GLOBAL"]
        assert len(result.plot().data) == 1
    # The generated effect (-0.3 per 7.78 points, about one reliable improvement) is recovered.
    row = many.summary.loc["improvement_digital_sex_crime_understanding"]
    truth = -0.3 * NORMS["digital_sex_crime_understanding"].reliable_change / 7.78
    assert row.ci_lower < truth < row.ci_upper


def test_people_without_a_change_are_left_out_and_counted():
    frame = person_period(3000, 2, 0.002)
    frame.loc[:9, "change_gender_equality"] = np.nan
    result = cc.change_cox(frame, NORMS, domains=DOMAINS)
    assert result.dropped == 10 and result.n_ids == 2990
    assert "models.change_cox_dropped" in [w.code for w in result.warnings]
