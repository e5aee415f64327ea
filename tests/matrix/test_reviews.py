"""Committee rater agreement against pingouin.intraclass_corr, and the programme summary."""

import numpy as np
import pandas as pd
import pingouin as pg
import pytest

from errors import ValidationError
from matrix.reviews import programme_summary, rater_agreement

INDICATORS = ("inclusive_language", "consent_education", "power_awareness", "victim_perspective")


def _ratings(seed=3, n_programmes=9, n_raters=4):
    rng = np.random.default_rng(seed)
    rows = []
    quality = rng.normal(3, 1, n_programmes)
    severity = rng.normal(0, 0.4, n_raters)
    for p in range(n_programmes):
        for r in range(n_raters):
            for i, ind in enumerate(INDICATORS):
                s = np.clip(np.rint(quality[p] + severity[r] + 0.2 * i + rng.normal(0, 0.6)), 1, 5)
                rows.append(
                    {"programme": f"P{p:02d}", "rater": f"R{r}", "indicator": ind, "score": int(s)}
                )
    return pd.DataFrame(rows)


@pytest.fixture(autouse=True)
def unrounded_pingouin_ci():
    # pingouin rounds CI95 to 2 decimals by default; compare at full precision
    old = pg.options["round.column.CI95"]
    pg.options["round.column.CI95"] = None
    yield
    pg.options["round.column.CI95"] = old


@pytest.fixture(scope="module")
def ratings():
    return _ratings()


@pytest.mark.parametrize("indicator", INDICATORS)
def test_icc2_matches_pingouin_absolute_agreement(ratings, indicator):
    ours = rater_agreement(ratings, INDICATORS).set_index(["indicator", "type"])
    sub = ratings[ratings.indicator == indicator]
    ref = pg.intraclass_corr(sub, targets="programme", raters="rater", ratings="score").set_index(
        "Type"
    )
    for ours_type, ref_type in (("ICC(2,1)", "ICC(A,1)"), ("ICC(2,k)", "ICC(A,k)")):
        row = ours.loc[(indicator, ours_type)]
        assert row["icc"] == pytest.approx(ref.loc[ref_type, "ICC"], abs=1e-8)
        assert row["ci_lower"] == pytest.approx(ref.loc[ref_type, "CI95"][0], abs=1e-8)
        assert row["ci_upper"] == pytest.approx(ref.loc[ref_type, "CI95"][1], abs=1e-8)
        assert row["F"] == pytest.approx(ref.loc[ref_type, "F"], abs=1e-8)
        assert row["p"] == pytest.approx(ref.loc[ref_type, "pval"], abs=1e-8)
        assert row["df2"] == ref.loc[ref_type, "df2"]


def test_overall_row_matches_pingouin_with_programme_indicator_targets(ratings):
    ours = rater_agreement(ratings, INDICATORS).set_index(["indicator", "type"])
    data = ratings.assign(target=ratings.programme + "|" + ratings.indicator)
    ref = pg.intraclass_corr(data, targets="target", raters="rater", ratings="score").set_index(
        "Type"
    )
    assert ours.loc[("(all)", "ICC(2,1)"), "icc"] == pytest.approx(
        ref.loc["ICC(A,1)", "ICC"], abs=1e-8
    )
    assert ours.loc[("(all)", "ICC(2,1)"), "n_programmes"] == 9 * 4


def test_incomplete_programmes_are_dropped_like_pingouin_omit(ratings):
    data = ratings.drop(index=ratings.index[(ratings.programme == "P03") & (ratings.rater == "R1")])
    ind = INDICATORS[0]
    ours = rater_agreement(data, INDICATORS).set_index(["indicator", "type"])
    ref = pg.intraclass_corr(
        data[data.indicator == ind],
        targets="programme",
        raters="rater",
        ratings="score",
        nan_policy="omit",
    ).set_index("Type")
    assert ours.loc[(ind, "ICC(2,1)"), "icc"] == pytest.approx(ref.loc["ICC(A,1)", "ICC"], abs=1e-8)
    assert ours.loc[(ind, "ICC(2,1)"), "n_programmes"] == 8


def test_score_outside_rubric_is_refused(ratings):
    data = ratings.copy()
    data.loc[7, "score"] = 9
    with pytest.raises(ValidationError, match=r"must be whole numbers 1\.\.5"):
        rater_agreement(data, INDICATORS)


def test_unknown_indicator_and_duplicates_are_refused(ratings):
    with pytest.raises(ValidationError, match="unknown indicator"):
        rater_agreement(ratings, INDICATORS[:3])
    with pytest.raises(ValidationError, match="more than once"):
        rater_agreement(pd.concat([ratings, ratings.iloc[[0]]]), INDICATORS)


def test_too_few_raters_is_refused(ratings):
    with pytest.raises(ValidationError, match="at least 2 programmes"):
        rater_agreement(ratings[ratings.rater == "R0"], INDICATORS)


def test_programme_summary_means_and_rater_counts(ratings):
    data = ratings[~((ratings.programme == "P00") & (ratings.indicator == INDICATORS[3]))]
    out = programme_summary(data, INDICATORS).set_index(["programme", "indicator"])
    expect = ratings[(ratings.programme == "P01") & (ratings.indicator == INDICATORS[1])]["score"]
    assert out.loc[("P01", INDICATORS[1]), "mean"] == pytest.approx(expect.mean(), abs=1e-12)
    assert out.loc[("P01", INDICATORS[1]), "n_raters"] == 4
    assert out.loc[("P00", INDICATORS[3]), "n_raters"] == 0
    assert np.isnan(out.loc[("P00", INDICATORS[3]), "mean"])
    assert len(out) == 9 * 4


def test_icc2k_interval_is_ordered_even_when_raters_disagree_wildly():
    import math

    from matrix.reviews import _spearman_brown

    # Three raters who disagree: ICC(2,1)'s lower bound falls below -1/(k-1) = -0.5.
    assert _spearman_brown(-0.6, 3) == -math.inf
    assert _spearman_brown(0.2, 3) == pytest.approx(3 * 0.2 / (1 + 2 * 0.2))
    lo, hi = _spearman_brown(-0.6, 3), _spearman_brown(0.4, 3)
    assert lo < hi
