"""Reliability of an instrument's items: alpha (Feldt CI), omega, item statistics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from errors import ValidationError

NAN_POLICIES = ("pairwise", "listwise")


@dataclass(frozen=True)
class AlphaResult:
    """Cronbach's alpha with its Feldt confidence interval."""

    alpha: float
    ci_lower: float
    ci_upper: float
    ci: float
    n: int
    k: int
    nan_policy: str

    @property
    def summary(self) -> pd.DataFrame:
        return pd.DataFrame(
            [[self.alpha, self.ci_lower, self.ci_upper, self.n, self.k, self.nan_policy]],
            columns=["alpha", "ci_lower", "ci_upper", "n", "k", "nan_policy"],
        )


@dataclass(frozen=True)
class OmegaResult:
    """McDonald's omega total from a one-factor model, with the fitted loadings."""

    omega: float
    loadings: pd.Series
    uniquenesses: pd.Series
    n: int
    k: int

    @property
    def summary(self) -> pd.DataFrame:
        """One row per item: loading and uniqueness of the one-factor fit."""
        return pd.DataFrame({"loading": self.loadings, "uniqueness": self.uniquenesses})


def _check_items(items: object, nan_policy: str = "pairwise") -> pd.DataFrame:
    if not isinstance(items, pd.DataFrame):
        raise ValidationError(
            "assessment.items_dataframe_one_column",
            "items must be a DataFrame with one column per item, got {type_name}",
            type_name=type(items).__name__
        )
    if nan_policy not in NAN_POLICIES:
        raise ValidationError("assessment.nan_policy_pairwise_listwise",
                              "nan_policy must be 'pairwise' or 'listwise', got {nan_policy!r}",
                              nan_policy=nan_policy)
    if items.shape[1] < 2:
        raise ValidationError("assessment.reliability_needs_least_items",
                              "reliability needs at least 2 items (columns), got {items_shape}",
                              items_shape=items.shape[1])
    bad = [str(c) for c in items.columns if items[c].dtype.kind not in "biuf"]
    if bad:
        raise ValidationError(
            "assessment.item_columns_numeric_not",
            "item columns must be numeric; not numeric: {bad}. Convert answers to numbers "
            "(missing answers as NaN) first",
            bad=', '.join(bad)
        )
    data = items.astype(float)
    if np.isinf(data.to_numpy()).any():
        raise ValidationError("assessment.items_contain_infinite_values",
                              "items contain infinite values; use NaN for a missing answer")
    complete = int(data.notna().all(axis=1).sum())
    if complete < 2:
        raise ValidationError(
            "assessment.reliability_needs_least_rows",
            "reliability needs at least 2 rows with every item answered, got {complete} of "
            "{n_data} rows",
            complete=complete, n_data=len(data)
        )
    return data


def _covariance(data: pd.DataFrame, nan_policy: str) -> pd.DataFrame:
    if nan_policy == "listwise":
        data = data.dropna(axis=0, how="any")
    # pandas computes each covariance on the rows where both items are answered (pairwise).
    cov = data.cov()
    if cov.isna().to_numpy().any():
        raise ValidationError(
            "assessment.some_pair_items_answered",
            "some pair of items is answered together by fewer than 2 people, so their "
            "covariance is undefined; use nan_policy='listwise' or drop the sparse item"
        )
    return cov


def _alpha_from_cov(cov: np.ndarray) -> float:
    k = cov.shape[0]
    total = cov.sum()
    if total <= 0:
        raise ValidationError(
            "assessment.total_score_no_variance",
            "the total score has no variance (every person gave the same answers); alpha is "
            "undefined"
        )
    return float(k / (k - 1) * (1.0 - np.trace(cov) / total))


def cronbach_alpha(
    items: pd.DataFrame, nan_policy: str = "pairwise", ci: float = 0.95
) -> AlphaResult:
    """Cronbach's alpha of the item columns, with Feldt's (1987) F-distribution CI.

    R reference: ``psych::alpha(items, use="pairwise")`` (and ``use="complete.obs"`` for
    listwise). The same computation as ``pingouin.cronbach_alpha(items, nan_policy=..., ci=...)``:
    alpha = k/(k-1) * (1 - trace(C)/sum(C)) on the item covariance matrix C, and
    ``ci_lower = 1 - (1 - alpha) * F.isf((1-ci)/2, n-1, (n-1)(k-1))``,
    ``ci_upper = 1 - (1 - alpha) * F.isf(1-(1-ci)/2, n-1, (n-1)(k-1))``.

    nan_policy:
        "pairwise": each covariance uses the rows where both items are answered; n in the CI
        is the number of rows given (as pingouin and psych).
        "listwise": rows with any missing answer are dropped first. Unlike pingouin, which keeps
        the original row count, n in the CI is then the number of complete rows: the estimate
        rests on those rows only, so the interval must not claim the precision of the rest.

    Bounds are not rounded (pingouin rounds them to 3 decimals).
    """
    data = _check_items(items, nan_policy)
    if not 0.0 < ci < 1.0:
        raise ValidationError("assessment.ci_level_between_such",
                              "ci must be a level between 0 and 1 such as 0.95, got {ci!r}",
                              ci=ci)
    cov = _covariance(data, nan_policy).to_numpy()
    k = data.shape[1]
    n = int(data.notna().all(axis=1).sum()) if nan_policy == "listwise" else len(data)
    alpha = _alpha_from_cov(cov)
    df1 = n - 1
    df2 = df1 * (k - 1)
    tail = 1.0 - ci
    lower = 1.0 - (1.0 - alpha) * stats.f.isf(tail / 2.0, df1, df2)
    upper = 1.0 - (1.0 - alpha) * stats.f.isf(1.0 - tail / 2.0, df1, df2)
    return AlphaResult(
        alpha=alpha,
        ci_lower=float(lower),
        ci_upper=float(upper),
        ci=ci,
        n=n,
        k=k,
        nan_policy=nan_policy,
    )


def item_statistics(items: pd.DataFrame, nan_policy: str = "pairwise") -> pd.DataFrame:
    """Per item: mean, sd, n, corrected item-total r and alpha if the item is deleted.

    R reference: the ``item.stats`` (``mean``, ``sd``, ``n``, ``r.drop``) and
    ``alpha.drop`` (``raw_alpha``) tables of ``psych::alpha(items, use="pairwise")``.
    The corrected item-total r correlates the item with the sum of the *other* items, computed
    from the covariance matrix chosen by `nan_policy` (so it agrees with `cronbach_alpha`):
    r = sum_j!=i C_ij / sqrt(C_ii * sum_{j,l != i} C_jl). With two items, alpha without one of
    them is undefined and reported as NaN. mean, sd (n - 1 denominator) and n use each item's
    answered rows (after listwise deletion when asked).
    """
    data = _check_items(items, nan_policy)
    if nan_policy == "listwise":
        data = data.dropna(axis=0, how="any")
    cov = _covariance(data, nan_policy).to_numpy()
    k = cov.shape[0]
    r_drop = np.empty(k)
    alpha_drop = np.full(k, np.nan)
    for i in range(k):
        rest = [j for j in range(k) if j != i]
        sub = cov[np.ix_(rest, rest)]
        cov_item_rest = cov[i, rest].sum()
        denom = np.sqrt(cov[i, i] * sub.sum())
        r_drop[i] = cov_item_rest / denom if denom > 0 else np.nan
        if k > 2:
            alpha_drop[i] = _alpha_from_cov(sub)
    return pd.DataFrame(
        {
            "mean": data.mean().to_numpy(),
            "sd": data.std(ddof=1).to_numpy(),
            "n": data.notna().sum().astype(int).to_numpy(),
            "corrected_item_total_r": r_drop,
            "alpha_if_deleted": alpha_drop,
        },
        index=pd.Index(items.columns, name="item"),
    )


def mcdonald_omega(items: pd.DataFrame) -> OmegaResult:
    """McDonald's omega total of the unit-weighted sum, from a one-factor model.

    Fit: maximum likelihood factor analysis with one factor,
    ``sklearn.decomposition.FactorAnalysis(n_components=1, svd_method="lapack")`` run to a tight
    tolerance, on the raw (unstandardised) items, so omega is the reliability of the raw sum
    score that the instruments actually use. Rows with any missing answer are dropped
    (listwise), as maximum likelihood here needs complete rows.
    omega = (sum lambda)^2 / ((sum lambda)^2 + sum psi), with the model-implied variance in the
    denominator (McDonald 1999). R counterpart: the omega total of a one-factor model, e.g.
    ``psych::omega(items, nfactors=1, fm="ml")``, which works on the correlation matrix and
    therefore matches when items have equal variances. Reverse-key items before calling: a
    negative loading lowers omega, as it should for an unkeyed scale.
    """
    from sklearn.decomposition import FactorAnalysis

    data = _check_items(items, "listwise").dropna(axis=0, how="any")
    x = data.to_numpy()
    if np.any(x.var(axis=0) <= 0):
        constant = [str(c) for c, v in zip(data.columns, x.var(axis=0), strict=True) if v <= 0]
        raise ValidationError(
            "assessment.items_no_variance_enter",
            "items with no variance cannot enter a factor model: {constant}",
            constant=', '.join(constant)
        )
    fa = FactorAnalysis(n_components=1, svd_method="lapack", tol=1e-10, max_iter=20000)
    fa.fit(x)
    loadings = fa.components_[0].copy()
    # The factor's sign is arbitrary; orient it so the keyed items load positively.
    if loadings.sum() < 0:
        loadings = -loadings
    psi = fa.noise_variance_.copy()
    common = loadings.sum() ** 2
    omega = float(common / (common + psi.sum()))
    return OmegaResult(
        omega=omega,
        loadings=pd.Series(loadings, index=items.columns, name="loading"),
        uniquenesses=pd.Series(psi, index=items.columns, name="uniqueness"),
        n=len(data),
        k=data.shape[1],
    )
