"""Programme outcomes across the three steps: paired change, effect sizes and the mixed model."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from errors import ValidationError
from matrix.change import DETERIORATED, IMPROVED, RECOVERED, ChangeNorms, classify_change

STEPS = ("planning", "midterm", "conclusion")
STEP_PAIRS = (("planning", "midterm"), ("midterm", "conclusion"), ("planning", "conclusion"))
MIN_PAIRS = 3


def _check_ci(ci: float) -> float:
    if not isinstance(ci, (int, float)) or not 0 < ci < 1:
        raise ValidationError(f"ci must be a level between 0 and 1 such as 0.95, got {ci!r}")
    return float(ci)


# --------------------------------------------------------------------------- paired change


@dataclass(frozen=True)
class PairedChange:
    """Paired pre/post statistics for one domain and one pair of steps.

    Effect sizes (post minus pre, so positive means the score rose):
    - `d_z` = mean(diff) / SD(diff): the standardised mean difference of the change scores
      (Cohen's d_z; equals t / sqrt(n)). Its CI (`d_z_ci_lower`, `d_z_ci_upper`) inverts the
      noncentral t distribution of t = d_z * sqrt(n) with n - 1 df (exact under normality;
      Cumming & Finch 2001), not the large-sample normal approximation.
    - `d_av` = mean(diff) / sqrt((SD_pre^2 + SD_post^2) / 2): what pingouin's
      `compute_effsize(post, pre, paired=True, eftype="cohen")` returns (Cumming 2012). Note it
      averages the two *variances*, not the two SDs as in Lakens (2013); we follow pingouin so that
      numbers match that reference.
    - `hedges_g` = d_av * (1 - 3 / (4 * (n_pre + n_post) - 9)) with n_pre = n_post = n: pingouin's
      `compute_effsize(..., paired=True, eftype="hedges")`, which applies the two-sample
      small-sample correction to d_av (not the paired 1 - 3 / (4(n - 1) - 1)).

    With fewer than 3 complete pairs every statistic is NaN and `note` says why: a table of many
    groups should not fail because one is small, and suppression hides such rows anyway.
    """

    n: int
    mean_pre: float
    mean_post: float
    mean_diff: float
    sd_diff: float
    ci_lower: float
    ci_upper: float
    t: float
    df: float
    p: float
    wilcoxon_p: float
    d_z: float
    d_z_ci_lower: float
    d_z_ci_upper: float
    d_av: float
    hedges_g: float
    note: str = ""

    def to_series(self) -> pd.Series:
        return pd.Series(asdict(self))


PAIRED_COLUMNS = tuple(PairedChange.__dataclass_fields__)


def _d_z_ci(t_obs: float, n: int, ci: float) -> tuple[float, float]:
    """Noncentral-t interval for d_z: find the noncentrality whose t distribution puts t_obs at
    the (1 +/- ci)/2 quantiles, then divide by sqrt(n)."""
    df = n - 1
    alpha = 1.0 - ci

    def f(ncp: float, target: float) -> float:
        value = stats.nct.cdf(t_obs, df, ncp)
        if np.isnan(value):
            # scipy's nct loses precision far in the tails; there the cdf is ~1 or ~0
            value = 1.0 if ncp < t_obs else 0.0
        return value - target

    def solve(target: float) -> float:
        # Bracket around the normal-approximation bound and widen until the sign changes.
        step = 2.0 * math.sqrt(1 + t_obs**2 / (2 * df)) + 1.0
        lo, hi = t_obs - step, t_obs + step
        while f(lo, target) < 0:
            lo -= step
        while f(hi, target) > 0:
            hi += step
        return optimize.brentq(f, lo, hi, args=(target,), xtol=1e-12)

    sqrt_n = math.sqrt(n)
    return solve(1 - alpha / 2) / sqrt_n, solve(alpha / 2) / sqrt_n


def paired_change(pre: Any, post: Any, ci: float = 0.95) -> PairedChange:
    """Paired t-test, Wilcoxon signed-rank test and effect sizes for post - pre.

    `pre` and `post` are paired by position (align Series first). Pairs with a missing side are
    dropped. References: `scipy.stats.ttest_rel(post, pre)`,
    `scipy.stats.wilcoxon(post, pre)` (zero_method="wilcox"; method="auto", or "asymptotic" when
    differences are tied or zero, as R's `wilcox.test(post, pre, paired=TRUE)` does) and
    `pingouin.compute_effsize(post, pre, paired=True, eftype=...)`. See `PairedChange` for the
    effect-size definitions and the small-sample rule.
    """
    ci = _check_ci(ci)
    a = pd.Series(pre).to_numpy(dtype=float, na_value=np.nan)
    b = pd.Series(post).to_numpy(dtype=float, na_value=np.nan)
    if a.shape != b.shape:
        raise ValidationError(
            f"pre and post must have one score per participant, got {a.size} and {b.size} scores"
        )
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    n = int(a.size)
    nan = float("nan")
    if n < MIN_PAIRS:
        return PairedChange(n, *([nan] * 15), note=f"fewer than {MIN_PAIRS} complete pairs")
    diff = b - a
    mean_diff = float(diff.mean())
    sd_diff = float(diff.std(ddof=1))
    df = n - 1
    note = ""
    if sd_diff == 0:
        t = p = d_z = lo_dz = hi_dz = ci_lower = ci_upper = nan
        note = "every participant changed by the same amount: t and d_z are undefined"
    else:
        se = sd_diff / math.sqrt(n)
        t = mean_diff / se
        p = float(2 * stats.t.sf(abs(t), df))
        q = stats.t.ppf(0.5 + ci / 2, df)
        ci_lower, ci_upper = mean_diff - q * se, mean_diff + q * se
        d_z = mean_diff / sd_diff
        lo_dz, hi_dz = _d_z_ci(t, n, ci)
    if np.all(diff == 0):
        wilcoxon_p = nan
    else:
        # With tied or zero differences (common on Likert-type scores) there is no exact null
        # distribution: use the normal approximation with tie correction, as R's wilcox.test does.
        # scipy would otherwise run a permutation test, ~0.5 s per small cell of an outcomes table.
        nonzero = np.abs(diff[diff != 0])
        tied = nonzero.size < diff.size or np.unique(nonzero).size < nonzero.size
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy warns on ties/zeros; the p-value is still its
            wilcoxon_p = float(stats.wilcoxon(b, a, method="asymptotic" if tied else "auto").pvalue)
    pooled = math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
    d_av = mean_diff / pooled if pooled > 0 else nan
    hedges_g = d_av * (1 - 3 / (4 * (2 * n) - 9))
    return PairedChange(
        n=n,
        mean_pre=float(a.mean()),
        mean_post=float(b.mean()),
        mean_diff=mean_diff,
        sd_diff=sd_diff,
        ci_lower=float(ci_lower),
        ci_upper=float(ci_upper),
        t=float(t),
        df=float(df),
        p=float(p),
        wilcoxon_p=wilcoxon_p,
        d_z=float(d_z),
        d_z_ci_lower=float(lo_dz),
        d_z_ci_upper=float(hi_dz),
        d_av=float(d_av),
        hedges_g=float(hedges_g),
        note=note,
    )


# --------------------------------------------------------------------------- outcomes table


def outcomes_table(
    df: pd.DataFrame,
    *,
    norms: Mapping[str, ChangeNorms] | None = None,
    participant: str = "participant",
    step: str = "step",
    domain: str = "domain",
    score: str = "score",
    by: str | Sequence[str] | None = None,
    ci: float = 0.95,
    z: float = 1.96,
    margins: bool = False,
    total_label: str = "Total",
) -> pd.DataFrame:
    """One row per (group of `by`, domain, step pair) with `paired_change` statistics.

    `df` is long: one row per participant, step and domain. Step pairs are planning->midterm,
    midterm->conclusion and planning->conclusion. When `norms` has an entry for the domain, the
    shares of complete pairs that changed reliably are added (`share_improved` counts "improved"
    and "recovered"; `share_recovered` and `share_deteriorated` as labelled by `classify_change`);
    otherwise they are NaN.

    `margins=True` adds, for every subset of the `by` columns, rows over everyone with those columns
    set to `total_label` (with one `by`: a "Total" group). Publish groups and totals together, never
    apart, and suppress them together so that a small group cannot be had as total minus the rest:
    `suppress(table, group_cols=by, key_cols=["domain", "from_step", "to_step"])`. The table is for
    analysis until it has passed `matrix.suppression.suppress`.
    """
    by_cols = [by] if isinstance(by, str) else list(by or [])
    needed = [participant, step, domain, score, *by_cols]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ValidationError(
            f"outcomes table needs columns {missing}; the data has {list(df.columns)}"
        )
    bad_steps = sorted(set(df[step].dropna().astype(str)) - set(STEPS))
    if bad_steps:
        raise ValidationError(f"unknown step(s) {bad_steps}; steps are {list(STEPS)}")
    dup = df.duplicated([participant, step, domain])
    if dup.any():
        first = df.loc[dup, [participant, step, domain]].iloc[0].tolist()
        raise ValidationError(
            f"participant {first[0]} has more than one {first[2]} score at {first[1]}; keep one "
            "score per participant, step and domain"
        )
    norms = dict(norms or {})
    rows = []
    for key, part in _groups(df, by_cols, margins, total_label):
        for dom, sub in part.groupby(domain, sort=True):
            wide = sub.pivot(index=participant, columns=step, values=score).reindex(columns=STEPS)
            for first, second in STEP_PAIRS:
                stats_ = paired_change(wide[first], wide[second], ci=ci)
                row: dict[str, Any] = dict(zip(by_cols, key, strict=True))
                row.update(domain=dom, from_step=first, to_step=second)
                row.update(asdict(stats_))
                row.update(_shares(wide[first], wide[second], norms.get(dom), z))
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


def _groups(
    df: pd.DataFrame, by_cols: list[str], margins: bool, total_label: str
) -> list[tuple[tuple[Any, ...], pd.DataFrame]]:
    """(by values, rows) for each group, then each margin when asked for."""
    if not by_cols:
        return [((), df)]
    out = []
    subsets = [()]
    if margins:
        from itertools import combinations

        subsets += [c for r in range(1, len(by_cols) + 1) for c in combinations(by_cols, r)]
    for totalled in subsets:
        kept = [c for c in by_cols if c not in totalled]
        parts = df.groupby(kept, sort=True, dropna=False) if kept else [((), df)]
        for key, part in parts:
            key = key if isinstance(key, tuple) else (key,)
            values = dict(zip(kept, key, strict=True))
            out.append((tuple(values.get(c, total_label) for c in by_cols), part))
    return out


def _shares(
    pre: pd.Series, post: pd.Series, norm: ChangeNorms | None, z: float
) -> dict[str, float]:
    nan = float("nan")
    empty = {"share_improved": nan, "share_recovered": nan, "share_deteriorated": nan}
    if norm is None:
        return empty
    labels = classify_change(
        pre, post, norm.sd, norm.reliability, norm.cutoff, norm.higher_is_better, z=z
    ).dropna()
    if labels.empty:
        return empty
    return {
        "share_improved": float(labels.isin([IMPROVED, RECOVERED]).mean()),
        "share_recovered": float((labels == RECOVERED).mean()),
        "share_deteriorated": float((labels == DETERIORATED).mean()),
    }


# --------------------------------------------------------------------------- step means


STEP_MEAN_COLUMNS = ("n", "mean", "sd", "ci_lower", "ci_upper")


def step_means(
    df: pd.DataFrame,
    *,
    participant: str = "participant",
    step: str = "step",
    domain: str = "domain",
    score: str = "score",
    by: str | Sequence[str] | None = None,
    ci: float = 0.95,
    margins: bool = False,
    total_label: str = "Total",
) -> pd.DataFrame:
    """Mean score at each step, with its t-based CI, per (group of `by`, domain, step).

    Every score recorded at a step counts (participants need not have all three steps), so the
    n of each step is its own. The CI is mean +/- t(1 - (1 - ci)/2, n - 1) * SD / sqrt(n), as
    `scipy.stats.t.interval(ci, n - 1, loc=mean, scale=stats.sem(x))` gives; with n < 2 the SD
    and CI are NaN. Steps with no score still get a row (n 0), so that a chart has every step.
    `margins` and `total_label` work as in `outcomes_table`; suppress the result with
    `key_cols=["domain", "step"]` before it leaves the system.
    """
    ci = _check_ci(ci)
    by_cols = [by] if isinstance(by, str) else list(by or [])
    needed = [participant, step, domain, score, *by_cols]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ValidationError(f"step means need columns {missing}; the data has {list(df.columns)}")
    bad_steps = sorted(set(df[step].dropna().astype(str)) - set(STEPS))
    if bad_steps:
        raise ValidationError(f"unknown step(s) {bad_steps}; steps are {list(STEPS)}")
    if df.duplicated([participant, step, domain]).any():
        raise ValidationError("more than one score per participant, step and domain; keep one")
    rows = []
    for key, part in _groups(df, by_cols, margins, total_label):
        for dom, sub in part.groupby(domain, sort=True):
            for s in STEPS:
                x = pd.to_numeric(sub.loc[sub[step] == s, score], errors="coerce").dropna()
                x = x.to_numpy(dtype=float)
                n = int(x.size)
                mean = float(x.mean()) if n else float("nan")
                sd = lo = hi = float("nan")
                if n >= 2:
                    sd = float(x.std(ddof=1))
                    half = float(stats.t.ppf(0.5 + ci / 2, n - 1)) * sd / math.sqrt(n)
                    lo, hi = mean - half, mean + half
                row: dict[str, Any] = dict(zip(by_cols, key, strict=True))
                row.update(domain=dom, step=s, n=n, mean=mean, sd=sd, ci_lower=lo, ci_upper=hi)
                rows.append(row)
    return pd.DataFrame(rows, columns=[*by_cols, "domain", "step", *STEP_MEAN_COLUMNS])


# --------------------------------------------------------------------------- mixed model


@dataclass(frozen=True)
class RandomSlopeTest:
    """Likelihood-ratio test of a random slope for step (coded 0, 1, 2) with its covariance.

    Both models are fitted by REML with the same fixed effects, so their restricted likelihoods are
    comparable. The slope variance sits on the boundary (0) under the null, so the p-value uses the
    50:50 mixture of chi-square(1) and chi-square(2) (Self & Liang 1987; Stram & Lee 1994) instead
    of chi-square(2), which would be conservative.
    """

    lr: float
    p: float
    log_likelihood_intercept: float
    log_likelihood_slope: float
    slope_variance: float
    converged: bool
    note: str = ""


@dataclass(frozen=True)
class ThreeStepModel:
    """A fitted random-intercept model of one score across planning, midterm and conclusion."""

    fixed_effects: pd.DataFrame
    variance_components: pd.Series
    log_likelihood: float
    n_participants: int
    n_observations: int
    converged: bool
    random_slope_test: RandomSlopeTest | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def summary(self) -> pd.DataFrame:
        return self.fixed_effects

    def plot(self) -> Any:
        """Step effects against planning with their CIs, as a Plotly figure (shows nothing)."""
        import plotly.graph_objects as go

        fe = self.fixed_effects.loc[[f"step[{s}]" for s in STEPS[1:]]]
        fig = go.Figure(
            go.Scatter(
                x=list(STEPS),
                y=[0.0, *fe["coef"]],
                mode="markers+lines",
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [0.0, *(fe["ci_upper"] - fe["coef"])],
                    "arrayminus": [0.0, *(fe["coef"] - fe["ci_lower"])],
                },
            )
        )
        fig.update_layout(xaxis_title="step", yaxis_title="change from planning")
        return fig


def _design(
    df: pd.DataFrame, score: str, step: str, participant: str, covariates: Sequence[str]
) -> tuple[pd.Series, pd.DataFrame, pd.Series, pd.Series]:
    missing = [c for c in (score, step, participant, *covariates) if c not in df.columns]
    if missing:
        raise ValidationError(
            f"three-step model needs columns {missing}; the data has {list(df.columns)}"
        )
    data = df[[score, step, participant, *covariates]].dropna()
    bad = sorted(set(data[step].astype(str)) - set(STEPS))
    if bad:
        raise ValidationError(f"unknown step(s) {bad}; steps are {list(STEPS)}")
    if data[participant].nunique() < 3:
        raise ValidationError("the three-step model needs at least 3 participants with scores")
    steps = data[step].astype(str)
    exog = pd.DataFrame({"Intercept": 1.0}, index=data.index)
    for s in STEPS[1:]:
        exog[f"step[{s}]"] = (steps == s).astype(float)
    for cov in covariates:
        col = data[cov]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            exog[cov] = col.astype(float)
        else:
            dummies = pd.get_dummies(col.astype(str), prefix=cov, prefix_sep="[", drop_first=True)
            dummies.columns = [f"{c}]" for c in dummies.columns]
            exog = exog.join(dummies.astype(float))
    step_num = steps.map({s: float(i) for i, s in enumerate(STEPS)})
    return data[score].astype(float), exog, data[participant], step_num


def three_step_model(
    df: pd.DataFrame,
    score: str = "score",
    step: str = "step",
    participant: str = "participant",
    covariates: Sequence[str] = (),
    *,
    random_slope: bool = False,
    test_random_slope: bool = True,
    ci: float = 0.95,
) -> ThreeStepModel:
    """Fit score ~ step (+ covariates) with a random intercept per participant, by REML.

    Step is categorical with planning as reference (terms `step[midterm]`, `step[conclusion]`).
    Numeric covariates enter as they are, others as dummies named `cov[level]` (first level is the
    reference). Rows with a missing value are dropped (MixedLM uses every observed step of a
    participant, so those with one missing step still count). Tests are Wald z-tests, as in
    statsmodels' summary. `random_slope=True` adds a random slope for step (coded 0, 1, 2) to the
    reported model; `test_random_slope` compares the two by a likelihood-ratio test (see
    `RandomSlopeTest`). Equivalent call: `smf.mixedlm("score ~ C(step, Treatment('planning'))",
    df, groups=df["participant"]).fit(reml=True)`.
    """
    from statsmodels.regression.mixed_linear_model import MixedLM

    ci = _check_ci(ci)
    endog, exog, groups, step_num = _design(df, score, step, participant, covariates)
    re_int = pd.DataFrame({"participant": 1.0}, index=exog.index)
    re_slope = re_int.assign(step=step_num)
    caught: list[str] = []

    def fit(exog_re: pd.DataFrame) -> Any:
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            res = MixedLM(endog, exog, groups=groups, exog_re=exog_re).fit(reml=True)
        caught.extend(str(x.message) for x in w)
        return res

    res_int = fit(re_int)
    res_slope = fit(re_slope) if (random_slope or test_random_slope) else None
    res = res_slope if random_slope else res_int

    fe = res.fe_params
    se = res.bse_fe
    zval = fe / se
    q = stats.norm.ppf(0.5 + ci / 2)
    fixed = pd.DataFrame(
        {
            "coef": fe,
            "se": se,
            "z": zval,
            "p": 2 * stats.norm.sf(np.abs(zval)),
            "ci_lower": fe - q * se,
            "ci_upper": fe + q * se,
        }
    )
    fixed.index.name = "term"
    cov_re = np.asarray(res.cov_re)
    components = {"participant_intercept": float(cov_re[0, 0])}
    if random_slope:
        components["step_slope"] = float(cov_re[1, 1])
        components["intercept_slope_covariance"] = float(cov_re[0, 1])
    components["residual"] = float(res.scale)

    slope_test = None
    if test_random_slope and res_slope is not None:
        lr = max(0.0, 2 * (res_slope.llf - res_int.llf))
        p = 0.5 * stats.chi2.sf(lr, 1) + 0.5 * stats.chi2.sf(lr, 2)
        converged = bool(res_slope.converged)
        slope_test = RandomSlopeTest(
            lr=float(lr),
            p=float(p),
            log_likelihood_intercept=float(res_int.llf),
            log_likelihood_slope=float(res_slope.llf),
            slope_variance=float(np.asarray(res_slope.cov_re)[1, 1]),
            converged=converged,
            note="" if converged else "the random-slope model did not converge; treat p with care",
        )
    return ThreeStepModel(
        fixed_effects=fixed,
        variance_components=pd.Series(components, name="variance"),
        log_likelihood=float(res.llf),
        n_participants=int(groups.nunique()),
        n_observations=int(endog.size),
        converged=bool(res.converged),
        random_slope_test=slope_test,
        warnings=tuple(dict.fromkeys(caught)),
    )
