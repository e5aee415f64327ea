"""Paired change, outcomes table and three-step mixed model vs scipy, pingouin, statsmodels."""

import math

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
import statsmodels.formula.api as smf
from scipy import stats

from errors import ValidationError
from matrix.change import ChangeNorms
from matrix.outcomes import STEPS, outcomes_table, paired_change, three_step_model


@pytest.fixture(scope="module")
def pairs():
    rng = np.random.default_rng(20240601)
    pre = rng.normal(50, 10, 25)
    post = pre + rng.normal(4, 7, 25)
    return pre, post


def test_paired_change_matches_scipy_ttest_rel_and_wilcoxon(pairs):
    pre, post = pairs
    res = paired_change(pre, post)
    ref = stats.ttest_rel(post, pre)
    assert res.n == 25
    assert res.t == pytest.approx(ref.statistic, abs=1e-10)
    assert res.p == pytest.approx(ref.pvalue, abs=1e-12)
    assert res.df == ref.df
    ref_ci = ref.confidence_interval(0.95)
    assert res.ci_lower == pytest.approx(ref_ci.low, abs=1e-10)
    assert res.ci_upper == pytest.approx(ref_ci.high, abs=1e-10)
    assert res.wilcoxon_p == pytest.approx(stats.wilcoxon(post, pre).pvalue, abs=1e-12)
    assert res.mean_diff == pytest.approx(np.mean(post - pre), abs=1e-12)


def test_paired_effect_sizes_match_pingouin(pairs):
    pre, post = pairs
    res = paired_change(pre, post)
    assert res.d_z == pytest.approx(
        pg.compute_effsize(post, pre, paired=True, eftype="cohen_dz"), abs=1e-12
    )
    assert res.d_av == pytest.approx(
        pg.compute_effsize(post, pre, paired=True, eftype="cohen"), abs=1e-12
    )
    assert res.hedges_g == pytest.approx(
        pg.compute_effsize(post, pre, paired=True, eftype="hedges"), abs=1e-12
    )
    # d_z = t / sqrt(n)
    assert res.d_z == pytest.approx(res.t / math.sqrt(25), abs=1e-12)


def test_d_z_interval_inverts_the_noncentral_t(pairs):
    pre, post = pairs
    res = paired_change(pre, post)
    n, t = res.n, res.t
    # by definition: t_obs is the 97.5% quantile of nct(ncp = lower * sqrt(n)), the 2.5% of upper
    assert stats.nct.cdf(t, n - 1, res.d_z_ci_lower * math.sqrt(n)) == pytest.approx(
        0.975, abs=1e-9
    )
    assert stats.nct.cdf(t, n - 1, res.d_z_ci_upper * math.sqrt(n)) == pytest.approx(
        0.025, abs=1e-9
    )
    assert res.d_z_ci_lower < res.d_z < res.d_z_ci_upper


def test_d_z_interval_close_to_normal_approximation_for_large_n():
    rng = np.random.default_rng(7)
    pre = rng.normal(0, 1, 400)
    post = pre + rng.normal(0.3, 1, 400)
    res = paired_change(pre, post)
    se = math.sqrt(1 / 400 + res.d_z**2 / (2 * 400))  # standard approximation
    assert res.d_z_ci_lower == pytest.approx(res.d_z - 1.959964 * se, abs=0.005)
    assert res.d_z_ci_upper == pytest.approx(res.d_z + 1.959964 * se, abs=0.005)


def test_pairs_with_a_missing_side_are_dropped(pairs):
    pre, post = pairs
    pre_na = pre.copy()
    post_na = post.copy()
    pre_na[0] = np.nan
    post_na[3] = np.nan
    keep = np.ones(25, dtype=bool)
    keep[[0, 3]] = False
    res = paired_change(pre_na, post_na)
    assert res.n == 23
    assert res.t == pytest.approx(stats.ttest_rel(post[keep], pre[keep]).statistic, abs=1e-10)


def test_fewer_than_three_pairs_gives_nan_with_reason():
    res = paired_change([1.0, 2.0, np.nan], [2.0, 4.0, 5.0])
    assert res.n == 2
    assert math.isnan(res.t) and math.isnan(res.d_z) and math.isnan(res.mean_diff)
    # the note must not repeat n: it would survive suppression as a label
    assert res.note == "fewer than 3 complete pairs"


def test_identical_changes_leave_t_undefined_but_keep_mean():
    res = paired_change([1.0, 2.0, 3.0, 4.0], [2.0, 3.0, 4.0, 5.0])
    assert res.mean_diff == 1.0
    assert math.isnan(res.t)
    assert "same amount" in res.note


def test_paired_change_refuses_bad_ci(pairs):
    with pytest.raises(ValidationError, match="ci must"):
        paired_change(*pairs, ci=95)


# ----------------------------------------------------------------------------- outcomes table


def _long_scores(seed=11, n=40):
    rng = np.random.default_rng(seed)
    rows = []
    for pid in range(n):
        base = rng.normal(50, 10)
        group = "A" if pid % 2 else "B"
        for i, step in enumerate(STEPS):
            for domain in ("gender_sensitivity", "gender_equality"):
                rows.append(
                    {
                        "participant": pid,
                        "group": group,
                        "step": step,
                        "domain": domain,
                        "score": base + 5 * i + rng.normal(0, 6),
                    }
                )
    return pd.DataFrame(rows)


def test_outcomes_table_rows_match_paired_change_per_group_domain_and_pair():
    df = _long_scores()
    df.loc[5, "score"] = np.nan
    norms = {"gender_sensitivity": ChangeNorms(sd=10, reliability=0.8, cutoff=55)}
    table = outcomes_table(df, norms=norms, by="group")
    assert len(table) == 2 * 2 * 3
    row = table[
        (table.group == "A")
        & (table.domain == "gender_equality")
        & (table.from_step == "planning")
        & (table.to_step == "conclusion")
    ].iloc[0]
    sub = df[(df.group == "A") & (df.domain == "gender_equality")]
    wide = sub.pivot(index="participant", columns="step", values="score")
    ref = paired_change(wide["planning"], wide["conclusion"])
    assert row["n"] == ref.n
    assert row["t"] == pytest.approx(ref.t, abs=1e-12)
    assert math.isnan(row["share_improved"])  # no norms for this domain

    gs = table[
        (table.group == "B")
        & (table.domain == "gender_sensitivity")
        & (table.from_step == "planning")
        & (table.to_step == "midterm")
    ].iloc[0]
    sub = df[(df.group == "B") & (df.domain == "gender_sensitivity")]
    wide = sub.pivot(index="participant", columns="step", values="score").dropna()
    # S_diff = sqrt(2) * 10 * sqrt(0.2) = 6.324555; reliable when |diff| > 1.96 * 6.324555 = 12.3961
    diff = wide["midterm"] - wide["planning"]
    crit = 1.96 * math.sqrt(2) * 10 * math.sqrt(0.2)
    assert gs["share_improved"] == pytest.approx((diff > crit).mean(), abs=1e-12)
    assert gs["share_deteriorated"] == pytest.approx((diff < -crit).mean(), abs=1e-12)
    recovered = (diff > crit) & (wide["planning"] < 55) & (wide["midterm"] >= 55)
    assert gs["share_recovered"] == pytest.approx(recovered.mean(), abs=1e-12)


def test_outcomes_table_margins_add_total_rows_that_suppression_protects():
    from matrix.suppression import suppress

    df = _long_scores(n=26)
    df.loc[(df.participant < 20) & (df.group == "A"), "score"] = np.nan  # group A keeps 3 people
    table = outcomes_table(df, by="group", margins=True)
    total = table[
        (table.group == "Total")
        & (table.domain == "gender_equality")
        & (table.from_step == "planning")
        & (table.to_step == "midterm")
    ].iloc[0]
    wide = df[df.domain == "gender_equality"].pivot(
        index="participant", columns="step", values="score"
    )
    assert total["t"] == pytest.approx(
        paired_change(wide["planning"], wide["midterm"]).t, abs=1e-12
    )
    assert total["n"] == 3 + 13

    res = suppress(table, "n", group_cols=["group"], key_cols=["domain", "from_step", "to_step"])
    out = res.table
    a_rows = out.group == "A"
    assert (out.loc[a_rows, "n"] == "<10").all()
    assert out.loc[a_rows, "mean_diff"].isna().all() and out.loc[a_rows, "d_z"].isna().all()
    assert out.loc[a_rows, "note"].isna().all()  # even the note is hidden on a small row
    assert out.loc[a_rows, "domain"].notna().all()  # labels in key_cols stay
    # B (13) alone would give A away as Total - B: one of them is hidden as a complement
    assert (out.loc[out.group == "B", "n"] == "x").all() | (
        out.loc[out.group == "Total", "n"] == "x"
    ).all()


def test_outcomes_table_refuses_duplicate_scores():
    df = _long_scores(n=4)
    df = pd.concat([df, df.iloc[[0]]])
    with pytest.raises(ValidationError, match="more than one"):
        outcomes_table(df)


# ----------------------------------------------------------------------------- mixed model


def _three_steps(seed, n, effects=(0.0, 0.3, 0.6), sd_u=0.8, sd_e=0.6):
    rng = np.random.default_rng(seed)
    pid = np.repeat(np.arange(n), 3)
    step = np.tile(STEPS, n)
    age = rng.integers(12, 19, n)[pid].astype(float)
    y = (
        rng.normal(0, sd_u, n)[pid]
        + np.array(effects)[np.tile([0, 1, 2], n)]
        + 0.05 * (age - 15)
        + rng.normal(0, sd_e, 3 * n)
    )
    return pd.DataFrame({"participant": pid, "step": step, "score": y, "age": age})


@pytest.fixture(scope="module")
def model_data():
    return _three_steps(seed=5, n=120)


def test_fixed_effects_equal_a_direct_statsmodels_fit(model_data):
    df = model_data
    ours = three_step_model(df, covariates=["age"], test_random_slope=False)
    ref = smf.mixedlm(
        "score ~ C(step, Treatment('planning')) + age", df, groups=df["participant"]
    ).fit(reml=True)
    names = {
        "Intercept": "Intercept",
        "step[midterm]": "C(step, Treatment('planning'))[T.midterm]",
        "step[conclusion]": "C(step, Treatment('planning'))[T.conclusion]",
        "age": "age",
    }
    ref_ci = ref.conf_int()
    for ours_name, ref_name in names.items():
        row = ours.fixed_effects.loc[ours_name]
        assert row["coef"] == pytest.approx(ref.fe_params[ref_name], abs=1e-6)
        assert row["se"] == pytest.approx(ref.bse_fe[ref_name], abs=1e-6)
        assert row["p"] == pytest.approx(ref.pvalues[ref_name], abs=1e-6)
        assert row["ci_lower"] == pytest.approx(ref_ci.loc[ref_name, 0], abs=1e-6)
        assert row["ci_upper"] == pytest.approx(ref_ci.loc[ref_name, 1], abs=1e-6)
    assert ours.log_likelihood == pytest.approx(ref.llf, abs=1e-6)
    assert ours.variance_components["participant_intercept"] == pytest.approx(
        ref.cov_re.iloc[0, 0], abs=1e-6
    )
    assert ours.variance_components["residual"] == pytest.approx(ref.scale, abs=1e-6)
    assert list(ours.fixed_effects.columns) == ["coef", "se", "z", "p", "ci_lower", "ci_upper"]


def test_known_stage_effects_lie_inside_the_95_percent_cis():
    # truth: +0.3 at midterm, +0.6 at conclusion (total SD ~1), random intercepts
    df = _three_steps(seed=2024, n=200)
    fe = three_step_model(df, covariates=["age"], test_random_slope=False).fixed_effects
    for term, truth in (("step[midterm]", 0.3), ("step[conclusion]", 0.6), ("age", 0.05)):
        assert fe.loc[term, "ci_lower"] < truth < fe.loc[term, "ci_upper"], term


def test_random_slope_test_uses_the_chi_square_mixture(model_data):
    res = three_step_model(model_data)
    t = res.random_slope_test
    assert t.lr == pytest.approx(
        max(0.0, 2 * (t.log_likelihood_slope - t.log_likelihood_intercept)), abs=1e-12
    )
    expected = 0.5 * stats.chi2.sf(t.lr, 1) + 0.5 * stats.chi2.sf(t.lr, 2)
    assert t.p == pytest.approx(expected, abs=1e-12)
    # no random slope in the generating model: the test should not reject
    assert t.p > 0.05


def test_random_slope_is_detected_when_present():
    rng = np.random.default_rng(99)
    n = 150
    pid = np.repeat(np.arange(n), 3)
    stepnum = np.tile([0, 1, 2], n)
    slopes = rng.normal(0.3, 0.5, n)
    y = rng.normal(0, 0.8, n)[pid] + slopes[pid] * stepnum + rng.normal(0, 0.4, 3 * n)
    df = pd.DataFrame({"participant": pid, "step": np.array(STEPS)[stepnum], "score": y})
    res = three_step_model(df, random_slope=True)
    assert res.random_slope_test.p < 0.001
    assert res.variance_components["step_slope"] == pytest.approx(0.25, abs=0.12)


def test_three_step_model_refuses_unknown_steps(model_data):
    df = model_data.copy()
    df.loc[0, "step"] = "final"
    with pytest.raises(ValidationError, match="unknown step"):
        three_step_model(df)


def test_plot_returns_a_figure(model_data):
    import plotly.graph_objects as go

    fig = three_step_model(model_data, test_random_slope=False).plot()
    assert isinstance(fig, go.Figure)
    assert list(fig.data[0].x) == list(STEPS)


def test_wilcoxon_with_ties_and_zeros_is_rs_corrected_normal_approximation():
    # Likert-type scores: tied and zero differences, so R's wilcox.test(post, pre, paired = TRUE)
    # (defaults exact = NULL, correct = TRUE) uses the normal approximation with the tie-corrected
    # variance and the continuity correction.
    pre = np.array([2, 3, 3, 4, 2, 3, 1, 2, 3, 4, 2, 3], dtype=float)
    post = np.array([3, 4, 3, 5, 3, 4, 2, 2, 4, 4, 3, 5], dtype=float)
    res = paired_change(pre, post)
    # Worked on paper: differences 1 1 0 1 1 1 1 0 1 0 1 2; the 3 zeros are dropped, leaving
    # n = 9 (eight 1s and one 2, all positive). The eight 1s share rank (1 + 8) / 2 = 4.5 and the
    # 2 has rank 9, so V = W+ = 8 * 4.5 + 9 = 45. E[V] = n(n + 1)/4 = 9 * 10 / 4 = 22.5.
    # Var = n(n + 1)(2n + 1)/24 - sum(t^3 - t)/48 = 9 * 10 * 19 / 24 - (8^3 - 8) / 48
    #     = 71.25 - 10.5 = 60.75, sd = 7.794229.
    # Continuity correction: V - E = 22.5 > 0, so subtract 0.5: z = 22 / 7.794229 = 2.822601.
    # p = 2 * (1 - Phi(2.822601)) = 2 * 0.0023818 = 0.0047636 (R's formula; R itself is not
    # installed here, so it was not run). Without the correction it would be
    # z = 2.886751, p = 0.0038924: the figure dscr gave before it followed R's default.
    assert res.wilcoxon_p == pytest.approx(0.0047636, abs=5e-8)
    assert res.wilcoxon_p == pytest.approx(math.erfc(22 / math.sqrt(60.75) / math.sqrt(2)),
                                           rel=1e-12)
    # scipy's own corrected normal approximation agrees (zero_method="wilcox" drops the zeros).
    expected = stats.wilcoxon(post, pre, method="asymptotic", correction=True).pvalue
    assert res.wilcoxon_p == pytest.approx(expected, rel=1e-12)


def test_wilcoxon_small_untied_sample_is_rs_exact_p_hand_worked():
    # Hollander & Wolfe's depression scores, the example of R's ?wilcox.test: x (first visit) and
    # y (second); there wilcox.test(x, y, paired = TRUE, alternative = "greater") gives V = 40,
    # p-value = 0.01953, so the two-sided default is twice that.
    x = np.array([1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30])
    y = np.array([0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29])
    # By hand: x - y = 0.952 -0.147 1.022 0.43 0.62 0.59 0.49 -0.08 0.01, no ties, no zeros, n = 9.
    # Ranks of |d|: 0.01->1, 0.08->2, 0.147->3, 0.43->4, 0.49->5, 0.59->6, 0.62->7, 0.952->8,
    # 1.022->9. Negative ones have ranks 2 and 3, so V = 45 - 5 = 40. Of the 2^9 = 512 sign
    # patterns, V >= 40 means the negative ranks sum to <= 5: {}, {1}, {2}, {3}, {4}, {5}, {1,2},
    # {1,3}, {1,4}, {2,3}: 10 patterns. p = 2 * 10 / 512 = 0.0390625.
    res = paired_change(y, x)
    assert res.wilcoxon_p == pytest.approx(10 / 256, abs=1e-15)


def test_wilcoxon_switches_to_the_normal_approximation_at_50_pairs_as_r():
    rng = np.random.default_rng(8)
    for n, exact in ((49, True), (50, False)):
        pre = rng.normal(10, 2, n)
        post = pre + rng.normal(0.4, 1, n)
        got = paired_change(pre, post).wilcoxon_p
        if exact:
            want = stats.wilcoxon(post, pre, method="exact").pvalue
        else:  # scipy would still be exact at 50; R is not
            want = stats.wilcoxon(post, pre, method="asymptotic", correction=True).pvalue
        assert got == pytest.approx(want, rel=1e-12), n
