"""Reliable Change Index and Jacobson-Truax classification, against hand-worked numbers."""

import math

import numpy as np
import pandas as pd
import pytest

from errors import ValidationError
from matrix.change import (
    ChangeNorms,
    classify_change,
    jacobson_truax_cutoff,
    reliable_change_index,
    standard_error_of_difference,
    standard_error_of_measurement,
)

# Worked example used throughout: sd = 10, r = 0.84
#   SE     = 10 * sqrt(1 - 0.84) = 10 * 0.4 = 4
#   S_diff = sqrt(2) * 4 = 5.656854...
#   pre 20 -> post 32: RCI = 12 / 5.656854 = 2.121320 (> 1.96: reliable)
#   pre 20 -> post 30: RCI = 10 / 5.656854 = 1.767767 (< 1.96: not reliable)
SD, R = 10.0, 0.84
S_DIFF = math.sqrt(2) * 4.0


def test_standard_errors_follow_jacobson_truax():
    assert standard_error_of_measurement(SD, R) == pytest.approx(4.0, abs=1e-12)
    assert standard_error_of_difference(SD, R) == pytest.approx(5.656854249, abs=1e-9)


def test_rci_scalar_matches_hand_computation():
    assert reliable_change_index(20, 32, SD, R) == pytest.approx(12 / S_DIFF, abs=1e-12)
    assert reliable_change_index(20, 32, SD, R) == pytest.approx(2.1213203436, abs=1e-9)
    assert reliable_change_index(32, 20, SD, R) == pytest.approx(-2.1213203436, abs=1e-9)


def test_rci_with_zero_reliability_uses_sqrt2_sd():
    # r = 0: SE = sd = 10, S_diff = 14.142136; 20 -> 34.142136 is exactly 1 S_diff
    assert reliable_change_index(20, 20 + 10 * math.sqrt(2), SD, 0.0) == pytest.approx(
        1.0, abs=1e-12
    )


def test_rci_array_propagates_nan():
    out = reliable_change_index(np.array([20, np.nan, 20]), np.array([32, 30, 20]), SD, R)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, [12 / S_DIFF, np.nan, 0.0], atol=1e-12)


def test_rci_series_keeps_index_and_nan():
    idx = pd.Index(["p3", "p1", "p7"], name="participant")
    pre = pd.Series([20.0, None, 30.0], index=idx)
    post = pd.Series([32.0, 25.0, 24.0], index=idx)
    out = reliable_change_index(pre, post, SD, R)
    assert isinstance(out, pd.Series)
    assert out.index.equals(idx)
    assert out["p3"] == pytest.approx(2.1213203436, abs=1e-9)
    assert np.isnan(out["p1"])
    assert out["p7"] == pytest.approx(-6 / S_DIFF, abs=1e-12)


def test_rci_refuses_misaligned_series():
    with pytest.raises(ValidationError, match="same index"):
        reliable_change_index(pd.Series([1.0], index=["a"]), pd.Series([2.0], index=["b"]), SD, R)


@pytest.mark.parametrize(
    ("sd", "reliability", "argument"),
    [
        (0, 0.8, "sd"),
        (-1, 0.8, "sd"),
        (10, 1.0, "reliability"),
        (10, -0.1, "reliability"),
        (10, float("nan"), "reliability"),
        (float("nan"), 0.8, "sd"),
    ],
)
def test_invalid_sd_or_reliability_is_refused_by_name(sd, reliability, argument):
    with pytest.raises(ValidationError, match=f"^{argument} must"):
        reliable_change_index(1, 2, sd, reliability)
    with pytest.raises(ValidationError, match=f"^{argument} must"):
        ChangeNorms(sd=sd, reliability=reliability)


# Cut-off 30, higher is better. Reliable change needs |post - pre| > 1.96 * 5.656854 = 11.087434
@pytest.mark.parametrize(
    ("pre", "post", "label"),
    [
        (20, 32, "recovered"),  # +12 reliable, 20 < 30 <= 32: crossed into functional range
        (10, 22, "improved"),  # +12 reliable, still below 30
        (31, 43, "improved"),  # +12 reliable, already functional at pre: nothing to cross
        (20, 30, "unchanged"),  # +10 not reliable, though it reaches the cut-off
        (20, 31.087, "unchanged"),  # +11.087 < 11.087434: just short
        (20, 31.088, "recovered"),  # +11.088 > 11.087434: just over
        (32, 20, "deteriorated"),  # -12 reliable
        (50, 38, "deteriorated"),  # -12 reliable, still functional: still deteriorated
        (None, 20, None),
        (20, float("nan"), None),
    ],
)
def test_classify_change_higher_is_better(pre, post, label):
    assert classify_change(pre, post, SD, R, cutoff=30) == label


@pytest.mark.parametrize(
    ("pre", "post", "label"),
    [
        (40, 28, "recovered"),  # -12 reliable improvement, 40 > 30 >= 28
        (60, 48, "improved"),  # -12 reliable, still above cut-off (dysfunctional)
        (28, 40, "deteriorated"),  # +12 reliable worsening
        (40, 32, "unchanged"),
    ],
)
def test_classify_change_lower_is_better(pre, post, label):
    assert classify_change(pre, post, SD, R, cutoff=30, higher_is_better=False) == label


def test_classify_change_without_cutoff_never_says_recovered():
    assert classify_change(20, 32, SD, R, cutoff=None) == "improved"


def test_classify_change_z_is_a_parameter():
    # RCI = 2.1213: reliable at 1.96, not at 2.58 (1% criterion)
    assert classify_change(20, 32, SD, R, cutoff=30, z=2.58) == "unchanged"


def test_classify_change_series_in_series_out():
    idx = pd.Index([11, 12, 13, 14])
    pre = pd.Series([20.0, 10.0, np.nan, 32.0], index=idx)
    post = pd.Series([32.0, 22.0, 30.0, 20.0], index=idx)
    out = classify_change(pre, post, SD, R, cutoff=30)
    assert out.index.equals(idx)
    assert out.tolist() == ["recovered", "improved", None, "deteriorated"]


def test_jacobson_truax_cutoff_c_hand_worked():
    # dysfunctional mean 20 (sd 5), functional mean 40 (sd 10):
    # c = (5 * 40 + 10 * 20) / (5 + 10) = 400 / 15 = 26.666...
    assert jacobson_truax_cutoff(20, 5, 40, 10) == pytest.approx(400 / 15, abs=1e-12)
    # equal SDs: the midpoint
    assert jacobson_truax_cutoff(20, 8, 40, 8) == pytest.approx(30.0, abs=1e-12)


def test_jacobson_truax_cutoff_refuses_bad_sd():
    with pytest.raises(ValidationError, match="sd_functional"):
        jacobson_truax_cutoff(20, 5, 40, 0)
