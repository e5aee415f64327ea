"""The array-based outcomes table and step means against their per-cell definitions.

The reference below is the straightforward loop the fast code replaced: group -> domain -> pivot ->
`paired_change` + `classify_change` shares per step pair; for step means, numpy mean/std and
`scipy.stats.t.interval` per (group, domain, step). Tables must agree row for row, column for
column and dtype for dtype; floats to rtol 1e-10. Everything but the d_z interval is the same bits
(one test asserts it); the interval is solved by another root finder (scipy's elementwise
Chandrupatla instead of brentq) to the same tolerance, so it agrees to about 1e-12.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

import vocab
from demo.synthetic import generate
from errors import ValidationError
from matrix.change import DETERIORATED, IMPROVED, RECOVERED, ChangeNorms, classify_change
from matrix.outcomes import (
    PAIRED_COLUMNS,
    STEP_MEAN_COLUMNS,
    STEP_PAIRS,
    STEPS,
    outcomes_table,
    paired_change,
    step_means,
)

RTOL = 1e-10
NORMS = {
    "empathy": ChangeNorms(sd=8.0, reliability=0.85, cutoff=50.0),
    "risk": ChangeNorms(sd=6.0, reliability=0.8, cutoff=12.0, higher_is_better=False),
    # "attitude" has no norm: its shares stay NaN
}
# For the synthetic programme's scores (T-like: 50 + 10 z); gender_equality has no norm.
PROGRAMME_NORMS = {
    "gender_sensitivity": ChangeNorms(sd=10.0, reliability=0.85, cutoff=50.0),
    "digital_sex_crime_understanding": ChangeNorms(sd=10.0, reliability=0.8, cutoff=45.0),
}


# ----------------------------------------------------------------------------- the reference


def _reference_groups(df, by_cols, margins, total_label):
    if not by_cols:
        return [((), df)]
    subsets = [()]
    if margins:
        subsets += [c for r in range(1, len(by_cols) + 1) for c in combinations(by_cols, r)]
    out = []
    for totalled in subsets:
        kept = [c for c in by_cols if c not in totalled]
        parts = df.groupby(kept, sort=True, dropna=False) if kept else [((), df)]
        for key, part in parts:
            key = key if isinstance(key, tuple) else (key,)
            values = dict(zip(kept, key, strict=True))
            out.append((tuple(values.get(c, total_label) for c in by_cols), part))
    return out


def reference_table(df, norms=None, by=None, margins=False, ci=0.95, z=1.96, total_label="Total"):
    by_cols = [by] if isinstance(by, str) else list(by or [])
    norms = norms or {}
    rows = []
    for key, part in _reference_groups(df, by_cols, margins, total_label):
        for dom, sub in part.groupby("domain", sort=True):
            wide = sub.pivot(index="participant", columns="step", values="score")
            wide = wide.reindex(columns=STEPS)
            for first, second in STEP_PAIRS:
                row = dict(zip(by_cols, key, strict=True))
                row.update(domain=dom, from_step=first, to_step=second)
                row.update(asdict(paired_change(wide[first], wide[second], ci=ci)))
                shares = dict.fromkeys(
                    ("share_improved", "share_recovered", "share_deteriorated"), float("nan")
                )
                norm = norms.get(dom)
                if norm is not None:
                    labels = classify_change(
                        wide[first],
                        wide[second],
                        norm.sd,
                        norm.reliability,
                        norm.cutoff,
                        norm.higher_is_better,
                        z=z,
                    ).dropna()
                    if not labels.empty:
                        shares = {
                            "share_improved": float(labels.isin([IMPROVED, RECOVERED]).mean()),
                            "share_recovered": float((labels == RECOVERED).mean()),
                            "share_deteriorated": float((labels == DETERIORATED).mean()),
                        }
                row.update(shares)
                rows.append(row)
    columns = [
        *by_cols,
        "domain",
        "from_step",
        "to_step",
        *PAIRED_COLUMNS,
        "share_improved",
        "share_recovered",
        "share_deteriorated",
    ]
    return pd.DataFrame(rows, columns=columns)


def reference_step_means(df, by=None, margins=False, ci=0.95, total_label="Total"):
    by_cols = [by] if isinstance(by, str) else list(by or [])
    rows = []
    for key, part in _reference_groups(df, by_cols, margins, total_label):
        for dom, sub in part.groupby("domain", sort=True):
            for s in STEPS:
                x = pd.to_numeric(sub.loc[sub["step"] == s, "score"], errors="coerce").dropna()
                x = x.to_numpy(dtype=float)
                n = int(x.size)
                mean = float(np.mean(x)) if n else float("nan")
                sd = lo = hi = float("nan")
                if n >= 2:
                    sd = float(np.std(x, ddof=1))
                    if sd > 0:
                        lo, hi = stats.t.interval(ci, n - 1, loc=mean, scale=sd / math.sqrt(n))
                    else:  # scipy wants scale > 0; the interval of equal scores is the mean
                        lo = hi = mean
                row = dict(zip(by_cols, key, strict=True))
                row.update(
                    domain=dom,
                    step=s,
                    n=n,
                    mean=mean,
                    sd=sd,
                    ci_lower=float(lo),
                    ci_upper=float(hi),
                )
                rows.append(row)
    return pd.DataFrame(rows, columns=[*by_cols, "domain", "step", *STEP_MEAN_COLUMNS])


D_Z_CI = ["d_z_ci_lower", "d_z_ci_upper"]


def assert_same(fast, ref, exact=False):
    if exact:
        # Bit for bit, except the d_z interval (another root finder): that to 1e-12.
        pd.testing.assert_frame_equal(fast.drop(columns=D_Z_CI), ref.drop(columns=D_Z_CI),
                                      check_exact=True)
        pd.testing.assert_frame_equal(fast[D_Z_CI], ref[D_Z_CI], check_exact=False, rtol=1e-12,
                                      atol=1e-14)
    else:
        pd.testing.assert_frame_equal(fast, ref, check_exact=False, rtol=RTOL, atol=0)


# ----------------------------------------------------------------------------- synthetic data


def programme_scores(seed: int, participants: int = 240) -> pd.DataFrame:
    """The project's synthetic programme (demo.synthetic) as long scores: participant, step, domain,
    score, cohort, programme. Scores are the generator's latent levels on a 50 + 10 z scale, to one
    decimal (so some differences tie); steps a young person dropped out before are absent."""
    prog = generate(participants, seed=seed)
    levels = prog.levels.melt(id_vars=["code", "stage"], value_vars=list(vocab.MATRIX_DOMAINS),
                              var_name="domain", value_name="z")
    groups = prog.participants.set_index("code")[["cohort", "programme"]]
    return pd.DataFrame({
        "participant": levels["code"], "step": levels["stage"], "domain": levels["domain"],
        "score": np.round(50 + 10 * levels["z"], 1),
        "cohort": levels["code"].map(groups["cohort"]),
        "programme": levels["code"].map(groups["programme"]),
    })


def random_long(
    seed,
    n_people=240,
    groups=4,
    domains=("attitude", "empathy", "risk"),
    missing=0.15,
    decimals=1,
    two_by=False,
):
    """Long scores like the programme's: groups of participants, three steps, some rows missing."""
    rng = np.random.default_rng(seed)
    pid = np.arange(n_people)
    group = np.array([f"c{g}" for g in range(groups)])[rng.integers(0, groups, n_people)]
    programme = np.array(["north", "south"])[rng.integers(0, 2, n_people)]
    p, s, d = (
        a.ravel() for a in np.meshgrid(pid, np.arange(3), np.arange(len(domains)), indexing="ij")
    )
    base = rng.normal(45, 9, (n_people, len(domains)))
    score = base[p, d] + 2.5 * s + rng.normal(0, 5, p.size)
    if decimals is not None:
        score = np.round(score, decimals)
    df = pd.DataFrame(
        {
            "participant": p,
            "step": np.array(STEPS)[s],
            "domain": np.array(domains)[d],
            "score": score,
            "cohort": group[p],
        }
    )
    if two_by:
        df["programme"] = programme[p]
    df = df[rng.random(len(df)) > missing].reset_index(drop=True)
    df.loc[rng.random(len(df)) < 0.02, "score"] = np.nan
    return df


def edge_cells():
    """One group per awkward case, in one frame."""
    rows = []

    def add(group, pid, step, domain, score, **extra):
        rows.append(
            {
                "participant": pid,
                "step": step,
                "domain": domain,
                "score": score,
                "cohort": group,
                **extra,
            }
        )

    rng = np.random.default_rng(3)
    for i in range(6):  # every difference zero: wilcoxon NaN, t and d_z NaN
        for s in STEPS:
            add("zeros", 100 + i, s, "attitude", float(i))
    for i in range(5):  # every participant +2: sd_diff == 0
        for k, s in enumerate(STEPS):
            add("constant", 200 + i, s, "attitude", float(3 * i + 2 * k))
    for i in range(2):  # two complete pairs only
        for s in STEPS:
            add("tiny", 300 + i, s, "attitude", float(rng.integers(0, 9)))
    for i in range(8):  # nobody at midterm: the pairs through it have n 0
        for s in ("planning", "conclusion"):
            add("absent", 400 + i, s, "attitude", float(rng.integers(0, 9)))
    for i in range(12):  # scores only missing at one step for some
        for s in STEPS:
            add("holes", 500 + i, s, "attitude", np.nan if (i + len(s)) % 4 == 0 else i * 1.5)
    for i in range(20):  # continuous, no ties, n <= 50: scipy's exact distribution
        for s in STEPS:
            add("small", 600 + i, s, "empathy", float(rng.normal(50, 10)))
    for i in range(70):  # continuous, no ties, n > 50: "auto" picks the normal approximation
        for s in STEPS:
            add("large", 700 + i, s, "empathy", float(rng.normal(50, 10)))
    for i in range(30):  # Likert-type: many ties and zeros
        for s in STEPS:
            add("likert", 800 + i, s, "risk", float(rng.integers(1, 6)))
    for i in range(10):  # a missing group value is a group of its own
        for s in STEPS:
            add(np.nan, 900 + i, s, "risk", float(rng.integers(1, 6)))
    add("likert", 990, "planning", None, 3.0)  # a row without a domain is left out
    for i in range(9):  # the group changes between steps: paired only in the total
        add("moved_a", 1000 + i, "planning", "empathy", float(40 + i))
        add("moved_b", 1000 + i, "midterm", "empathy", float(44 + 2 * i))
        add("moved_b", 1000 + i, "conclusion", "empathy", float(47 + i))
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- outcomes table


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_grouped_table_with_margins_equals_the_per_cell_reference(seed):
    df = programme_scores(seed)
    fast = outcomes_table(df, norms=PROGRAMME_NORMS, by="cohort", margins=True)
    assert_same(fast, reference_table(df, norms=PROGRAMME_NORMS, by="cohort", margins=True))
    # Not an agreement of empty cells: most cells have a t, and the normed domains have shares.
    assert fast["t"].notna().mean() > 0.8 and fast["share_improved"].notna().any()


def test_table_is_bit_for_bit_the_per_cell_reference_but_the_d_z_interval():
    df = programme_scores(7, participants=400)
    fast = outcomes_table(df, norms=PROGRAMME_NORMS, by="programme", margins=True)
    ref = reference_table(df, norms=PROGRAMME_NORMS, by="programme", margins=True)
    assert_same(fast, ref, exact=True)


def test_two_by_columns_with_all_margins_equal_the_reference():
    df = programme_scores(11, participants=200)
    by = ["programme", "cohort"]
    fast = outcomes_table(df, norms=PROGRAMME_NORMS, by=by, margins=True)
    ref = reference_table(df, norms=PROGRAMME_NORMS, by=by, margins=True)
    assert_same(fast, ref)
    # groups, then programme totals, then cohort totals, then the grand total: one grand total
    # row per domain and step pair
    assert (fast[["programme", "cohort"]] == "Total").all(axis=1).sum() == 3 * 3


@pytest.mark.parametrize("margins", [False, True])
def test_ungrouped_and_continuous_scores_equal_the_reference(margins):
    df = random_long(5, n_people=120, decimals=None)
    assert_same(
        outcomes_table(df, norms=NORMS, margins=margins),
        reference_table(df, norms=NORMS, margins=margins),
    )


def test_integer_scores_with_ties_and_zero_differences_equal_the_reference():
    rng = np.random.default_rng(21)
    df = random_long(21, n_people=150)
    df["score"] = rng.integers(1, 6, len(df))  # int64 column: Likert items
    fast = outcomes_table(df, norms=NORMS, by="cohort", margins=True, ci=0.9, z=1.645)
    assert_same(fast, reference_table(df, norms=NORMS, by="cohort", margins=True, ci=0.9, z=1.645))


def test_awkward_cells_equal_the_reference_and_carry_its_notes():
    df = edge_cells()
    fast = outcomes_table(df, norms=NORMS, by="cohort", margins=True)
    assert_same(fast, reference_table(df, norms=NORMS, by="cohort", margins=True))

    def cell(group, first="planning", second="conclusion"):
        mask = (fast["from_step"] == first) & (fast["to_step"] == second)
        mask &= fast["cohort"].isna() if group is None else fast["cohort"] == group
        return fast[mask].iloc[0]

    zeros = cell("zeros")
    assert zeros["n"] == 6 and math.isnan(zeros["wilcoxon_p"]) and math.isnan(zeros["t"])
    constant = cell("constant")
    assert constant["mean_diff"] == 4.0 and math.isnan(constant["d_z"])
    assert (
        constant["note"] == "every participant changed by the same amount: t and d_z are undefined"
    )
    assert cell("tiny")["note"] == "fewer than 3 complete pairs"
    assert cell("absent", "planning", "midterm")["n"] == 0
    assert cell("absent")["n"] == 8
    assert cell(None)["n"] == 10
    assert not (
        fast["cohort"].isin(["moved_a", "moved_b"])
        & (fast["n"] > 0)
        & (fast["from_step"] == "planning")
    ).any()
    total = fast[
        (fast["cohort"] == "Total")
        & (fast["domain"] == "empathy")
        & (fast["from_step"] == "planning")
        & (fast["to_step"] == "midterm")
    ].iloc[0]
    assert total["n"] == 20 + 70 + 9


def test_exact_and_asymptotic_wilcoxon_p_equal_scipy_directly():
    df = edge_cells()
    fast = outcomes_table(df, by="cohort")
    for group, domain in (("small", "empathy"), ("large", "empathy"), ("likert", "risk")):
        sub = df[(df["cohort"] == group) & (df["domain"] == domain)]
        wide = sub.pivot(index="participant", columns="step", values="score").dropna()
        pre, post = wide["planning"].to_numpy(), wide["conclusion"].to_numpy()
        tied = np.any(post == pre) or np.unique(np.abs(post - pre)).size < pre.size
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # R's rule: corrected normal approximation with ties, zeros or 50+ pairs, else exact
            if tied or pre.size >= 50:
                expected = stats.wilcoxon(post, pre, method="asymptotic", correction=True).pvalue
            else:
                expected = stats.wilcoxon(post, pre, method="exact").pvalue
        row = fast[
            (fast["cohort"] == group)
            & (fast["from_step"] == "planning")
            & (fast["to_step"] == "conclusion")
        ].iloc[0]
        assert row["wilcoxon_p"] == pytest.approx(expected, rel=1e-12), group
    # the small untied cell really is the exact case (the exact p is not the normal one)
    sub = df[df["cohort"] == "small"].pivot(index="participant", columns="step", values="score")
    normal = stats.wilcoxon(sub["conclusion"], sub["planning"], method="asymptotic",
                            correction=True).pvalue
    exact = stats.wilcoxon(sub["conclusion"], sub["planning"], method="exact").pvalue
    small = fast[
        (fast["cohort"] == "small")
        & (fast["from_step"] == "planning")
        & (fast["to_step"] == "conclusion")
    ].iloc[0]
    assert small["wilcoxon_p"] == pytest.approx(exact, rel=1e-12)
    assert exact != pytest.approx(normal, rel=1e-3)


def test_empty_and_domainless_frames_give_the_reference_empty_table():
    empty = random_long(1).iloc[:0]
    assert_same(
        outcomes_table(empty, by="cohort", margins=True),
        reference_table(empty, by="cohort", margins=True),
    )
    no_domain = random_long(1, n_people=5, domains=("attitude",)).assign(domain=np.nan)
    assert_same(outcomes_table(no_domain, by="cohort"), reference_table(no_domain, by="cohort"))


def test_validation_messages_are_unchanged():
    df = random_long(2, n_people=10)
    with pytest.raises(ValidationError, match=r"needs columns \['cohort'\]"):
        outcomes_table(df.drop(columns="cohort"), by="cohort")
    with pytest.raises(ValidationError, match=r"unknown step\(s\) \['follow_up'\]"):
        outcomes_table(df.assign(step="follow_up"))
    with pytest.raises(ValidationError, match="more than one"):
        outcomes_table(pd.concat([df, df.iloc[[0]]]))
    with pytest.raises(ValidationError, match="ci must"):
        outcomes_table(df, ci=95)
    with pytest.raises(ValidationError, match="z must"):
        outcomes_table(df, norms=NORMS, z=-1)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cells=st.lists(
        st.tuples(
            st.integers(0, 11),  # participant
            st.sampled_from(STEPS),
            st.sampled_from(["attitude", "empathy"]),
            st.one_of(st.integers(0, 4).map(float), st.floats(0, 10), st.just(float("nan"))),
        ),
        min_size=0,
        max_size=60,
        unique_by=lambda c: c[:3],
    ),
    groups=st.lists(st.sampled_from(["a", "b"]), min_size=12, max_size=12),
    margins=st.booleans(),
)
def test_random_small_frames_equal_the_reference(cells, groups, margins):
    df = pd.DataFrame(cells, columns=["participant", "step", "domain", "score"])
    df["cohort"] = [groups[p] for p in df["participant"]]
    fast = outcomes_table(df, norms=NORMS, by="cohort", margins=margins)
    assert_same(fast, reference_table(df, norms=NORMS, by="cohort", margins=margins))
    means = step_means(df, by="cohort", margins=margins)
    assert_same(means, reference_step_means(df, by="cohort", margins=margins))


# ----------------------------------------------------------------------------- step means


@pytest.mark.parametrize("seed", [1, 4])
def test_step_means_equal_numpy_and_scipy_t_interval_per_cell(seed):
    df = programme_scores(seed)
    assert_same(
        step_means(df, by="cohort", margins=True),
        reference_step_means(df, by="cohort", margins=True),
    )


def test_step_means_cover_awkward_cells_two_by_columns_and_other_levels():
    df = edge_cells()
    assert_same(
        step_means(df, by="cohort", margins=True, ci=0.9),
        reference_step_means(df, by="cohort", margins=True, ci=0.9),
    )
    two = random_long(8, n_people=90, groups=3, two_by=True)
    by = ["programme", "cohort"]
    assert_same(
        step_means(two, by=by, margins=True), reference_step_means(two, by=by, margins=True)
    )
    assert_same(step_means(two), reference_step_means(two))
    absent = step_means(df, by="cohort")
    row = absent[(absent["cohort"] == "absent") & (absent["step"] == "midterm")].iloc[0]
    assert row["n"] == 0 and math.isnan(row["mean"]) and math.isnan(row["ci_lower"])


def test_step_means_keep_their_validation():
    df = random_long(2, n_people=10)
    with pytest.raises(ValidationError, match="ci must"):
        step_means(df, ci=1.5)
    with pytest.raises(ValidationError, match=r"step means need columns \['cohort'\]"):
        step_means(df.drop(columns="cohort"), by="cohort")
    with pytest.raises(ValidationError, match="more than one score"):
        step_means(pd.concat([df, df.iloc[[0]]]))
