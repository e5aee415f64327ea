"""Fairness of a risk score: discrimination and error rates per group, each with its interval."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import roc_auc_score

from errors import Message, ValidationError

MIN_GROUP_EVENTS = 10

GROUP_COLUMNS = (
    "n",
    "events",
    "base_rate",
    "base_rate_ci_lower",
    "base_rate_ci_upper",
    "mean_risk",
    "eo_ratio",
    "eo_ratio_ci_lower",
    "eo_ratio_ci_upper",
    "auc",
    "auc_ci_lower",
    "auc_ci_upper",
    "fpr",
    "fpr_ci_lower",
    "fpr_ci_upper",
    "fnr",
    "fnr_ci_lower",
    "fnr_ci_upper",
    "ppv",
    "ppv_ci_lower",
    "ppv_ci_upper",
)


def wilson_interval(proportion: float, n_effective: float, ci: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion; `n_effective` may be a Kish effective size.

    Reference: statsmodels.stats.proportion.proportion_confint(count, n, method="wilson").
    NaN in, or no observations, gives (nan, nan).
    """
    if not np.isfinite(proportion) or not n_effective > 0:
        return (float("nan"), float("nan"))
    z = stats.norm.ppf(0.5 + ci / 2)
    z2n = z * z / n_effective
    centre = (proportion + z2n / 2) / (1 + z2n)
    half = (
        z
        * np.sqrt(proportion * (1 - proportion) / n_effective + z2n / (4 * n_effective))
        / (1 + z2n)
    )
    return (float(max(0.0, centre - half)), float(min(1.0, centre + half)))


def hanley_mcneil_interval(
    auc: float, n_events: float, n_non_events: float, ci: float = 0.95
) -> tuple[float, float]:
    """Normal interval for an AUC with the Hanley & McNeil (1982) standard error, clipped to [0, 1].

    Closed form so that a table of many small groups stays quick and reproducible; it is
    conservative next to DeLong for mid-range AUCs and should be read as approximate for
    groups with few events (the table warns about those).
    """
    if not np.isfinite(auc) or not (n_events > 0 and n_non_events > 0):
        return (float("nan"), float("nan"))
    q1 = auc / (2 - auc)
    q2 = 2 * auc * auc / (1 + auc)
    variance = (
        auc * (1 - auc) + (n_events - 1) * (q1 - auc * auc) + (n_non_events - 1) * (q2 - auc * auc)
    ) / (n_events * n_non_events)
    half = stats.norm.ppf(0.5 + ci / 2) * np.sqrt(max(variance, 0.0))
    return (float(max(0.0, auc - half)), float(min(1.0, auc + half)))


def _kish(weights: np.ndarray) -> float:
    total = weights.sum()
    squares = np.square(weights).sum()
    return float(total * total / squares) if squares > 0 else 0.0


def _weighted_rate(hit: np.ndarray, weights: np.ndarray, ci: float) -> tuple[float, float, float]:
    """Weighted share of `hit` among the rows with weight, its Wilson interval on Kish's n."""
    total = weights.sum()
    if total <= 0:
        return (float("nan"), float("nan"), float("nan"))
    rate = float((weights * hit).sum() / total)
    return (rate, *wilson_interval(rate, _kish(weights), ci))


def _check_inputs(
    y_true: Sequence[float] | np.ndarray | pd.Series,
    score: Sequence[float] | np.ndarray | pd.Series,
    group: Sequence[object] | np.ndarray | pd.Series,
    sample_weight: Sequence[float] | np.ndarray | pd.Series | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=float)
    s = np.asarray(score, dtype=float)
    g = pd.Series(np.asarray(group, dtype=object))
    n = len(y)
    if not (len(s) == n and len(g) == n):
        raise ValidationError(
            "models.y_true_score_group",
            "y_true, score and group must have the same length, got {n}, {n_s} and {n_g}",
            n=n, n_s=len(s), n_g=len(g)
        )
    if n == 0:
        raise ValidationError("models.y_true_empty_fairness",
                              "y_true is empty: fairness metrics need at least one participant")
    bad = ~np.isin(y, (0.0, 1.0))
    if bad.any():
        raise ValidationError(
            "models.y_true_other_values",
            "y_true must be 0 or 1, got {sum} other values (first at position "
            "{first_flatnonzero})",
            sum=int(bad.sum()), first_flatnonzero=int(np.flatnonzero(bad)[0])
        )
    if not np.isfinite(s).all():
        raise ValidationError(
            "models.score_missing_infinite_values",
            "score has {sum} missing or infinite values; score every participant before "
            "comparing groups",
            sum=int((~np.isfinite(s)).sum())
        )
    if g.isna().any():
        raise ValidationError(
            "models.group_missing_labels_give",
            "group has {sum} missing labels; give them an explicit label such as 'unknown' so "
            "they are counted rather than silently dropped",
            sum=int(g.isna().sum())
        )
    if sample_weight is None:
        w = np.ones(n)
    else:
        w = np.asarray(sample_weight, dtype=float)
        if len(w) != n:
            raise ValidationError("models.sample_weight_values_expected",
                                  "sample_weight has {n_w} values, expected {n}",
                                  n_w=len(w), n=n)
        if not np.isfinite(w).all() or (w < 0).any():
            raise ValidationError("models.sample_weight_finite",
                                  "sample_weight must be finite and >= 0")
    return y, s, g.to_numpy(), w


def group_metrics(
    y_true: Sequence[float] | np.ndarray | pd.Series,
    score: Sequence[float] | np.ndarray | pd.Series,
    group: Sequence[object] | np.ndarray | pd.Series,
    threshold: float,
    *,
    sample_weight: Sequence[float] | np.ndarray | pd.Series | None = None,
    ci: float = 0.95,
) -> pd.DataFrame:
    """Per-group discrimination, calibration-in-the-large and error rates of a risk score.

    A participant is flagged when `score >= threshold`. Returns a DataFrame indexed by group
    (sorted) with the columns in `GROUP_COLUMNS`:

    - `n`: rows with positive weight; `events`: of those, rows with y_true = 1 (unweighted count,
      the figure that decides whether a group's numbers can be trusted);
    - `base_rate` (observed event rate), `mean_risk`, `eo_ratio` = mean_risk / base_rate;
    - `auc` (sklearn.metrics.roc_auc_score within the group), `fpr` = FP / (FP + TN),
      `fnr` = FN / (FN + TP), `ppv` = TP / (TP + FP), as in sklearn.metrics.confusion_matrix.

    With `sample_weight` (IPCW weights from censored follow-up) every count becomes a weighted
    sum. Intervals: Wilson for proportions on Kish's effective n, Hanley-McNeil for the AUC,
    and for `eo_ratio` the mean risk divided by the base-rate Wilson bounds (the expected count
    is treated as fixed). A figure that is undefined for a group is NaN, with NaN bounds:
    the AUC and FNR without events, the AUC and FPR without non-events, the PPV when nobody is
    flagged, `eo_ratio` when the base rate is 0.
    """
    if not np.isfinite(threshold):
        raise ValidationError("models.threshold_finite_number",
                              "threshold must be a finite number, got {threshold!r}",
                              threshold=threshold)
    if not 0 < ci < 1:
        raise ValidationError("models.ci_between", "ci must be between 0 and 1, got {ci}", ci=ci)
    y, s, g, w = _check_inputs(y_true, score, group, sample_weight)
    flagged = (s >= threshold).astype(float)
    rows = {}
    for level in sorted(pd.unique(g), key=lambda v: (str(type(v)), v)):
        member = (g == level) & (w > 0)
        yy, ss, ww, ff = y[member], s[member], w[member], flagged[member]
        pos, neg = yy == 1, yy == 0
        base_rate, base_lo, base_hi = _weighted_rate(yy, ww, ci)
        mean_risk = float(np.average(ss, weights=ww)) if ww.sum() > 0 else float("nan")
        if base_rate > 0:
            eo = mean_risk / base_rate
            eo_lo = mean_risk / base_hi
            eo_hi = mean_risk / base_lo if base_lo > 0 else float("inf")
        else:
            eo = eo_lo = eo_hi = float("nan")
        if pos.any() and neg.any():
            auc = float(roc_auc_score(yy, ss, sample_weight=ww))
            auc_lo, auc_hi = hanley_mcneil_interval(auc, _kish(ww[pos]), _kish(ww[neg]), ci)
        else:
            auc = auc_lo = auc_hi = float("nan")
        fpr = _weighted_rate(ff[neg], ww[neg], ci)
        fnr = _weighted_rate(1 - ff[pos], ww[pos], ci)
        ppv = _weighted_rate(yy[ff == 1], ww[ff == 1], ci)
        rows[level] = (
            int(member.sum()),
            int(pos.sum()),
            base_rate,
            base_lo,
            base_hi,
            mean_risk,
            eo,
            eo_lo,
            eo_hi,
            auc,
            auc_lo,
            auc_hi,
            *fpr,
            *fnr,
            *ppv,
        )
    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(GROUP_COLUMNS))
    table.index.name = "group"
    return table.astype({"n": "int64", "events": "int64"})


def small_group_warnings(
    table: pd.DataFrame, *, label: str = "group", min_events: int = MIN_GROUP_EVENTS
) -> list[Message]:
    """Plain-language warnings for groups of a `group_metrics` table with too few events."""
    messages = []
    for level, row in table.iterrows():
        if row["events"] < min_events:
            messages.append(Message(
                "models.small_group",
                "{label} = {level!r} has {events} events (under {min_events}): its AUC, error "
                "rates and calibration are too uncertain to compare with other groups; read them "
                "as indicative only.",
                label=label, level=level, events=int(row["events"]), min_events=min_events))
    return messages
