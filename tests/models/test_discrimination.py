"""Harrell's C, Uno's C and time-dependent AUC against lifelines, scikit-survival and by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines.utils import concordance_index

from errors import ValidationError
from models.labels import censoring_survival
from models.discrimination import (
    harrell_c,
    time_dependent_auc,
    uno_c,
)

# t: 1 2 2 3 4 / events 1 1 0 1 0: someone is censored on the day of an event (t=2)
HAND = {
    "t": np.array([1, 2, 2, 3, 4.0]),
    "e": np.array([1, 1, 0, 1, 0]),
    "r": np.array([5, 4, 3, 1, 2.0]),
}


def scored(n: int, seed: int, administrative_only: bool) -> pd.DataFrame:
    """Continuous times, a noisy risk score, random or purely administrative censoring."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t = rng.exponential(1500 * np.exp(-0.8 * x))
    end = np.full(n, 1825.0) if administrative_only else rng.uniform(400, 1825, n)
    return pd.DataFrame(
        {
            "days": np.minimum(t, end),
            "event": (t <= end).astype(int),
            "score": x + rng.normal(scale=0.7, size=n),
        }
    )


@pytest.fixture(scope="module")
def random_censoring() -> pd.DataFrame:
    return scored(600, 1, administrative_only=False)


@pytest.fixture(scope="module")
def administrative() -> pd.DataFrame:
    return scored(600, 2, administrative_only=True)


def test_harrell_matches_lifelines_with_the_sign_flipped(random_censoring):
    d = random_censoring
    want = concordance_index(d["days"], -d["score"], d["event"])
    assert harrell_c(d["days"], d["event"], d["score"]) == pytest.approx(want, rel=1e-12)


def test_harrell_ties_in_time_and_score_match_lifelines():
    rng = np.random.default_rng(4)
    t = rng.integers(1, 30, 300).astype(float)
    e = rng.binomial(1, 0.4, 300)
    r = rng.integers(0, 5, 300).astype(float)
    assert harrell_c(t, e, r) == pytest.approx(concordance_index(t, -r, e), rel=1e-12)


def test_harrell_hand_worked():
    # comparable: (1 vs 4 later), (2 vs later two + the one censored at 2), (3 vs 4): 8 pairs,
    # all concordant but the last
    assert harrell_c(HAND["t"], HAND["e"], HAND["r"]) == pytest.approx(7 / 8)


def test_censoring_survival_read_just_before_t_hand_worked():
    # censoring KM: at 2, 1 censored of the 3 left after the event (events first); at 4, 1 of 1
    g = censoring_survival(HAND["t"], HAND["e"], np.array([1, 2, 2.5, 3, 4, 5.0]), left_limit=True)
    np.testing.assert_allclose(g, [1, 1, 2 / 3, 2 / 3, 2 / 3, 0])


def test_uno_hand_worked_with_censoring_on_an_event_day():
    # events before horizon 4 at 1, 2, 3 with weights 1/G(t-)^2 = 1, 1, 9/4
    got = uno_c(HAND["t"], HAND["e"], HAND["r"], horizon=4)
    assert got.value == pytest.approx((4 + 3) / (4 + 3 + 9 / 4))
    assert got.reason is None and got.comparable_pairs == 8


ADMIN = {
    "t": np.array([1, 2, 3, 3, 3.0]),
    "e": np.array([1, 1, 1, 0, 0]),
    "r": np.array([3, 1, 2, 1.5, 0.5]),
}


def test_uno_and_auc_survive_everyone_censored_on_the_last_day():
    # Administrative end at day 3, one reoffence on that very day: G(3) = 0, but G(3-) = 1.
    t, e, r = ADMIN["t"], ADMIN["e"], ADMIN["r"]
    np.testing.assert_allclose(censoring_survival(t, e, t, left_limit=True), 1.0)
    c = uno_c(t, e, r, horizon=3)
    # horizon is exclusive: the event at 1 beats all 4 later, the one at 2 only 1 of 3
    assert c.value == pytest.approx(5 / 7)
    auc = time_dependent_auc(t, e, r, times=[2])
    # cases at 1 and 2 (weights 1) against controls 2, 1.5, 0.5: 3 + 1 of 6 pairs
    assert auc["auc"].iloc[0] == pytest.approx(4 / 6)


def test_horizon_beyond_follow_up_gives_nan_with_a_reason():
    got = uno_c(HAND["t"], HAND["e"], HAND["r"], horizon=10)
    assert np.isnan(got.value) and "beyond the last follow-up" in got.reason
    auc = time_dependent_auc(HAND["t"], HAND["e"], HAND["r"], times=[2, 3, 4, 10])
    np.testing.assert_allclose(auc["auc"].iloc[:2], [1.0, 2 / 3.5])
    assert auc["auc"].iloc[2:].isna().all()
    assert all("no one is followed beyond" in s for s in auc["reason"].iloc[2:])
    assert auc["reason"].iloc[:2].isna().all()


def test_default_times_return_one_row_each(administrative):
    d = administrative
    auc = time_dependent_auc(d["days"], d["event"], d["score"])
    assert list(auc["time"]) == [182, 365, 730, 1095]
    assert list(auc.columns) == ["time", "auc", "cases", "controls", "reason"]
    assert auc["auc"].between(0.6, 0.95).all()


def test_rejects_missing_scores_and_length_mismatch():
    with pytest.raises(ValidationError, match="risk_score has 1 missing"):
        harrell_c([1, 2, 3], [1, 0, 1], [0.1, np.nan, 0.3])
    with pytest.raises(ValidationError, match="same length"):
        harrell_c([1, 2, 3], [1, 0, 1], [0.1, 0.3])


# ---------------------------------------------------------------- scikit-survival


@pytest.fixture(scope="module")
def sksurv_metrics():
    return pytest.importorskip("sksurv.metrics", reason="scikit-survival not installed")


def _y(d: pd.DataFrame) -> np.ndarray:
    y = np.empty(len(d), dtype=[("event", bool), ("time", float)])
    y["event"] = d["event"].astype(bool)
    y["time"] = d["days"]
    return y


@pytest.mark.parametrize("data", ["random_censoring", "administrative"])
@pytest.mark.parametrize("horizon", [365.0, 1000.0, 1500.0])
def test_uno_matches_sksurv_concordance_index_ipcw(request, sksurv_metrics, data, horizon):
    d = request.getfixturevalue(data)
    y = _y(d)
    want = sksurv_metrics.concordance_index_ipcw(y, y, d["score"].to_numpy(), tau=horizon)[0]
    got = uno_c(d["days"], d["event"], d["score"], horizon=horizon)
    assert got.value == pytest.approx(want, rel=1e-6)


@pytest.mark.parametrize("data", ["random_censoring", "administrative"])
def test_time_dependent_auc_matches_sksurv_cumulative_dynamic_auc(request, sksurv_metrics, data):
    d = request.getfixturevalue(data)
    y = _y(d)
    times = np.array([182.0, 365.0, 730.0, 1095.0])
    want, _ = sksurv_metrics.cumulative_dynamic_auc(y, y, d["score"].to_numpy(), times)
    got = time_dependent_auc(d["days"], d["event"], d["score"], times=times)
    np.testing.assert_allclose(got["auc"], want, rtol=1e-6)


def test_harrell_matches_sksurv_concordance_index_censored(sksurv_metrics, random_censoring):
    d = random_censoring
    want = sksurv_metrics.concordance_index_censored(
        d["event"].astype(bool).to_numpy(), d["days"].to_numpy(), d["score"].to_numpy()
    )[0]
    assert harrell_c(d["days"], d["event"], d["score"]) == pytest.approx(want, rel=1e-12)


def test_sksurv_fails_where_everyone_is_censored_on_an_event_day(sksurv_metrics):
    # sksurv reads G at T_i, which is 0 here; reading it at T_i- (ours) keeps the weights finite.
    d = pd.DataFrame({"days": ADMIN["t"], "event": ADMIN["e"]})
    with pytest.raises(ValueError, match="censoring survival function is zero"):
        sksurv_metrics.cumulative_dynamic_auc(_y(d), _y(d), ADMIN["r"], [2.0])
