"""Effect by audience against scipy and statsmodels on the same data, and the synthetic truth recovered."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats

from demo import prevention as synthetic
from prevention import effects


@pytest.fixture(scope="module")
def world():
    return synthetic.generate(classes_per_year=100, seed=17)


@pytest.fixture(scope="module")
def frame(world):
    return synthetic.effect_frame(world)


@pytest.fixture(scope="module")
def classes(frame):
    return effects.class_changes(frame)


def _sheet(delivery, time, code, score, audience="middle"):
    return {"delivery": delivery, "programme": "P v1", "audience": audience, "format": "lecture",
            "time": time, "pair_code": code, "score": score}


def test_a_paired_class_changes_by_its_matched_codes_and_an_unpaired_one_by_its_means():
    sheets = pd.DataFrame([
        _sheet(1, "pre", "a", 40.0), _sheet(1, "pre", "b", 60.0), _sheet(1, "pre", "c", 10.0),
        _sheet(1, "post", "a", 50.0), _sheet(1, "post", "b", 80.0),     # c missed the post
        _sheet(2, "pre", None, 40.0), _sheet(2, "pre", None, 50.0),
        _sheet(2, "post", None, 70.0),
        _sheet(3, "pre", None, 40.0),                                     # no post: no change
    ])
    out = effects.class_changes(sheets).set_index("delivery")
    assert list(out.index) == [1, 2]
    assert out.loc[1, "paired"] and out.loc[1, "n_pairs"] == 2
    assert out.loc[1, "change"] == pytest.approx(15.0)             # (10 + 20) / 2, not 70 - 36.7
    assert not out.loc[2, "paired"] and out.loc[2, "change"] == pytest.approx(70.0 - 45.0)


def test_the_change_by_audience_is_scipys_one_sample_t_over_classes(classes):
    table = effects.change_by(classes, ["audience"]).set_index("audience")
    for audience, part in classes.groupby("audience"):
        ref = stats.ttest_1samp(part["change"], 0.0)
        lo, hi = ref.confidence_interval(0.95)
        row = table.loc[audience]
        assert row["change"] == pytest.approx(part["change"].mean())
        assert (row["ci_lower"], row["ci_upper"]) == (pytest.approx(lo), pytest.approx(hi))
        assert row["t"] == pytest.approx(ref.statistic) and row["p"] == pytest.approx(ref.pvalue)
        assert row["n_classes"] == len(part) and row["n"] == part["present"].sum()
    assert list(table.index) == [a for a in synthetic.vocab.AUDIENCES if a in table.index]


def test_the_mixed_model_is_statsmodels_mixedlm_with_the_formula_on_the_same_data(frame):
    ours = effects.fit_audience_model(frame)
    data = frame.copy()
    ref = smf.mixedlm("score ~ C(audience, Treatment('kindergarten')) * C(time, Treatment('pre'))",
                      data, groups=data["delivery"]).fit(reml=True)
    assert ours.reference == "kindergarten" and ours.converged
    ref_params = ref.fe_params.rename(lambda n: n.replace(
        "C(audience, Treatment('kindergarten'))", "C(audience)").replace(
        "C(time, Treatment('pre'))", "C(time)"))
    got = ours.summary.set_index("term")
    for term, value in ref_params.items():
        assert got.loc[term, "coef"] == pytest.approx(value, rel=1e-4, abs=1e-4), term
        assert got.loc[term, "se"] == pytest.approx(
            ref.bse_fe.iloc[ref_params.index.get_loc(term)], rel=1e-3), term
    # The joint test of the interaction is statsmodels' Wald test of the same terms.
    names = list(ref.fe_params.index)
    inter = [i for i, n in enumerate(names) if ":" in n]
    contrast = np.zeros((len(inter), len(ref.params)))
    for row, col in enumerate(inter):
        contrast[row, col] = 1.0
    wald = ref.wald_test(contrast, scalar=True)
    assert ours.interaction_chi2 == pytest.approx(float(wald.statistic), rel=1e-3)
    assert ours.interaction_df == len(inter) == 6


def test_the_true_effects_are_recovered_inside_their_intervals(world, frame, classes):
    truth = world.true_change.set_index("delivery")["change"]
    # Twelve audience x format cells: Bonferroni-adjusted intervals, so that one of twelve 95%
    # intervals missing by chance does not fail the check of the generator and the estimator.
    by_cell = effects.change_by(classes, ["audience", "format"], ci=1 - 0.05 / 12)
    assert len(by_cell) == 12
    for row in by_cell.itertuples():
        expected = synthetic.true_change(row.format, row.audience)
        assert row.ci_lower <= expected <= row.ci_upper, (row.audience, row.format)
    # The classes' own true changes average inside each audience's interval too.
    by_audience = effects.change_by(classes, ["audience"]).set_index("audience")
    for audience, part in classes.groupby("audience"):
        expected = truth.loc[part["delivery"]].mean()
        assert by_audience.loc[audience, "ci_lower"] <= expected <= by_audience.loc[audience, "ci_upper"]
    # Largest for elementary students: the two largest estimates, and for the same programme
    # (the lecture, given to every audience) beyond chance.
    top_two = by_audience["change"].nlargest(2).index
    assert set(top_two) == {"elementary_lower", "elementary_upper"}
    lecture = classes[classes["format"] == "lecture"]
    change = {a: part["change"].to_numpy() for a, part in lecture.groupby("audience")}
    for young in ("elementary_lower", "elementary_upper"):
        for other in set(change) - {"elementary_lower", "elementary_upper"}:
            diff = effects.compare_changes(change[young], change[other])
            assert diff["ci_lower"] > 0, (young, other, diff)
    model = effects.fit_audience_model(frame)
    assert model.audiences_differ and model.verdict().code == "prevention.audiences_differ"


def test_the_puppet_show_beats_the_lecture_for_kindergartens_by_its_true_margin(classes):
    kinder = classes[classes["audience"] == "kindergarten"]
    puppet = kinder[kinder["format"] == "puppet_show"]["change"].to_numpy()
    lecture = kinder[kinder["format"] == "lecture"]["change"].to_numpy()
    got = effects.compare_changes(puppet, lecture)
    ref = stats.ttest_ind(puppet, lecture, equal_var=False)
    lo, hi = ref.confidence_interval(0.95)
    assert (got["ci_lower"], got["ci_upper"]) == (pytest.approx(lo), pytest.approx(hi))
    assert got["p"] == pytest.approx(ref.pvalue) and got["df"] == pytest.approx(ref.df)
    margin = synthetic.TRUE_EFFECTS["format_bonus"]["puppet_show"]
    assert got["ci_lower"] <= margin <= got["ci_upper"] and got["ci_lower"] > 0


def test_audiences_that_change_alike_are_said_not_to_differ_beyond_chance():
    rng = np.random.default_rng(5)
    rows = []
    for delivery in range(24):
        audience = ("middle", "high")[delivery % 2]
        level = rng.normal(50, 5)
        for _child in range(20):
            base = level + rng.normal(0, 10)
            rows.append(_sheet(delivery, "pre", None, base + rng.normal(0, 5), audience))
            rows.append(_sheet(delivery, "post", None, base + 6 + rng.normal(0, 5), audience))
    model = effects.fit_audience_model(pd.DataFrame(rows))
    assert model.interaction_df == 1 and model.interaction_p > 0.05
    assert not model.audiences_differ
    assert model.verdict().code == "prevention.audiences_do_not_differ"
    assert "do not differ beyond chance" in str(model.verdict())


def test_satisfaction_is_summarised_apart_from_the_change(frame):
    sat = effects.satisfaction_by(frame).set_index("audience")
    assert "kindergarten" not in sat.index  # the group checklist asks no satisfaction
    post = frame[(frame["time"] == "post") & frame["satisfaction"].notna()]
    for audience, part in post.groupby("audience"):
        means = part.groupby("delivery")["satisfaction"].mean()
        assert sat.loc[audience, "mean"] == pytest.approx(means.mean())
        assert sat.loc[audience, "n"] == len(part)
    table = effects.change_by(effects.class_changes(frame))
    assert "satisfaction" not in table.columns


def test_the_forest_plot_has_one_row_per_audience_with_its_interval(classes):
    table = effects.change_by(classes)
    fig = effects.forest_plot(table)
    assert list(fig.data[0].y) == list(table["audience"])
    assert list(fig.data[0].x) == pytest.approx(list(table["change"]))
