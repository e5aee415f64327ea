"""Scoring: hand-worked scores, reverse keys, the missing-answer rule, prorated sums, refusals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from assessment.instruments import get_instrument
from assessment.scoring import score_responses
from errors import ValidationError

# Every score below is worked by hand; comparisons are exact up to float rounding (1e-12).
TOL = 1e-12


def test_reverse_keyed_items_become_min_plus_max_minus_answer(tiny):
    # T-02 = 2 -> 1+5-2 = 4 and T-05 = 1 -> 5.
    result = score_responses(tiny, {"T-01": 4, "T-02": 2, "T-03": 5, "T-04": 3, "T-05": 1})
    assert dict(result.keyed_responses) == {"T-01": 4, "T-02": 4, "T-03": 5, "T-04": 3, "T-05": 5}
    assert result.reverse_keyed_applied == ("T-02", "T-05")
    assert result.subscale_scores["a"] == pytest.approx((4 + 4) / 2, abs=TOL)
    assert result.subscale_scores["b"] == pytest.approx(5.0, abs=TOL)
    assert result.subscale_scores["c"] == pytest.approx((3 + 5) / 2, abs=TOL)
    # The domain pools its three items (not the two subscale means, which would give 4.5).
    assert result.domain_scores["gender_sensitivity"] == pytest.approx(13 / 3, abs=TOL)
    assert result.domain_scores["gender_equality"] == pytest.approx(4.0, abs=TOL)
    assert (result.n_answered, result.n_items) == (5, 5)


def test_score_is_missing_when_answered_share_is_below_min_answered(tiny):
    # min_answered 0.5: subscale a keeps 1 of 2 (exactly 0.5, kept); b loses its only item;
    # the gender_sensitivity domain has 1 of 3 answered (0.33 < 0.5) and is missing.
    result = score_responses(tiny, {"T-01": 2, "T-02": None, "T-04": 4, "T-05": 5})
    assert result.subscale_scores == {"a": 2.0, "b": None, "c": pytest.approx((4 + 1) / 2)}
    assert result.domain_scores["gender_sensitivity"] is None
    assert result.domain_scores["gender_equality"] == pytest.approx(2.5, abs=TOL)
    assert result.n_answered == 3
    assert result.reverse_keyed_applied == ("T-05",)


def test_gs12_needs_ten_of_twelve_answers():
    gs = get_instrument("GS-12")
    answers = {it.id: 4 for it in gs.items}
    # 4 on the four reverse-keyed items counts as 2: mean = (8*4 + 4*2) / 12 = 40/12.
    assert score_responses(gs, answers).domain_scores["gender_sensitivity"] == pytest.approx(
        40 / 12, abs=TOL
    )
    answers["GS-01"] = None
    answers["GS-03"] = None  # reverse-keyed
    # 10 answered (share 0.833 >= 0.8): (7*4 + 3*2) / 10 = 3.4
    assert score_responses(gs, answers).domain_scores["gender_sensitivity"] == pytest.approx(
        3.4, abs=TOL
    )
    answers["GS-02"] = None
    # 9 answered (share 0.75 < 0.8): missing.
    assert score_responses(gs, answers).domain_scores["gender_sensitivity"] is None


def test_sum_scoring_prorates_skipped_items():
    du = get_instrument("DU-14")
    domain = "digital_sex_crime_understanding"
    answers = {it.id: 3 for it in du.items}
    answers["DU-02"] = 1  # reverse-keyed: counts 5
    assert score_responses(du, answers).domain_scores[domain] == pytest.approx(13 * 3 + 5, abs=TOL)
    answers["DU-01"] = None
    answers["DU-03"] = None
    # 12 of 14 answered: keyed sum 11*3 + 5 = 38, prorated to 14 items: 38/12 * 14.
    assert score_responses(du, answers).domain_scores[domain] == pytest.approx(
        38 / 12 * 14, abs=1e-10
    )
    answers["DU-05"] = None  # 11 of 14 = 0.786 < 0.8
    assert score_responses(du, answers).domain_scores[domain] is None


def test_extreme_answers_reach_the_ends_of_the_score_range():
    for iid in ("GS-12", "GE-10", "DU-14", "CR-3"):
        inst = get_instrument(iid)
        lo, hi = inst.scale.min, inst.scale.max
        best = {it.id: (lo if it.reverse else hi) for it in inst.items}
        worst = {it.id: (hi if it.reverse else lo) for it in inst.items}
        for domain in inst.domains:
            assert score_responses(inst, best).domain_scores[domain] == inst.score_range(domain)[1]
            assert score_responses(inst, worst).domain_scores[domain] == inst.score_range(domain)[0]


def test_nan_counts_as_unanswered_and_integral_floats_are_accepted(tiny):
    result = score_responses(tiny, {"T-01": 4.0, "T-02": float("nan"), "T-03": np.int64(2)})
    assert dict(result.keyed_responses)["T-01"] == 4
    assert result.subscale_scores["a"] == 4.0
    assert result.n_answered == 2


def test_counselor_form_accepts_and_ignores_risk_notes():
    cr = get_instrument("CR-3")
    result = score_responses(cr, {"CR-01": 4, "CR-02": 2, "CR-03": None, "risk_notes": "메모"})
    assert result.domain_scores == {
        "engagement": 4.0,
        "responsibility_taking": 2.0,
        "victim_harm_understanding": None,
    }


@pytest.mark.parametrize("bad", [9, 0, -1, 2.5, "3", True, [3]])
def test_out_of_range_or_non_integer_answer_names_instrument_item_and_range(bad):
    gs = get_instrument("GS-12")
    with pytest.raises(ValidationError) as info:
        score_responses(gs, {"GS-04": bad})
    assert str(info.value) == f"GS-12 v1: item GS-04 must be a whole number 1..5, got {bad!r}"


def test_unknown_item_is_refused_naming_instrument_and_item():
    with pytest.raises(
        ValidationError, match=r"GS-12 v1 has no item 'GS-13'; its items are GS-01\.\.GS-12"
    ):
        score_responses(get_instrument("GS-12"), {"GS-01": 3, "GS-13": 3})


def test_table_lists_subscale_and_domain_scores(tiny):
    # One of three gender_sensitivity items answered: below 0.5, so the domain is NaN.
    table = score_responses(tiny, {"T-01": 4, "T-04": 2, "T-05": 3}).table
    assert list(table.columns) == ["level", "name", "score"]
    assert table.shape == (5, 3)
    row = table.set_index("name").loc["gender_sensitivity"]
    assert row["level"] == "domain" and math.isnan(row["score"])


def test_hand_worked_sum_instrument(make_tiny):
    inst = make_tiny(method="sum", min_answered=0.6)
    # gender_sensitivity: T-01=1, T-02=5 (->1), T-03 skipped: 2 of 3 answered (0.67 >= 0.6),
    # prorated sum (1+1)/2*3 = 3. gender_equality: T-04=2, T-05=2 (->4): sum 6.
    result = score_responses(inst, {"T-01": 1, "T-02": 5, "T-04": 2, "T-05": 2})
    assert result.domain_scores["gender_sensitivity"] == pytest.approx(3.0, abs=TOL)
    assert result.domain_scores["gender_equality"] == pytest.approx(6.0, abs=TOL)
    assert inst.score_range("gender_sensitivity") == (3.0, 15.0)
    assert inst.subscale_range("c") == (2.0, 10.0)
    # b has one item, skipped: 0 < 0.6.
    assert result.subscale_scores["b"] is None
