"""Committee reviews of programmes: agreement between raters and per-programme summaries."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from errors import ValidationError

ALL_INDICATORS = "(all)"

# The committee's rubric, for counseling and prevention programmes alike: four gender-sensitivity
# indicators, each rated 1..5. No public source names the committee's own four, so callers may
# pass others (`indicators=`); these are the deployment's default.
REVIEW_INDICATORS: tuple[str, ...] = (
    "gender_sensitive_language",    # 성인지적 언어 사용
    "consent_and_boundaries",       # 동의와 경계 교육
    "power_and_gender_norms",       # 권력과 성별 고정관념 다루기
    "victim_perspective",           # 피해자 관점 반영
)
REVIEW_SCALE = (1, 5)


def _validate_ratings(
    ratings: pd.DataFrame,
    indicators: Sequence[str],
    scale: tuple[int, int],
    programme: str,
    rater: str,
    indicator: str,
    score: str,
) -> pd.DataFrame:
    if not isinstance(ratings, pd.DataFrame):
        raise ValidationError(
            "matrix.ratings_dataframe_one_row",
            "ratings must be a DataFrame with one row per programme, rater and indicator"
        )
    missing = [c for c in (programme, rater, indicator, score) if c not in ratings.columns]
    if missing:
        raise ValidationError("matrix.ratings_need_columns_they",
                              "ratings need columns {missing}; they have {ratings_columns}",
                              missing=missing, ratings_columns=list(ratings.columns))
    if not indicators:
        raise ValidationError(
            "matrix.pass_configured_indicator_names",
            "pass the configured indicator names (e.g. the four gender-sensitivity indicators)"
        )
    low, high = scale
    if low >= high:
        raise ValidationError(
            "matrix.scale_lowest_highest_lowest",
            "scale must be (lowest, highest) with lowest < highest, got {scale!r}",
            scale=scale
        )
    data = ratings[[programme, rater, indicator, score]].copy()
    unknown = sorted(set(data[indicator].dropna().astype(str)) - {str(i) for i in indicators})
    if unknown:
        raise ValidationError(
            "matrix.unknown_indicator_configured_indicators",
            "unknown indicator(s) {unknown}; configured indicators are {indicators}",
            unknown=unknown, indicators=list(indicators)
        )
    data[score] = pd.to_numeric(data[score], errors="coerce")
    scored = data[score].dropna()
    bad = scored[(scored < low) | (scored > high) | (scored != np.round(scored))]
    if not bad.empty:
        row = data.loc[bad.index[0]]
        raise ValidationError(
            "matrix.rater_gave_programme_scores",
            "rater {row} gave programme {row_2} {row_3} = {row_4:g}; scores must be whole "
            "numbers {low}..{high}",
            row=row[rater], row_2=row[programme], row_3=row[indicator], row_4=row[score], low=low,
            high=high
        )
    dup = data.duplicated([programme, rater, indicator])
    if dup.any():
        row = data.loc[dup].iloc[0]
        raise ValidationError(
            "matrix.rater_rated_programme_more",
            "rater {row} rated programme {row_2} on {row_3} more than once; keep one rating "
            "(the latest) per programme, rater and indicator",
            row=row[rater], row_2=row[programme], row_3=row[indicator]
        )
    return data


def _spearman_brown(r: float, k: int) -> float:
    """ICC(2,1) bound -> ICC(2,k) bound. The map k r / (1 + (k - 1) r) has a pole at -1/(k-1):
    a bound at or below it means the average-measures ICC is unbounded below (-inf), where
    pingouin and psych print a number on the wrong side of the estimate."""
    denom = 1 + (k - 1) * r
    if denom <= 0:
        return float("-inf")
    return k * r / denom


def _icc2(wide: pd.DataFrame, ci: float) -> list[dict[str, float]]:
    """ICC(2,1) and ICC(2,k) from a complete targets x raters table (McGraw & Wong 1996, 2A)."""
    x = wide.to_numpy(dtype=float)
    n, k = x.shape
    grand = x.mean()
    ss_rows = k * ((x.mean(axis=1) - grand) ** 2).sum()
    ss_cols = n * ((x.mean(axis=0) - grand) ** 2).sum()
    ss_err = ((x - grand) ** 2).sum() - ss_rows - ss_cols
    df1, df_cols, df2 = n - 1, k - 1, (n - 1) * (k - 1)
    msb, msj, mse = ss_rows / df1, ss_cols / df_cols, ss_err / df2
    if np.isclose(mse, 0.0) or np.isclose(msb, 0.0):
        # Every rater gave the same scores (or every programme the same): agreement is undefined,
        # not perfect; say so instead of dividing by zero.
        nan = float("nan")
        common = {"F": nan, "df1": float(df1), "df2": float(df2), "p": nan, "n_programmes": n,
                  "n_raters": k}
        return [{"type": t, "icc": nan, "ci_lower": nan, "ci_upper": nan, **common}
                for t in ("ICC(2,1)", "ICC(2,k)")]
    icc1 = (msb - mse) / (msb + (k - 1) * mse + k * (msj - mse) / n)
    icck = (msb - mse) / (msb + (msj - mse) / n)
    f_value = msb / mse
    p = stats.f.sf(f_value, df1, df2)
    # Satterthwaite-type df for the interval (McGraw & Wong 1996, Table 7), as pingouin and psych.
    alpha = 1 - ci
    fj = msj / mse
    vn = df2 * (k * icc1 * fj + n * (1 + (k - 1) * icc1) - k * icc1) ** 2
    vd = df1 * k**2 * icc1**2 * fj**2 + (n * (1 + (k - 1) * icc1) - k * icc1) ** 2
    v = vn / vd
    f_u = stats.f.ppf(1 - alpha / 2, df1, v)
    f_l = stats.f.ppf(1 - alpha / 2, v, df1)
    lo = n * (msb - f_u * mse) / (f_u * (k * msj + (k * n - k - n) * mse) + n * msb)
    hi = n * (f_l * msb - mse) / (k * msj + (k * n - k - n) * mse + n * f_l * msb)
    common = {
        "F": f_value,
        "df1": float(df1),
        "df2": float(df2),
        "p": p,
        "n_programmes": n,
        "n_raters": k,
    }
    return [
        {"type": "ICC(2,1)", "icc": icc1, "ci_lower": lo, "ci_upper": hi, **common},
        {
            "type": "ICC(2,k)",
            "icc": icck,
            "ci_lower": _spearman_brown(lo, k),
            "ci_upper": _spearman_brown(hi, k),
            **common,
        },
    ]


def rater_agreement(
    ratings: pd.DataFrame,
    indicators: Sequence[str],
    scale: tuple[int, int] = (1, 5),
    *,
    programme: str = "programme",
    rater: str = "rater",
    indicator: str = "indicator",
    score: str = "score",
    ci: float = 0.95,
    include_overall: bool = True,
) -> pd.DataFrame:
    """Two-way random, absolute-agreement ICCs between committee raters, per indicator.

    ICC(2,1) is the reliability of one rater, ICC(2,k) of the mean of the k raters (Shrout & Fleiss
    1979; McGraw & Wong's ICC(A,1) and ICC(A,k)). Programmes are the targets. A programme that not
    every rater scored on an indicator is left out of that indicator (listwise, as
    `pingouin.intraclass_corr(..., nan_policy="omit")` and `psych::ICC(..., missing=TRUE)`).
    With `include_overall`, a row `(all)` treats each programme x indicator as a target, which
    mixes differences between indicators into the between-target variance: read it as agreement on
    the whole rubric, not on any one indicator.

    Columns: indicator, type, icc, ci_lower, ci_upper, F, df1, df2, p, n_programmes, n_raters.
    Reference: `pingouin.intraclass_corr(data, targets, raters, ratings)`, rows ICC(A,1) and
    ICC(A,k).
    """
    if not 0 < ci < 1:
        raise ValidationError("matrix.ci_between_such",
                              "ci must be between 0 and 1 such as 0.95, got {ci!r}",
                              ci=ci)
    data = _validate_ratings(ratings, indicators, scale, programme, rater, indicator, score)
    data = data.dropna(subset=[score])
    data["_ind"] = data[indicator].astype(str)
    sets: list[tuple[str, pd.DataFrame]] = []
    for ind in indicators:
        part = data[data["_ind"] == str(ind)]
        sets.append((str(ind), part.pivot(index=programme, columns=rater, values=score)))
    if include_overall and len(indicators) > 1:
        sets.append(
            (ALL_INDICATORS, data.pivot(index=[programme, "_ind"], columns=rater, values=score))
        )
    rows = []
    for name, wide in sets:
        wide = wide.dropna(axis=0, how="any")
        if wide.shape[0] < 2 or wide.shape[1] < 2:
            raise ValidationError(
                "matrix.indicator_agreement_needs_least",
                "indicator {name}: agreement needs at least 2 programmes scored by the same 2 "
                "or more raters; found {first_wide_shape} programme(s) rated by all of "
                "{wide_shape} rater(s)",
                name=name, first_wide_shape=wide.shape[0], wide_shape=wide.shape[1]
            )
        for row in _icc2(wide, ci):
            rows.append({"indicator": name, **row})
    columns = [
        "indicator",
        "type",
        "icc",
        "ci_lower",
        "ci_upper",
        "F",
        "df1",
        "df2",
        "p",
        "n_programmes",
        "n_raters",
    ]
    return pd.DataFrame(rows, columns=columns)


def programme_summary(
    ratings: pd.DataFrame,
    indicators: Sequence[str],
    scale: tuple[int, int] = (1, 5),
    *,
    programme: str = "programme",
    rater: str = "rater",
    indicator: str = "indicator",
    score: str = "score",
) -> pd.DataFrame:
    """Mean rating per programme and indicator, with the SD, range and number of raters.

    Indicators come back in configured order; a configured indicator nobody rated for a programme
    appears with n_raters 0 and NaN figures, so gaps are visible.
    """
    data = _validate_ratings(ratings, indicators, scale, programme, rater, indicator, score)
    data = data.dropna(subset=[score])
    data[indicator] = data[indicator].astype(str)
    grouped = data.groupby([programme, indicator])[score]
    summary = pd.DataFrame(
        {
            "mean": grouped.mean(),
            "sd": grouped.std(ddof=1),
            "min": grouped.min(),
            "max": grouped.max(),
            "n_raters": grouped.count(),
        }
    )
    programmes = sorted(ratings[programme].dropna().unique(), key=str)
    full = pd.MultiIndex.from_product(
        [programmes, [str(i) for i in indicators]], names=[programme, indicator]
    )
    summary = summary.reindex(full)
    summary["n_raters"] = summary["n_raters"].fillna(0).astype(int)
    return summary.reset_index()
