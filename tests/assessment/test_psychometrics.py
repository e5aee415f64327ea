"""Alpha, item statistics and omega against pingouin (which matches R's psych), numpy and theory."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pingouin
import pytest
from scipy import stats

from assessment.psychometrics import cronbach_alpha, item_statistics, mcdonald_omega
from errors import ValidationError


def likert(n: int = 150, k: int = 6, seed: int = 11, missing: float = 0.06) -> pd.DataFrame:
    """Fixed-seed 1..5 answers driven by one trait, with some answers missing at random."""
    rng = np.random.default_rng(seed)
    trait = rng.standard_normal(n)
    latent = 3.0 + 0.9 * trait[:, None] + rng.normal(0.0, 0.9, (n, k)) + np.linspace(-0.4, 0.4, k)
    x = np.clip(np.rint(latent), 1, 5)
    x[rng.random((n, k)) < missing] = np.nan
    return pd.DataFrame(x, columns=[f"Q{i + 1}" for i in range(k)])


def feldt_interval(alpha: float, n: int, k: int, ci: float = 0.95) -> tuple[float, float]:
    """Feldt's interval by hand: (1 - alpha) / (1 - alpha_hat) ~ F(n - 1, (n - 1)(k - 1))."""
    df1, df2 = n - 1, (n - 1) * (k - 1)
    tail = (1 - ci) / 2
    return (1 - (1 - alpha) * stats.f.ppf(1 - tail, df1, df2),
            1 - (1 - alpha) * stats.f.ppf(tail, df1, df2))


def pairwise_alpha(data: pd.DataFrame) -> float:
    """Alpha from the pairwise-complete covariance matrix (pandas' `cov` drops NaN pair by pair)."""
    cov = data.cov().to_numpy()
    k = cov.shape[0]
    return k / (k - 1) * (1 - np.trace(cov) / cov.sum())


ROUNDED = 5e-4 + 1e-12  # pingouin rounds its bounds to 3 decimals


# ------------------------------------------------------------------ alpha


@pytest.mark.parametrize("nan_policy", ["pairwise", "listwise"])
def test_alpha_equals_pingouin_with_missing_answers(nan_policy):
    data = likert()
    assert data.isna().any().any() and data.dropna().shape[0] < len(data)
    ours = cronbach_alpha(data, nan_policy=nan_policy)
    ref_alpha, ref_ci = pingouin.cronbach_alpha(data, nan_policy=nan_policy)
    assert ours.alpha == pytest.approx(ref_alpha, abs=1e-10)
    if nan_policy == "pairwise":
        assert (ours.ci_lower, ours.ci_upper) == pytest.approx(tuple(ref_ci), abs=ROUNDED)


@pytest.mark.parametrize("ci", [0.95, 0.90])
def test_pairwise_ci_is_feldts_interval_on_all_rows_as_pingouin_gives_it(ci):
    data = likert(seed=3)
    ours = cronbach_alpha(data, nan_policy="pairwise", ci=ci)
    alpha = pairwise_alpha(data)
    lower, upper = feldt_interval(alpha, len(data), data.shape[1], ci)
    assert (ours.alpha, ours.ci_lower, ours.ci_upper) == pytest.approx((alpha, lower, upper), abs=1e-10)
    assert ours.n == len(data)
    ref_alpha, ref_ci = pingouin.cronbach_alpha(data, nan_policy="pairwise", ci=ci)
    assert ours.alpha == pytest.approx(ref_alpha, abs=1e-10)
    assert (ours.ci_lower, ours.ci_upper) == pytest.approx(tuple(ref_ci), abs=ROUNDED)


def test_listwise_ci_rests_on_the_complete_rows_where_pingouin_counts_all_rows():
    # Deliberate difference: pingouin keeps n = all rows in the Feldt CI after listwise
    # deletion; dscr uses the complete rows the estimate rests on, i.e. pingouin on those rows.
    data = likert(seed=5)
    complete = data.dropna()
    k = data.shape[1]
    ours = cronbach_alpha(data, nan_policy="listwise")
    alpha = pairwise_alpha(complete)  # on complete rows pairwise is listwise
    assert (ours.alpha, ours.ci_lower, ours.ci_upper) == pytest.approx(
        (alpha, *feldt_interval(alpha, len(complete), k)), abs=1e-10
    )
    assert ours.n == len(complete) < len(data)
    ref_alpha, ref_ci = pingouin.cronbach_alpha(complete, nan_policy="listwise")
    assert ours.alpha == pytest.approx(ref_alpha, abs=1e-10)
    assert (ours.ci_lower, ours.ci_upper) == pytest.approx(tuple(ref_ci), abs=ROUNDED)
    # pingouin on all rows: the same alpha, the interval of n = all rows, narrower than ours.
    wide_alpha, wide_ci = pingouin.cronbach_alpha(data, nan_policy="listwise")
    wide = feldt_interval(alpha, len(data), k)
    assert wide_alpha == pytest.approx(alpha, abs=1e-10)
    assert tuple(wide_ci) == pytest.approx(wide, abs=ROUNDED)
    assert ours.ci_lower < wide[0] - 0.01 and ours.ci_upper > wide[1] + 0.005


def test_alpha_matches_r_psych_values_on_pingouins_missing_data_example():
    # pingouin docs: psych::alpha(data, use="pairwise") -> 0.732660835214447, CI [0.435, 0.909];
    # use="complete.obs" -> 0.8016949152542373.
    data = pingouin.read_dataset("cronbach_wide_missing")
    pairwise = cronbach_alpha(data)
    assert pairwise.alpha == pytest.approx(0.732660835214447, abs=1e-12)
    assert (round(pairwise.ci_lower, 3), round(pairwise.ci_upper, 3)) == (0.435, 0.909)
    assert cronbach_alpha(data, "listwise").alpha == pytest.approx(0.8016949152542373, abs=1e-12)


def test_alpha_on_complete_data_equals_the_variance_formula():
    x = likert(missing=0.0).to_numpy()
    k = x.shape[1]
    expected = k / (k - 1) * (1 - x.var(axis=0, ddof=1).sum() / x.sum(axis=1).var(ddof=1))
    result = cronbach_alpha(pd.DataFrame(x))
    assert result.alpha == pytest.approx(expected, abs=1e-12)
    # Feldt: (1 - alpha) / (1 - alpha_hat) ~ F(n-1, (n-1)(k-1)).
    n = x.shape[0]
    assert result.ci_lower == pytest.approx(
        1 - (1 - expected) * stats.f.ppf(0.975, n - 1, (n - 1) * (k - 1)), abs=1e-12
    )
    assert list(result.summary.columns) == ["alpha", "ci_lower", "ci_upper", "n", "k", "nan_policy"]


# ------------------------------------------------------------------ item statistics


def test_item_statistics_on_complete_data_equal_a_direct_numpy_computation():
    frame = likert(missing=0.0, seed=8)
    x = frame.to_numpy()
    table = item_statistics(frame)
    assert list(table.columns) == ["mean", "sd", "n", "corrected_item_total_r", "alpha_if_deleted"]
    assert list(table.index) == list(frame.columns)
    for i, name in enumerate(frame.columns):
        rest = np.delete(x, i, axis=1)
        r = np.corrcoef(x[:, i], rest.sum(axis=1))[0, 1]
        kr = rest.shape[1]
        a = kr / (kr - 1) * (1 - rest.var(axis=0, ddof=1).sum() / rest.sum(axis=1).var(ddof=1))
        row = table.loc[name]
        assert row["mean"] == pytest.approx(x[:, i].mean(), abs=1e-12)
        assert row["sd"] == pytest.approx(x[:, i].std(ddof=1), abs=1e-12)
        assert row["n"] == len(x)
        assert row["corrected_item_total_r"] == pytest.approx(r, abs=1e-12)
        assert row["alpha_if_deleted"] == pytest.approx(a, abs=1e-12)


@pytest.mark.parametrize("nan_policy", ["pairwise", "listwise"])
def test_alpha_if_deleted_with_missing_answers_equals_pingouin_without_the_item(nan_policy):
    frame = likert(seed=9)
    table = item_statistics(frame, nan_policy=nan_policy)
    for name in frame.columns:
        rest = frame.drop(columns=name)
        if nan_policy == "listwise":
            # the rows are those complete on all items, as in psych::alpha(use="complete.obs")
            rest = rest.loc[frame.dropna().index]
        ref, _ = pingouin.cronbach_alpha(rest, nan_policy=nan_policy)
        assert table.loc[name, "alpha_if_deleted"] == pytest.approx(ref, abs=1e-10)
    expected_n = frame.notna().sum() if nan_policy == "pairwise" else len(frame.dropna())
    assert (table["n"] == expected_n).all()


def test_two_items_have_no_alpha_if_deleted():
    table = item_statistics(likert(k=2, missing=0.0))
    assert table["alpha_if_deleted"].isna().all()
    # With two items, each one's rest is the other item: r is their plain correlation.
    x = likert(k=2, missing=0.0).to_numpy()
    assert table["corrected_item_total_r"].iloc[0] == pytest.approx(
        np.corrcoef(x.T)[0, 1], abs=1e-12
    )


# ------------------------------------------------------------------ omega


def exact_sample(
    loadings: np.ndarray, uniq: np.ndarray, n: int = 400, seed: int = 1
) -> pd.DataFrame:
    """Data whose sample covariance is exactly L L' + diag(psi): the one-factor model fits
    perfectly, so maximum likelihood recovers L and psi (up to the n/(n-1) scale, which
    cancels in omega)."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, len(loadings)))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T
    sigma = np.outer(loadings, loadings) + np.diag(uniq)
    return pd.DataFrame(z @ np.linalg.cholesky(sigma).T + 3.0)


def omega_of(loadings: np.ndarray, uniq: np.ndarray) -> float:
    return loadings.sum() ** 2 / (loadings.sum() ** 2 + uniq.sum())


def test_omega_recovers_a_tau_equivalent_population_exactly():
    lam, psi = np.full(6, 0.7), np.full(6, 0.51)
    # (6 * 0.7)^2 / ((6 * 0.7)^2 + 6 * 0.51) = 17.64 / 20.70
    assert omega_of(lam, psi) == pytest.approx(17.64 / 20.70, abs=1e-15)
    result = mcdonald_omega(exact_sample(lam, psi))
    # Only the optimiser's convergence separates the fit from the truth.
    assert result.omega == pytest.approx(17.64 / 20.70, abs=1e-4)
    # Under tau-equivalence alpha equals omega.
    assert cronbach_alpha(exact_sample(lam, psi)).alpha == pytest.approx(17.64 / 20.70, abs=1e-10)


def test_omega_recovers_a_congeneric_population_and_exceeds_alpha():
    lam = np.array([0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
    psi = np.array([0.8, 0.7, 0.6, 0.5, 0.4, 0.3])
    data = exact_sample(lam, psi, seed=2)
    result = mcdonald_omega(data)
    assert result.omega == pytest.approx(omega_of(lam, psi), abs=1e-4)
    scale = np.sqrt((len(data) - 1) / len(data))  # FactorAnalysis fits the n-denominator covariance
    np.testing.assert_allclose(result.loadings.to_numpy(), lam * scale, atol=1e-3)
    # Alpha is a lower bound of reliability when loadings differ.
    assert cronbach_alpha(data).alpha < result.omega


def test_omega_of_a_simulated_tau_equivalent_scale_is_near_its_theoretical_value():
    # n = 1000 people, 6 items, loading 0.7, error variance 0.51: omega = 0.8522.
    # Its sampling SD is about sqrt(2k(1-w)^2 / ((k-1)(n-1))) = 0.0072 (Feldt's variance of
    # alpha, which equals omega here), so 0.03 is about 4 standard errors.
    rng = np.random.default_rng(2024)
    trait = rng.standard_normal(1000)
    x = 0.7 * trait[:, None] + rng.normal(0.0, np.sqrt(0.51), (1000, 6))
    result = mcdonald_omega(pd.DataFrame(x))
    assert abs(result.omega - 17.64 / 20.70) < 0.03
    assert abs(result.omega - cronbach_alpha(pd.DataFrame(x)).alpha) < 0.01
    assert (result.loadings > 0).all()
    assert list(result.summary.columns) == ["loading", "uniqueness"]


def test_omega_drops_incomplete_rows():
    data = likert(seed=4)
    assert mcdonald_omega(data).n == len(data.dropna())


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("func", [cronbach_alpha, item_statistics, mcdonald_omega])
def test_bad_input_is_refused(func):
    with pytest.raises(ValidationError, match="at least 2 items"):
        func(likert()[["Q1"]])
    with pytest.raises(
        ValidationError, match="at least 2 rows with every item answered, got 1 of 3"
    ):
        func(pd.DataFrame({"a": [1.0, 2.0, np.nan], "b": [1.0, np.nan, 3.0], "c": [2.0, 2.0, 2.0]}))
    with pytest.raises(ValidationError, match="not numeric: b"):
        func(pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]}))
    with pytest.raises(ValidationError, match="must be a DataFrame"):
        func(np.ones((5, 3)))
    with pytest.raises(ValidationError, match="infinite"):
        func(pd.DataFrame({"a": [1.0, 2.0, np.inf], "b": [1.0, 2.0, 3.0]}))


def test_alpha_refuses_bad_options_and_constant_answers():
    with pytest.raises(ValidationError, match="nan_policy must be 'pairwise' or 'listwise'"):
        cronbach_alpha(likert(), nan_policy="complete")
    with pytest.raises(ValidationError, match="ci must be a level between 0 and 1"):
        cronbach_alpha(likert(), ci=95)
    with pytest.raises(ValidationError, match="no variance"):
        cronbach_alpha(pd.DataFrame({"a": [2, 2, 2], "b": [2, 2, 2]}))
