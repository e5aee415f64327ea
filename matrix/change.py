"""Individual change between two steps: Reliable Change Index and clinical significance."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from errors import ValidationError

RECOVERED = "recovered"
IMPROVED = "improved"
UNCHANGED = "unchanged"
DETERIORATED = "deteriorated"
CHANGE_LABELS = (RECOVERED, IMPROVED, UNCHANGED, DETERIORATED)


@dataclass(frozen=True)
class ChangeNorms:
    """What one domain's scores need for RCI and clinical significance.

    `sd` and `reliability` come from the instrument's norm sample (SD of pre scores and test-retest
    or internal-consistency reliability), `cutoff` is the Jacobson-Truax cut-off between the
    dysfunctional and functional range (None: no "recovered" label is given).
    """

    sd: float
    reliability: float
    cutoff: float | None = None
    higher_is_better: bool = True

    def __post_init__(self) -> None:
        _check_sd_reliability(self.sd, self.reliability)


def _check_sd_reliability(sd: float, reliability: float) -> None:
    if not _is_finite_number(sd) or sd <= 0:
        raise ValidationError("matrix.sd_positive_number_norm",
                              "sd must be a positive number (the norm sample's SD), got {sd!r}",
                              sd=sd)
    if not _is_finite_number(reliability) or not 0 <= reliability < 1:
        raise ValidationError(
            "matrix.reliability_cronbach_alpha",
            "reliability must be in [0, 1) (e.g. Cronbach's alpha 0.85), got {reliability!r}",
            reliability=reliability
        )


def _is_finite_number(x: Any) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _to_float_array(x: Any, name: str) -> np.ndarray:
    if isinstance(x, pd.Series):
        x = x.to_numpy(dtype=float, na_value=np.nan)
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValidationError("matrix.numbers_missing_none_nan",
                              "{name} must be numbers (missing as None/NaN): {exc}",
                              name=name, exc=exc) from None
    return arr


def _paired_inputs(pre: Any, post: Any) -> tuple[np.ndarray, np.ndarray, pd.Index | None, bool]:
    """Both sides as float arrays, plus the index to give back when a Series came in."""
    index = None
    for side in (pre, post):
        if isinstance(side, pd.Series):
            if index is None:
                index = side.index
            elif not side.index.equals(index):
                raise ValidationError(
                    "matrix.pre_post_same_index",
                    "pre and post must have the same index (one row per participant in the same "
                    "order); align them first, e.g. post = post.reindex(pre.index)"
                )
    scalar = np.ndim(pre) == 0 and np.ndim(post) == 0
    a = _to_float_array(pre, "pre")
    b = _to_float_array(post, "post")
    if a.shape != b.shape and a.ndim and b.ndim:
        raise ValidationError(
            "matrix.pre_post_same_length",
            "pre and post must have the same length, got {a_shape} and {b_shape}",
            a_shape=a.shape, b_shape=b.shape
        )
    return a, b, index, scalar


def standard_error_of_measurement(sd: float, reliability: float) -> float:
    """SE = sd * sqrt(1 - r) (Jacobson & Truax, 1991)."""
    _check_sd_reliability(sd, reliability)
    return float(sd) * math.sqrt(1.0 - float(reliability))


def standard_error_of_difference(sd: float, reliability: float) -> float:
    """S_diff = sqrt(2) * SE: the spread of a difference of two scores with equal error."""
    return math.sqrt(2.0) * standard_error_of_measurement(sd, reliability)


def reliable_change_index(pre: Any, post: Any, sd: float, reliability: float) -> Any:
    """RCI = (post - pre) / S_diff, with S_diff = sqrt(2) * sd * sqrt(1 - reliability).

    Works on scalars, numpy arrays and pandas Series (a Series comes back with the same index);
    a missing score on either side gives NaN. The sign follows the score: positive means the
    score went up, whatever direction is better.
    """
    s_diff = standard_error_of_difference(sd, reliability)
    a, b, index, scalar = _paired_inputs(pre, post)
    rci = (b - a) / s_diff
    if scalar:
        return float(rci)
    if index is not None:
        return pd.Series(rci, index=index, name="rci")
    return rci


def classify_change(
    pre: Any,
    post: Any,
    sd: float,
    reliability: float,
    cutoff: float | None,
    higher_is_better: bool = True,
    z: float = 1.96,
) -> Any:
    """Label each pair "recovered", "improved", "unchanged" or "deteriorated" (Jacobson-Truax).

    - reliable change means |RCI| > z (strictly; 1.96 is the two-sided 5% criterion);
    - "recovered": a reliable improvement that crossed the cut-off into the functional range, i.e.
      pre was dysfunctional (below the cut-off when higher is better) and post is functional
      (at or above it). A person already functional at pre who improves reliably is "improved";
    - "deteriorated": a reliable change in the worse direction, whatever the cut-off says;
    - a missing score on either side stays missing (None).

    `cutoff=None` gives no "recovered" label (no norm for the functional range).
    Returns a str/None for scalars, an object array for arrays, a Series for a Series.
    """
    if not _is_finite_number(z) or z <= 0:
        raise ValidationError("matrix.z_positive_critical_value",
                              "z must be a positive critical value such as 1.96, got {z!r}",
                              z=z)
    if cutoff is not None and not _is_finite_number(cutoff):
        raise ValidationError("matrix.cutoff_number_none",
                              "cutoff must be a number or None, got {cutoff!r}",
                              cutoff=cutoff)
    rci = reliable_change_index(pre, post, sd, reliability)
    a, b, index, scalar = _paired_inputs(pre, post)
    rci_arr = np.atleast_1d(np.asarray(rci, dtype=float))
    a, b = np.atleast_1d(a), np.atleast_1d(b)
    sign = 1.0 if higher_is_better else -1.0
    better = sign * rci_arr > z
    worse = sign * rci_arr < -z
    if cutoff is None:
        crossed = np.zeros_like(better)
    elif higher_is_better:
        crossed = (a < cutoff) & (b >= cutoff)
    else:
        crossed = (a > cutoff) & (b <= cutoff)
    labels = np.full(rci_arr.shape, UNCHANGED, dtype=object)
    labels[better] = IMPROVED
    labels[better & crossed] = RECOVERED
    labels[worse] = DETERIORATED
    labels[np.isnan(rci_arr)] = None
    if scalar:
        return labels[0]
    if index is not None:
        return pd.Series(labels, index=index, name="change", dtype=object)
    return labels


def jacobson_truax_cutoff(
    mean_dysfunctional: float,
    sd_dysfunctional: float,
    mean_functional: float,
    sd_functional: float,
) -> float:
    """Criterion c: the point between two populations weighted by their SDs.

    c = (sd_d * mean_f + sd_f * mean_d) / (sd_d + sd_f) (Jacobson & Truax, 1991), the score equally
    likely (in SD units) to belong to either population. It lies between the two means whatever the
    direction of the scale.
    """
    for name, value in (
        ("mean_dysfunctional", mean_dysfunctional),
        ("mean_functional", mean_functional),
    ):
        if not _is_finite_number(value):
            raise ValidationError("matrix.number",
                                  "{name} must be a number, got {value!r}",
                                  name=name, value=value)
    for name, value in (("sd_dysfunctional", sd_dysfunctional), ("sd_functional", sd_functional)):
        if not _is_finite_number(value) or value <= 0:
            raise ValidationError("matrix.positive_number",
                                  "{name} must be a positive number, got {value!r}",
                                  name=name, value=value)
    return (sd_dysfunctional * mean_functional + sd_functional * mean_dysfunctional) / (
        sd_dysfunctional + sd_functional
    )
