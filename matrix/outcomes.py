"""Programme outcomes across the three steps: paired change, effect sizes and the mixed model."""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, NamedTuple

import numpy as np
import pandas as pd
from scipy import optimize, special, stats
from scipy.optimize import elementwise

import vocab
from errors import ValidationError
from matrix.change import (
    DETERIORATED,
    IMPROVED,
    RECOVERED,
    UNCHANGED,
    ChangeNorms,
    classify_change,
)

STEPS = vocab.STEPS
STEP_PAIRS = vocab.STEP_PAIRS
MIN_PAIRS = 3


def _check_ci(ci: float) -> float:
    if not isinstance(ci, (int, float)) or not 0 < ci < 1:
        raise ValidationError("matrix.ci_level_between_such",
                              "ci must be a level between 0 and 1 such as 0.95, got {ci!r}",
                              ci=ci)
    return float(ci)


# --------------------------------------------------------------------------- Wilcoxon

# R's wilcox.test(post, pre, paired = TRUE) with its defaults (exact = NULL, correct = TRUE),
# stats/R/wilcox.test.R: zero differences are dropped; with n non-zero differences, the exact
# signed-rank distribution is used when n < 50 and no |difference| is tied and none was zero;
# otherwise the normal approximation with the tie-corrected variance and a continuity correction
# of 0.5 towards the mean. scipy.stats.wilcoxon's defaults differ (exact up to n = 50 inclusive,
# no continuity correction), so dscr does not call it.
WILCOXON_EXACT_BELOW = 50


@functools.lru_cache(maxsize=64)
def _signrank_counts(n: int) -> np.ndarray:
    """How many of the 2^n sign patterns give each V = 0 .. n(n+1)/2 (R's dsignrank x 2^n)."""
    counts = np.zeros(n * (n + 1) // 2 + 1, dtype=np.int64)
    counts[0] = 1
    for k in range(1, n + 1):
        counts[k:] = counts[k:] + counts[:-k].copy()
    return counts


def _signrank_exact_p(v: float, n: int) -> float:
    """Two-sided exact p of the signed-rank statistic V = W+ (integer when untied), as R."""
    counts = _signrank_counts(n)
    total = float(2**n)
    v = int(round(v))
    if v > n * (n + 1) / 4:
        p = counts[v:].sum() / total  # psignrank(V - 1, n, lower.tail = FALSE)
    else:
        p = counts[: v + 1].sum() / total  # psignrank(V, n)
    return float(min(2 * p, 1.0))


def _signrank_normal_p(r_plus: np.ndarray, n: np.ndarray, ties: np.ndarray) -> np.ndarray:
    """R's normal approximation: z = (V - n(n+1)/4 - 0.5 sign) / sqrt(n(n+1)(2n+1)/24 -
    sum(t^3 - t)/48), p = 2 Phi(-|z|); `ties` is sum(t^3 - t) over runs of tied |differences|."""
    n = np.asarray(n, dtype=float)
    centred = np.asarray(r_plus, dtype=float) - n * (n + 1) / 4
    sigma = np.sqrt(n * (n + 1) * (2 * n + 1) / 24 - np.asarray(ties, dtype=float) / 48)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (centred - 0.5 * np.sign(centred)) / sigma
        return 2 * special.ndtr(-np.abs(z))


def wilcoxon_signed_rank_p(pre: Any, post: Any) -> float:
    """Two-sided p of the Wilcoxon signed-rank test of post - pre, as R's
    `wilcox.test(post, pre, paired = TRUE)` with its defaults (see `WILCOXON_EXACT_BELOW`).
    NaN when every difference is zero."""
    diff = np.asarray(post, dtype=float) - np.asarray(pre, dtype=float)
    nonzero = diff[diff != 0]
    n = nonzero.size
    if n == 0:
        return float("nan")
    ranks = stats.rankdata(np.abs(nonzero))
    r_plus = float(ranks[nonzero > 0].sum())
    _, runs = np.unique(np.abs(nonzero), return_counts=True)
    if n < WILCOXON_EXACT_BELOW and n == diff.size and runs.size == n:
        return _signrank_exact_p(r_plus, n)
    ties = float((runs.astype(float) ** 3 - runs).sum())
    return float(_signrank_normal_p(np.array([r_plus]), np.array([n]), np.array([ties]))[0])


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
        # special.nctdtr is the function stats.nct.cdf evaluates, without its ~50 us of argument
        # checking per call (an outcomes table by cohort needs tens of thousands of calls).
        value = special.nctdtr(df, ncp, t_obs)
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
    R's `wilcox.test(post, pre, paired = TRUE)` with its defaults (`wilcoxon_signed_rank_p`) and
    `pingouin.compute_effsize(post, pre, paired=True, eftype=...)`. See `PairedChange` for the
    effect-size definitions and the small-sample rule.
    """
    ci = _check_ci(ci)
    a = pd.Series(pre).to_numpy(dtype=float, na_value=np.nan)
    b = pd.Series(post).to_numpy(dtype=float, na_value=np.nan)
    if a.shape != b.shape:
        raise ValidationError(
            "matrix.pre_post_one_score",
            "pre and post must have one score per participant, got {a_size} and {b_size} scores",
            a_size=a.size, b_size=b.size
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
    wilcoxon_p = wilcoxon_signed_rank_p(a, b)
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

    Every row equals `paired_change` (and `classify_change` for the shares) on that cell's pivot;
    the cells are computed together on arrays rather than one by one, so that a table of
    10,000 participants by cohort takes a fraction of a second.
    """
    by_cols = [by] if isinstance(by, str) else list(by or [])
    needed = [participant, step, domain, score, *by_cols]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ValidationError(
            "matrix.outcomes_table_needs_columns",
            "outcomes table needs columns {missing}; the data has {df_columns}",
            missing=missing, df_columns=list(df.columns)
        )
    bad_steps = sorted(set(df[step].dropna().astype(str)) - set(STEPS))
    if bad_steps:
        raise ValidationError("matrix.unknown_step_steps",
                              "unknown step(s) {bad_steps}; steps are {steps}",
                              bad_steps=bad_steps, steps=list(STEPS))
    dup = df.duplicated([participant, step, domain])
    if dup.any():
        first = df.loc[dup, [participant, step, domain]].iloc[0].tolist()
        raise ValidationError(
            "matrix.participant_more_one_score",
            "participant {first_first} has more than one {first} score at {first_2}; keep one "
            "score per participant, step and domain",
            first_first=first[0], first=first[2], first_2=first[1]
        )
    norms = dict(norms or {})
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
    cells = _groups(df, by_cols, domain, margins, total_label)
    keys = [key for level_keys, _ in cells.levels for key in level_keys]
    if not keys:
        return pd.DataFrame([], columns=columns)
    ci = _check_ci(ci)  # paired_change's check, made once
    pairs = _complete_pairs(df, cells, participant, step, score)
    n_rows = len(keys) * len(STEP_PAIRS)
    paired = _paired_stats(pairs.pre, pairs.post, pairs.row, n_rows, ci)
    shares = _shares(pairs, cells, norms, z, n_rows)
    labels = [(*key, first, second) for key in keys for first, second in STEP_PAIRS]
    values = [paired[c] for c in PAIRED_COLUMNS] + [s.tolist() for s in shares]
    # Built from rows, as the per-cell version was, so that pandas infers the same dtypes.
    rows = [(*label, *vals) for label, vals in zip(labels, zip(*values, strict=True), strict=True)]
    return pd.DataFrame(rows, columns=columns)


_PAIR_INDEX = tuple((STEPS.index(first), STEPS.index(second)) for first, second in STEP_PAIRS)
_FEW_PAIRS_NOTE = f"fewer than {MIN_PAIRS} complete pairs"
_SAME_CHANGE_NOTE = "every participant changed by the same amount: t and d_z are undefined"


class _Cells(NamedTuple):
    """The cells of a table, one level of grouping at a time, and the rows' domains."""

    # per level: each cell's (by values..., domain) in table order, and each row's cell (-1: none)
    levels: list[tuple[list[tuple[Any, ...]], np.ndarray]]
    domain_codes: np.ndarray  # each row's domain as a code into domain_values (-1: missing)
    domain_values: list[Any]


def _groups(
    df: pd.DataFrame, by_cols: list[str], domain: str, margins: bool, total_label: str
) -> _Cells:
    """The cells: the groups of `by` (then each margin when asked for), each split by domain.

    As `df.groupby(kept_by_cols, sort=True, dropna=False)` and then `.groupby(domain, sort=True)`
    give them: sorted, a missing `by` value a group of its own, a missing domain left out. Each
    column is factorized once, as groupby does it (`pd.factorize(sort=True,
    use_na_sentinel=False)`), so every level reuses the codes.
    """
    factors = {}
    for col in dict.fromkeys([*by_cols, domain]):
        codes, uniques = pd.factorize(df[col], sort=True, use_na_sentinel=False)
        factors[col] = (np.asarray(codes, dtype=np.int64), list(uniques.tolist()))
    dom_codes, dom_values = factors[domain]
    dom_missing = np.array([pd.isna(v) for v in dom_values], dtype=bool)
    dom_codes = np.where(dom_missing[dom_codes], -1, dom_codes) if dom_codes.size else dom_codes
    rows = np.flatnonzero(dom_codes >= 0)
    subsets: list[tuple[str, ...]] = [()]
    if margins and by_cols:
        from itertools import combinations

        subsets += [c for r in range(1, len(by_cols) + 1) for c in combinations(by_cols, r)]
    levels = []
    for totalled in subsets:
        kept = [c for c in by_cols if c not in totalled]
        # Lexicographic codes over (kept..., domain), kept dense as they grow.
        code, size = np.zeros(rows.size, dtype=np.int64), 1
        for col in [*kept, domain]:
            col_codes, col_values = factors[col]
            code, size = _dense(code * len(col_values) + col_codes[rows], size * len(col_values))
        cells = np.full(len(df), -1, dtype=np.int64)
        cells[rows] = code
        one_row = np.empty(size, dtype=np.int64)
        one_row[code] = rows  # any row of a cell has its values
        columns = {
            col: [factors[col][1][i] for i in factors[col][0][one_row].tolist()]
            for col in [*kept, domain]
        }
        keys = [
            (*(columns[c][i] if c in columns else total_label for c in by_cols), columns[domain][i])
            for i in range(size)
        ]
        levels.append((keys, cells))
    return _Cells(levels, dom_codes, dom_values)


def _dense(code: np.ndarray, size: int) -> tuple[np.ndarray, int]:
    """Renumber codes 0..k-1 keeping their order; k is how many distinct codes there are."""
    if size <= max(2 * code.size, 1 << 16):
        present = np.zeros(size, dtype=bool)
        present[code] = True
        return (np.cumsum(present) - 1)[code], int(present.sum())
    uniq, inverse = np.unique(code, return_inverse=True)
    return inverse.reshape(-1).astype(np.int64), int(uniq.size)


def _step_codes(steps: pd.Series) -> np.ndarray:
    """0, 1, 2 for planning, midterm, conclusion; -1 for a missing step."""
    codes, uniques = pd.factorize(steps)
    lookup = np.array([STEPS.index(s) if s in STEPS else -1 for s in uniques] + [-1])
    return lookup[codes]  # code -1 (missing) picks the final -1


def _stable_order(keys: np.ndarray, n_keys: int) -> np.ndarray:
    """argsort(kind="stable"); small keys as uint16, which numpy radix-sorts."""
    if n_keys <= np.iinfo(np.uint16).max:
        keys = keys.astype(np.uint16)
    return np.argsort(keys, kind="stable")


class _Pairs(NamedTuple):
    pre: np.ndarray  # every complete pair of every table row, sorted by row then participant
    post: np.ndarray
    row: np.ndarray
    pair: np.ndarray  # which (participant, domain, step pair) it is: an index into wide's pairs
    wide: np.ndarray  # scores of each (participant, domain) at the three steps
    wide_domain: np.ndarray  # the domain code of each wide row


def _complete_pairs(
    df: pd.DataFrame, cells: _Cells, participant: str, step: str, score: str
) -> _Pairs:
    """Every complete (pre, post) pair of every table row, in the per-cell pivot's order (by
    participant), so that the sums below add in the same order as `paired_change` did.

    A participant's scores in a domain are one row of `wide` whatever the grouping; a level pairs
    two of them when both fall in the same cell (a `by` value may change between steps).
    """
    x = df[score].to_numpy(dtype=float, na_value=np.nan)
    steps = _step_codes(df[step])
    people, _ = pd.factorize(df[participant], sort=True)
    n_people = int(people.max()) + 2 if people.size else 1
    people = np.where(people < 0, n_people - 1, people)  # a missing id pivots as one participant
    use = np.flatnonzero((steps >= 0) & ~np.isnan(x) & (cells.domain_codes >= 0))
    who, n_who = _dense(
        cells.domain_codes[use] * n_people + people[use], len(cells.domain_values) * n_people
    )
    wide = np.full((n_who, len(STEPS)), np.nan)
    wide[who, steps[use]] = x[use]
    wide_domain = np.empty(n_who, dtype=np.int64)
    wide_domain[who] = cells.domain_codes[use]
    rows, pair_ids = [], []
    offset = 0
    for keys, level_cells in cells.levels:
        cell_at = np.full((n_who, len(STEPS)), -1, dtype=np.int64)
        cell_at[who, steps[use]] = level_cells[use]
        for k, (first, second) in enumerate(_PAIR_INDEX):
            both = np.flatnonzero(
                (cell_at[:, first] >= 0) & (cell_at[:, first] == cell_at[:, second])
            )
            rows.append(offset + len(STEP_PAIRS) * cell_at[both, first] + k)
            pair_ids.append(both * len(STEP_PAIRS) + k)
        offset += len(STEP_PAIRS) * len(keys)
    row = np.concatenate(rows)
    order = _stable_order(row, offset)
    row, pair = row[order], np.concatenate(pair_ids)[order]
    first_step = np.array([f for f, _ in _PAIR_INDEX])[pair % len(STEP_PAIRS)]
    second_step = np.array([s for _, s in _PAIR_INDEX])[pair % len(STEP_PAIRS)]
    who_of = pair // len(STEP_PAIRS)
    return _Pairs(wide[who_of, first_step], wide[who_of, second_step], row, pair, wide, wide_domain)


def _paired_stats(
    pre: np.ndarray, post: np.ndarray, row: np.ndarray, n_rows: int, ci: float
) -> dict[str, Any]:
    """`paired_change` for every row at once; `row` is sorted and numbers the pairs' rows."""
    nan = float("nan")
    counts = np.bincount(row, minlength=n_rows)
    ends = np.cumsum(counts)
    starts = ends - counts
    diff = post - pre
    moments = {name: np.full(n_rows, nan) for name in ("mp", "vp", "mq", "vq", "md", "vd")}
    enough = counts >= MIN_PAIRS
    add = np.add.reduce
    # One small loop of numpy reductions: the same pairwise summation as ndarray.mean/var/std on
    # each cell's slice, hence the same bits (grouped sums would add in another order).
    for r, s, e in zip(
        np.flatnonzero(enough).tolist(),
        starts[enough].tolist(),
        ends[enough].tolist(),
        strict=True,
    ):
        n = e - s
        for values, m_name, v_name in ((pre, "mp", "vp"), (post, "mq", "vq"), (diff, "md", "vd")):
            x = values[s:e]
            mean = add(x) / n
            dev = x - mean
            moments[m_name][r] = mean
            moments[v_name][r] = add(dev * dev) / (n - 1)
    mean_diff = moments["md"]
    sd_diff = np.sqrt(moments["vd"])
    defined = enough & (sd_diff != 0)
    idx = np.flatnonzero(defined)
    n_def = counts[idx]
    df_def = (n_def - 1).astype(float)
    se = sd_diff[idx] / np.sqrt(n_def.astype(float))
    t_def = mean_diff[idx] / se
    q = stats.t.ppf(0.5 + ci / 2, df_def)
    out = {c: np.full(n_rows, nan) for c in PAIRED_COLUMNS if c not in ("n", "note")}
    out["t"][idx] = t_def
    out["p"][idx] = 2 * stats.t.sf(np.abs(t_def), df_def)
    out["ci_lower"][idx] = mean_diff[idx] - q * se
    out["ci_upper"][idx] = mean_diff[idx] + q * se
    out["d_z"][idx] = mean_diff[idx] / sd_diff[idx]
    out["d_z_ci_lower"][idx], out["d_z_ci_upper"][idx] = _d_z_cis(t_def, n_def, ci)
    out["mean_pre"], out["mean_post"] = moments["mp"], moments["mq"]
    out["mean_diff"], out["sd_diff"] = mean_diff, sd_diff
    out["df"][enough] = (counts[enough] - 1).astype(float)
    out["wilcoxon_p"] = _wilcoxon_p(pre, post, row, counts, enough)
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = np.sqrt((moments["vp"] + moments["vq"]) / 2)
        d_av = np.where(pooled > 0, mean_diff / pooled, nan)
        out["d_av"] = d_av
        out["hedges_g"] = d_av * (1 - 3 / (4 * (2 * counts) - 9))
    result: dict[str, Any] = {c: out[c].tolist() for c in out}
    result["n"] = counts.tolist()
    result["note"] = [
        _FEW_PAIRS_NOTE if not ok else _SAME_CHANGE_NOTE if sd == 0 else ""
        for ok, sd in zip(enough.tolist(), sd_diff.tolist(), strict=True)
    ]
    return result


def _wilcoxon_p(
    pre: np.ndarray, post: np.ndarray, row: np.ndarray, counts: np.ndarray, enough: np.ndarray
) -> np.ndarray:
    """`paired_change`'s Wilcoxon p for every row (`row` sorted; NaN where it gives NaN).

    R's rule (`wilcoxon_signed_rank_p`) on arrays: zeros dropped, average ranks of |d|; the normal
    approximation with continuity correction (`_signrank_normal_p`) for every row with a tie, a
    zero or at least 50 non-zero differences, the exact distribution for the others.
    """
    n_rows = counts.size
    diff = post - pre
    nonzero = diff != 0
    r, d = row[nonzero], diff[nonzero]
    mag = np.abs(d)
    # Sort by row, then |d| (order among equal |d| does not matter): two stable passes over small
    # integer codes, much faster than a float sort of many tied values.
    size_codes, sizes = pd.factorize(mag, sort=True)
    by_size = _stable_order(size_codes, len(sizes))
    order = by_size[_stable_order(r[by_size], n_rows)]
    r, d, mag = r[order], d[order], mag[order]
    count = np.bincount(r, minlength=n_rows)
    first = np.cumsum(count) - count
    new_run = np.ones(r.size, dtype=bool)
    new_run[1:] = (r[1:] != r[:-1]) | (mag[1:] != mag[:-1])
    run_start = np.flatnonzero(new_run)
    run_len = np.diff(np.append(run_start, r.size))
    run_rank = (run_start - first[r[run_start]] + 1) + (run_len - 1) / 2
    rank = np.repeat(run_rank, run_len)
    r_plus = np.bincount(r, weights=np.where(d > 0, rank, 0.0), minlength=n_rows)
    tie_len = run_len.astype(float)
    tie_correct = np.bincount(r[run_start], weights=tie_len**3 - tie_len, minlength=n_rows)
    tied_runs = np.bincount(r[run_start], weights=(run_len > 1).astype(float), minlength=n_rows)
    p = _signrank_normal_p(r_plus, count, tie_correct)
    tested = enough & (count > 0)  # all-zero differences: no test
    tied = (count < counts) | (tied_runs > 0)
    exact = tested & ~tied & (count < WILCOXON_EXACT_BELOW)
    out = np.where(tested & ~exact, p, np.nan)
    for i in np.flatnonzero(exact).tolist():
        out[i] = _signrank_exact_p(r_plus[i], int(count[i]))
    return out


def _d_z_cis(t: np.ndarray, n: np.ndarray, ci: float) -> tuple[np.ndarray, np.ndarray]:
    """`_d_z_ci` for many cells at once.

    The same inversion of the noncentral t, solved on arrays by `scipy.optimize.elementwise`
    (`bracket_root` from the same starting bracket, then `find_root`, Chandrupatla's method, to
    the same tolerance), so each bound agrees with `_d_z_ci`'s brentq to about 1e-12. A cell with
    a non-finite t, or one the solver does not settle, goes through `_d_z_ci` itself (and fails
    there as it would have).
    """
    t = np.asarray(t, dtype=float)
    n = np.asarray(n)
    lower, upper = np.full(t.size, np.nan), np.full(t.size, np.nan)
    finite = np.isfinite(t)
    pos = np.flatnonzero(finite)
    ok = np.zeros(pos.size, dtype=bool)
    if pos.size:
        t_f, df_f = t[finite], (n[finite] - 1).astype(float)
        sqrt_n = np.sqrt(n[finite].astype(float))
        step = 2.0 * np.sqrt(1 + t_f**2 / (2 * df_f)) + 1.0
        alpha = 1.0 - ci
        ok[:] = True
        for out, target in ((lower, 1 - alpha / 2), (upper, alpha / 2)):
            bracket = elementwise.bracket_root(_nct_gap, t_f - step, t_f + step,
                                               args=(t_f, df_f, target))
            found = elementwise.find_root(_nct_gap, tuple(bracket.bracket),
                                          args=(t_f, df_f, target),
                                          tolerances={"xatol": 1e-12, "xrtol": 4 * np.finfo(float).eps})
            out[pos] = found.x / sqrt_n
            ok &= bracket.success & found.success
    for i in np.concatenate([np.flatnonzero(~finite), pos[~ok]]).tolist():
        lower[i], upper[i] = _d_z_ci(float(t[i]), int(n[i]), ci)
    return lower, upper


def _nct_gap(ncp: np.ndarray, t: np.ndarray, df: np.ndarray, target: float) -> np.ndarray:
    """`_d_z_ci`'s f on arrays: the noncentral t cdf at t minus the target."""
    value = np.asarray(special.nctdtr(df, ncp, t), dtype=float)
    gone = np.isnan(value)
    if gone.any():
        value = np.where(gone, np.where(ncp < t, 1.0, 0.0), value)
    return value - target


def _shares(
    pairs: _Pairs, cells: _Cells, norms: Mapping[Any, ChangeNorms], z: float, n_rows: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """share_improved, share_recovered, share_deteriorated per row (NaN without a norm or a label).

    `classify_change` labels each participant's change once per domain (a pair's label does not
    depend on the grouping), then the labels are counted per row.
    """
    n_pairs = len(STEP_PAIRS)
    kind = np.zeros(pairs.wide.shape[0] * n_pairs, dtype=np.int8)  # 0: no label
    for d, dom in enumerate(cells.domain_values):
        norm = None if pd.isna(dom) else norms.get(dom)
        if norm is None:
            continue
        who = np.flatnonzero(pairs.wide_domain == d)
        pre = np.concatenate([pairs.wide[who, first] for first, _ in _PAIR_INDEX])
        post = np.concatenate([pairs.wide[who, second] for _, second in _PAIR_INDEX])
        ids = np.concatenate([who * n_pairs + k for k in range(n_pairs)])
        both = ~np.isnan(pre) & ~np.isnan(post)
        labels = classify_change(
            pre[both],
            post[both],
            norm.sd,
            norm.reliability,
            norm.cutoff,
            norm.higher_is_better,
            z=z,
        )
        ids = ids[both]
        for code, label in enumerate((IMPROVED, RECOVERED, DETERIORATED, UNCHANGED), start=1):
            kind[ids[labels == label]] = code
    kinds = kind[pairs.pair]
    total = np.bincount(pairs.row, weights=(kinds > 0).astype(float), minlength=n_rows)
    out = []
    for hit in ((kinds == 1) | (kinds == 2), kinds == 2, kinds == 3):
        count = np.bincount(pairs.row, weights=hit.astype(float), minlength=n_rows)
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append(np.where(total > 0, count / total, np.nan))
    return out[0], out[1], out[2]


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
        raise ValidationError("matrix.step_means_need_columns",
                              "step means need columns {missing}; the data has {df_columns}",
                              missing=missing, df_columns=list(df.columns))
    bad_steps = sorted(set(df[step].dropna().astype(str)) - set(STEPS))
    if bad_steps:
        raise ValidationError("matrix.unknown_step_steps",
                              "unknown step(s) {bad_steps}; steps are {steps}",
                              bad_steps=bad_steps, steps=list(STEPS))
    if df.duplicated([participant, step, domain]).any():
        raise ValidationError("matrix.more_one_score_per",
                              "more than one score per participant, step and domain; keep one")
    columns = [*by_cols, "domain", "step", *STEP_MEAN_COLUMNS]
    levels = _groups(df, by_cols, domain, margins, total_label).levels
    keys = [key for level_keys, _ in levels for key in level_keys]
    if not keys:
        return pd.DataFrame([], columns=columns)
    x = pd.to_numeric(df[score], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    steps = _step_codes(df[step])
    scored = (steps >= 0) & ~np.isnan(x)
    # One segment per (cell, step), the scores in the frame's order as the per-cell selection had.
    segs, vals = [], []
    offset = 0
    for level_keys, cells in levels:
        use = scored & (cells >= 0)
        segs.append(offset + len(STEPS) * cells[use] + steps[use])
        vals.append(x[use])
        offset += len(STEPS) * len(level_keys)
    seg = np.concatenate(segs)
    order = _stable_order(seg, offset)
    values = np.concatenate(vals)[order]
    n_rows = len(keys) * len(STEPS)
    counts = np.bincount(seg, minlength=n_rows)
    ends = np.cumsum(counts)
    mean, var = np.full(n_rows, np.nan), np.full(n_rows, np.nan)
    add = np.add.reduce
    for r, e in zip(np.flatnonzero(counts).tolist(), ends[counts > 0].tolist(), strict=True):
        n = int(counts[r])
        x_r = values[e - n : e]
        mean[r] = m = add(x_r) / n  # ndarray.mean's own sum, so the same bits
        if n >= 2:
            dev = x_r - m
            var[r] = add(dev * dev) / (n - 1)
    sd = np.sqrt(var)
    two = np.flatnonzero(counts >= 2)
    half = np.full(n_rows, np.nan)
    half[two] = (
        stats.t.ppf(0.5 + ci / 2, counts[two] - 1) * sd[two] / np.sqrt(counts[two].astype(float))
    )
    rows = [
        (*key, s, *vals)
        for (key, s), vals in zip(
            ((key, s) for key in keys for s in STEPS),
            zip(
                counts.tolist(),
                mean.tolist(),
                sd.tolist(),
                (mean - half).tolist(),
                (mean + half).tolist(),
                strict=True,
            ),
            strict=True,
        )
    ]
    return pd.DataFrame(rows, columns=columns)


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
    """A fitted random-intercept model of one score across planning, midterm and conclusion.

    `summary` (= `fixed_effects`): one row per fixed-effect term (Intercept, step[midterm],
    step[conclusion], covariates) with coef (score points), se, Wald z and p, and the Wald
    interval ci_lower, ci_upper on coef's scale; `plot()` draws the step effects. The same
    contract as models.survival.FittedResult.
    """

    summary_columns: ClassVar[tuple[str, ...]] = ("coef", "se", "z", "p", "ci_lower", "ci_upper")
    estimate_column: ClassVar[str] = "coef"

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
            "matrix.three_step_model_needs",
            "three-step model needs columns {missing}; the data has {df_columns}",
            missing=missing, df_columns=list(df.columns)
        )
    data = df[[score, step, participant, *covariates]].dropna()
    bad = sorted(set(data[step].astype(str)) - set(STEPS))
    if bad:
        raise ValidationError("matrix.unknown_step_steps_2",
                              "unknown step(s) {bad}; steps are {steps}",
                              bad=bad, steps=list(STEPS))
    if data[participant].nunique() < 3:
        raise ValidationError("matrix.three_step_model_needs_2",
                              "the three-step model needs at least 3 participants with scores")
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
