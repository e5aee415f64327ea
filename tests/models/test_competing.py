"""Aalen-Johansen cumulative incidence against lifelines and a hand-worked example."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from lifelines import AalenJohansenFitter

from errors import ValidationError
from models.competing import cumulative_incidence


@pytest.fixture(scope="module")
def two_kinds() -> pd.DataFrame:
    """Tie-free times, so lifelines does not jitter: 1 = sexual, 2 = other reoffence."""
    rng = np.random.default_rng(17)
    n = 500
    sexual = rng.exponential(20000, n)
    other = rng.exponential(2500, n)
    end = rng.uniform(900, 1825, n)
    t = np.minimum.reduce([sexual, other, end])
    kind = np.select([t == sexual, t == other], [1, 2], 0)
    return pd.DataFrame({"days": t, "kind": kind})


@pytest.mark.parametrize("kind", [1, 2])
def test_matches_lifelines_aalen_johansen_estimate_variance_and_interval(two_kinds, kind):
    res = cumulative_incidence(two_kinds, "days", "kind")
    ref = AalenJohansenFitter(calculate_variance=True).fit(
        two_kinds["days"], two_kinds["kind"], event_of_interest=kind
    )
    tab = res.table[res.table["event_type"] == kind]
    np.testing.assert_allclose(tab["time"], ref.cumulative_density_.index, rtol=0)
    np.testing.assert_allclose(
        tab["cumulative_incidence"], ref.cumulative_density_.iloc[:, 0], rtol=1e-6, atol=1e-12
    )
    np.testing.assert_allclose(tab["variance"], ref.variance_, rtol=1e-6, atol=1e-15)
    # lifelines labels its columns the other way round ("upper" holds the lower limit)
    ref_ci = np.sort(ref.confidence_interval_.to_numpy(), axis=1)
    ok = tab["cumulative_incidence"].to_numpy() > 0
    np.testing.assert_allclose(tab["ci_lower"].to_numpy()[ok], ref_ci[ok, 0], rtol=1e-6)
    np.testing.assert_allclose(tab["ci_upper"].to_numpy()[ok], ref_ci[ok, 1], rtol=1e-6)


def test_hand_worked_example_with_tied_types():
    # t:    1  2  2  3  4
    # type: 1  2  1  0  1     n = 5, 4, 2, 1; S(t-) = 1, 4/5, 4/5*2/4 = 2/5, 2/5
    df = pd.DataFrame({"t": [1, 2, 2, 3, 4], "k": [1, 2, 1, 0, 1]})
    res = cumulative_incidence(df, "t", "k")
    at = res.at([0.5, 1, 2, 3, 4])
    np.testing.assert_allclose(at[1], [0, 1 / 5, 1 / 5 + 4 / 5 * 1 / 4, 0.4, 0.4 + 2 / 5 * 1 / 1])
    np.testing.assert_allclose(at[2], [0, 0, 4 / 5 * 1 / 4, 0.2, 0.2])
    # all-cause: the incidences and the Kaplan-Meier survival add up to one
    assert at[1].iloc[-1] + at[2].iloc[-1] == pytest.approx(1.0)
    assert np.isnan(res.at([5])[1].iloc[0])


def test_sum_of_incidences_equals_one_minus_kaplan_meier(two_kinds):
    from models.survival import kaplan_meier

    res = cumulative_incidence(two_kinds, "days", "kind")
    km = kaplan_meier(two_kinds.assign(any=(two_kinds["kind"] > 0).astype(int)), "days", "any")
    times = [180.0, 365.0, 900.0]
    total = res.at(times).sum(axis=1).to_numpy()
    np.testing.assert_allclose(total, 1 - km.survival_at(times).to_numpy(), rtol=1e-12)


def test_intervals_bracket_the_estimate_and_plot_is_a_figure(two_kinds):
    res = cumulative_incidence(two_kinds, "days", "kind")
    tab = res.table.dropna(subset=["ci_lower"])
    assert (tab["ci_lower"] <= tab["cumulative_incidence"]).all()
    assert (tab["cumulative_incidence"] <= tab["ci_upper"]).all()
    fig = res.plot(labels={1: "sexual", 2: "other"})
    assert isinstance(fig, go.Figure)
    assert {t.name for t in fig.data if t.mode == "lines"} == {"sexual", "other"}
    assert "days" in fig.layout.xaxis.title.text


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ([0, 1, -1], "'k'"),
        ([0, 1, 1.5], "'k'"),
        ([0, 0, 0], "no events"),
        ([0, 1, np.nan], "missing"),
    ],
)
def test_rejects_bad_event_types(kind, words):
    with pytest.raises(ValidationError, match=words):
        cumulative_incidence(pd.DataFrame({"t": [1.0, 2.0, 3.0], "k": kind}), "t", "k")
