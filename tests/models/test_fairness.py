"""Per-group fairness metrics, checked against scikit-learn computed group by group by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import confusion_matrix, roc_auc_score
from statsmodels.stats.proportion import proportion_confint

from errors import ValidationError
from models.fairness import (
    GROUP_COLUMNS,
    group_metrics,
    hanley_mcneil_interval,
    small_group_warnings,
    wilson_interval,
)

THRESHOLD = 0.3


@pytest.fixture(scope="module")
def scored():
    rng = np.random.default_rng(17)
    n = 900
    group = rng.choice(["boys", "girls", "unknown"], n, p=[0.6, 0.3, 0.1])
    score = np.clip(rng.beta(2, 5, n) + np.where(group == "girls", 0.05, 0), 0, 1)
    y = (rng.random(n) < score).astype(int)
    weight = rng.uniform(0.5, 2.5, n)
    return pd.DataFrame({"y": y, "score": score, "group": group, "weight": weight})


def _by_hand(part: pd.DataFrame, weighted: bool) -> dict[str, float]:
    w = part["weight"] if weighted else None
    flagged = (part["score"] >= THRESHOLD).astype(int)
    tn, fp, fn, tp = confusion_matrix(part["y"], flagged, labels=[0, 1], sample_weight=w).ravel()
    return {
        "auc": roc_auc_score(part["y"], part["score"], sample_weight=w),
        "fpr": fp / (fp + tn),
        "fnr": fn / (fn + tp),
        "ppv": tp / (tp + fp),
        "base_rate": (tp + fn) / (tp + fn + fp + tn),
    }


@pytest.mark.parametrize("weighted", [False, True])
def test_group_metrics_match_sklearn_group_by_group(scored, weighted):
    table = group_metrics(
        scored["y"],
        scored["score"],
        scored["group"],
        THRESHOLD,
        sample_weight=scored["weight"] if weighted else None,
    )
    assert list(table.columns) == list(GROUP_COLUMNS)
    assert list(table.index) == ["boys", "girls", "unknown"]
    for level, part in scored.groupby("group"):
        expected = _by_hand(part, weighted)
        for column, value in expected.items():
            assert table.loc[level, column] == pytest.approx(value, rel=1e-12), column
        assert table.loc[level, "n"] == len(part)
        assert table.loc[level, "events"] == part["y"].sum()
        mean_risk = np.average(part["score"], weights=part["weight"] if weighted else None)
        assert table.loc[level, "eo_ratio"] == pytest.approx(mean_risk / expected["base_rate"])


def test_every_figure_sits_inside_its_interval(scored):
    table = group_metrics(scored["y"], scored["score"], scored["group"], THRESHOLD)
    for metric in ["base_rate", "eo_ratio", "auc", "fpr", "fnr", "ppv"]:
        assert (table[f"{metric}_ci_lower"] <= table[metric]).all(), metric
        assert (table[metric] <= table[f"{metric}_ci_upper"]).all(), metric


def test_unweighted_rate_intervals_are_wilsons(scored):
    table = group_metrics(scored["y"], scored["score"], scored["group"], THRESHOLD)
    girls = scored[scored["group"] == "girls"]
    negatives = girls[girls["y"] == 0]
    false_positives = int((negatives["score"] >= THRESHOLD).sum())
    lower, upper = proportion_confint(false_positives, len(negatives), method="wilson")
    assert table.loc["girls", "fpr_ci_lower"] == pytest.approx(lower, rel=1e-10)
    assert table.loc["girls", "fpr_ci_upper"] == pytest.approx(upper, rel=1e-10)
    assert wilson_interval(0.0, 20) == pytest.approx(proportion_confint(0, 20, method="wilson"))


def test_hanley_mcneil_standard_error_by_hand():
    # AUC 0.8 with 10 events and 20 non-events: Q1 = 0.8/1.2, Q2 = 1.28/1.8.
    q1, q2 = 0.8 / 1.2, 2 * 0.64 / 1.8
    se = np.sqrt((0.8 * 0.2 + 9 * (q1 - 0.64) + 19 * (q2 - 0.64)) / 200)
    lower, upper = hanley_mcneil_interval(0.8, 10, 20)
    assert lower == pytest.approx(0.8 - 1.959963984540054 * se, rel=1e-12)
    assert upper == pytest.approx(0.8 + 1.959963984540054 * se, rel=1e-12)


def test_undefined_figures_are_nan_not_zero():
    y = [0, 0, 0, 1, 1, 1, 0, 1]
    score = [0.1, 0.2, 0.6, 0.7, 0.2, 0.9, 0.1, 0.1]
    group = ["no events"] * 3 + ["all events"] * 3 + ["nobody flagged"] * 2
    table = group_metrics(y, score, group, 0.5)
    assert np.isnan(table.loc["no events", ["auc", "auc_ci_lower", "fnr", "eo_ratio"]]).all()
    assert table.loc["no events", "fpr"] == pytest.approx(1 / 3)
    assert np.isnan(table.loc["all events", ["auc", "fpr", "fpr_ci_upper"]]).all()
    assert table.loc["all events", "fnr"] == pytest.approx(1 / 3)
    assert np.isnan(table.loc["nobody flagged", ["ppv", "ppv_ci_lower"]]).all()
    assert table.loc["nobody flagged", "fnr"] == 1.0


def test_small_groups_get_a_plain_warning(scored):
    table = group_metrics(scored["y"], scored["score"], scored["group"], THRESHOLD)
    table.loc["unknown", "events"] = 6
    messages = [str(m) for m in small_group_warnings(table, label="sex")]
    assert messages == [
        "sex = 'unknown' has 6 events (under 10): its AUC, error rates and calibration are too "
        "uncertain to compare with other groups; read them as indicative only."
    ]


@pytest.mark.parametrize(
    ("y", "score", "group", "message"),
    [
        ([0, 2], [0.1, 0.2], ["a", "a"], "y_true must be 0 or 1"),
        ([0, 1], [0.1, np.nan], ["a", "a"], "score has 1 missing"),
        ([0, 1], [0.1, 0.2], ["a", None], "group has 1 missing labels"),
        ([0, 1], [0.1], ["a", "a"], "same length"),
    ],
)
def test_bad_inputs_are_refused_with_a_reason(y, score, group, message):
    with pytest.raises(ValidationError, match=message):
        group_metrics(y, score, group, 0.5)
