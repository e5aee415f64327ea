"""The effect of prevention education by audience: class-level pre -> post change with CIs, the mixed model, comparisons.

Pure: plain DataFrames in, DataFrames and small result objects out; no store, no Streamlit.

The class is the unit. Children answer anonymously, and a class may pair its pre and post sheets
with codes it made up, or not; either way each class gives one change:
- paired (every sheet carries a code): the mean of post - pre over the codes found at both times;
- unpaired: mean(post) - mean(pre), the two sheets' sets compared as independent samples.
A group's change is then the mean of its classes' changes with a t interval over classes
(df = classes - 1): the class is the cluster, so children of one class never count as independent
evidence. Reference: `scipy.stats.ttest_1samp(class_changes, 0).confidence_interval(0.95)`.

Scores are POMP (0-100, see `prevention.instruments.SurveyInstrument.score`), so audiences with
different forms share an axis. Satisfaction (1-5) is summarised apart and never enters a change.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

import vocab
from errors import Message, ValidationError

SHEET_COLUMNS = ("delivery", "programme", "audience", "format", "time", "pair_code", "score")
CHANGE_COLUMNS = ["n", "n_classes", "mean_pre", "mean_post", "change", "se", "ci_lower",
                  "ci_upper", "t", "p"]
MIN_CLASSES = 2
ALPHA = 0.05


def _check(sheets: pd.DataFrame, need: Sequence[str]) -> pd.DataFrame:
    if not isinstance(sheets, pd.DataFrame):
        raise ValidationError("prevention.sheets_dataframe",
                              "pass the survey sheets as a DataFrame, one row per sheet")
    missing = [c for c in need if c not in sheets.columns]
    if missing:
        raise ValidationError("prevention.sheets_columns",
                              "the sheets need columns {missing}; they have {columns}",
                              missing=missing, columns=list(sheets.columns))
    return sheets


def class_changes(sheets: pd.DataFrame) -> pd.DataFrame:
    """One row per class (delivery) with both pre and post sheets: its change and how it was made.

    Columns: delivery, programme, audience, format, present (when given), n_pre, n_post, n_pairs,
    paired, mean_pre, mean_post, change.
    """
    data = _check(sheets, SHEET_COLUMNS).copy()
    data["score"] = pd.to_numeric(data["score"], errors="raise").astype(float)
    rows = []
    for delivery, part in data.groupby("delivery", sort=True):
        pre, post = part[part["time"] == "pre"], part[part["time"] == "post"]
        if pre.empty or post.empty:
            continue
        codes = part["pair_code"]
        paired = bool(codes.notna().all()) and not codes.isna().any()
        row = {"delivery": delivery}
        for c in ("programme", "audience", "format"):
            row[c] = part[c].iloc[0]
        if "present" in part.columns:
            row["present"] = int(part["present"].iloc[0])
        row.update(n_pre=len(pre), n_post=len(post), paired=paired,
                   mean_pre=float(pre["score"].mean()), mean_post=float(post["score"].mean()))
        if paired:
            matched = pre.set_index("pair_code")["score"].to_frame("pre").join(
                post.set_index("pair_code")["score"].to_frame("post"), how="inner")
            row["n_pairs"] = len(matched)
            if matched.empty:
                continue
            row["change"] = float((matched["post"] - matched["pre"]).mean())
        else:
            row["n_pairs"] = 0
            row["change"] = row["mean_post"] - row["mean_pre"]
        rows.append(row)
    columns = ["delivery", "programme", "audience", "format", "present", "n_pre", "n_post",
               "n_pairs", "paired", "mean_pre", "mean_post", "change"]
    out = pd.DataFrame(rows, columns=columns)
    if "present" not in data.columns:
        out = out.drop(columns="present")
    return out


def _t_summary(values: np.ndarray, ci: float) -> dict[str, float]:
    k = len(values)
    mean = float(values.mean()) if k else float("nan")
    if k < MIN_CLASSES:
        nan = float("nan")
        return {"change": mean, "se": nan, "ci_lower": nan, "ci_upper": nan, "t": nan, "p": nan}
    sd = float(values.std(ddof=1))
    se = sd / np.sqrt(k)
    q = stats.t.ppf(0.5 + ci / 2, k - 1)
    if se == 0:
        t, p = (float("inf") * np.sign(mean) if mean else float("nan")), float("nan")
    else:
        t = mean / se
        p = float(2 * stats.t.sf(abs(t), k - 1))
    return {"change": mean, "se": se, "ci_lower": mean - q * se, "ci_upper": mean + q * se,
            "t": t, "p": p}


def change_by(classes: pd.DataFrame, by: Sequence[str] = ("audience",), *, ci: float = 0.95
              ) -> pd.DataFrame:
    """Mean class change per group with a t interval over its classes.

    `n` is the number of children the figure is about (the classes' `present`, else the larger
    of their pre and post sheets), which small-cell suppression reads; `n_classes` the clusters.
    A group with fewer than `MIN_CLASSES` classes has a change but no interval.
    """
    if not 0 < ci < 1:
        raise ValidationError("prevention.ci_level", "ci must be between 0 and 1, got {ci!r}",
                              ci=ci)
    by = list(by)
    _check(classes, [*by, "change", "mean_pre", "mean_post", "n_pre", "n_post"])
    rows = []
    for key, part in classes.groupby(by, sort=False) if by else [((), classes)]:
        key = key if isinstance(key, tuple) else (key,)
        people = (part["present"] if "present" in part.columns
                  else part[["n_pre", "n_post"]].max(axis=1))
        row = dict(zip(by, key))
        row.update(n=int(people.sum()), n_classes=len(part),
                   mean_pre=float(part["mean_pre"].mean()),
                   mean_post=float(part["mean_post"].mean()))
        row.update(_t_summary(part["change"].to_numpy(dtype=float), ci))
        rows.append(row)
    out = pd.DataFrame(rows, columns=[*by, *CHANGE_COLUMNS])
    return _ordered(out, by)


def _ordered(frame: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Rows in the vocabulary's order (youngest audience first), whatever order the data came in."""
    orders = {"audience": vocab.AUDIENCES, "format": vocab.EDUCATION_FORMATS}
    keys = []
    for c in by:
        if c in orders:
            rank = {v: i for i, v in enumerate(orders[c])}
            frame[f"_{c}"] = frame[c].map(lambda v, rank=rank: rank.get(v, len(rank)))
            keys.append(f"_{c}")
        else:
            keys.append(c)
    if keys:
        frame = frame.sort_values(keys, kind="stable")
    return frame.drop(columns=[k for k in keys if k.startswith("_")]).reset_index(drop=True)


def satisfaction_by(sheets: pd.DataFrame, by: Sequence[str] = ("audience",), *,
                    ci: float = 0.95) -> pd.DataFrame:
    """Mean satisfaction (1-5) of the post sheets per group, the class as the unit as for change.

    Shown beside learning change, never mixed into it. Columns: [by], n (answers), n_classes,
    mean, ci_lower, ci_upper.
    """
    by = list(by)
    data = _check(sheets, [*by, "delivery", "time", "satisfaction"])
    data = data[(data["time"] == "post") & data["satisfaction"].notna()].copy()
    data["satisfaction"] = data["satisfaction"].astype(float)
    rows = []
    for key, part in data.groupby(by, sort=False) if by else [((), data)]:
        key = key if isinstance(key, tuple) else (key,)
        means = part.groupby("delivery")["satisfaction"].mean().to_numpy()
        s = _t_summary(means, ci)
        rows.append({**dict(zip(by, key)), "n": len(part), "n_classes": len(means),
                     "mean": s["change"], "ci_lower": s["ci_lower"], "ci_upper": s["ci_upper"]})
    out = pd.DataFrame(rows, columns=[*by, "n", "n_classes", "mean", "ci_lower", "ci_upper"])
    return _ordered(out, by)


# --------------------------------------------------------------------------- the mixed model

@dataclass(frozen=True)
class AudienceModel:
    """score ~ audience * time with a random intercept per class (statsmodels MixedLM, REML).

    - `summary`: term, coef, se, z, p, ci_lower, ci_upper (fixed effects, reference audience and
      `pre` in the intercept).
    - `time_effects`: per audience, the model's post - pre (time coefficient plus its interaction)
      with its Wald interval.
    - `interaction`: the joint Wald test that every audience x time term is zero (chi2, df, p):
      whether audiences' changes differ beyond chance.
    Equivalent call: `smf.mixedlm("score ~ C(audience, Treatment(ref)) * C(time, Treatment('pre'))",
    data, groups=data["delivery"]).fit(reml=True)`.
    """

    reference: str
    summary: pd.DataFrame
    time_effects: pd.DataFrame
    interaction_chi2: float
    interaction_df: int
    interaction_p: float
    n_classes: int
    n_sheets: int
    converged: bool

    @property
    def audiences_differ(self) -> bool:
        return bool(self.interaction_p < ALPHA)

    def verdict(self) -> Message:
        """The plain sentence the committee reads under the table."""
        params = dict(chi2=f"{self.interaction_chi2:.2f}", df=self.interaction_df,
                      p=f"{self.interaction_p:.3f}")
        if self.audiences_differ:
            return Message("prevention.audiences_differ",
                           "The change differs between audiences beyond chance (audience x time: "
                           "chi2 = {chi2}, df = {df}, p = {p}).", **params)
        return Message("prevention.audiences_do_not_differ",
                       "The audiences' changes do not differ beyond chance (audience x time: "
                       "chi2 = {chi2}, df = {df}, p = {p}); read the differences between their "
                       "rows as noise.", **params)


def design(sheets: pd.DataFrame, reference: str) -> tuple[pd.DataFrame, list[str]]:
    """The fixed-effect design matrix of `fit_audience_model` (columns named as patsy would)."""
    audiences = [a for a in vocab.AUDIENCES if a in set(sheets["audience"]) and a != reference]
    post = (sheets["time"] == "post").astype(float).to_numpy()
    cols = {"Intercept": np.ones(len(sheets))}
    for a in audiences:
        cols[f"C(audience)[T.{a}]"] = (sheets["audience"] == a).astype(float).to_numpy()
    cols["C(time)[T.post]"] = post
    inter = []
    for a in audiences:
        name = f"C(audience)[T.{a}]:C(time)[T.post]"
        cols[name] = cols[f"C(audience)[T.{a}]"] * post
        inter.append(name)
    return pd.DataFrame(cols, index=sheets.index), inter


def fit_audience_model(sheets: pd.DataFrame, *, reference: str | None = None, ci: float = 0.95
                       ) -> AudienceModel:
    """Fit the audience x time mixed model on the sheets (class as random intercept)."""
    from statsmodels.regression.mixed_linear_model import MixedLM

    data = _check(sheets, ["delivery", "audience", "time", "score"]).dropna(subset=["score"])
    data = data.reset_index(drop=True)
    present = [a for a in vocab.AUDIENCES if a in set(data["audience"])]
    if len(present) < 2 or data["delivery"].nunique() < 4:
        raise ValidationError("prevention.model_needs_data",
                              "the model needs at least two audiences and four classes; found "
                              "{audiences} audience(s) in {classes} class(es)",
                              audiences=len(present), classes=int(data["delivery"].nunique()))
    reference = reference or present[0]
    exog, inter = design(data, reference)
    endog = data["score"].astype(float).to_numpy()
    groups = pd.factorize(data["delivery"])[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = MixedLM(endog, exog, groups=groups).fit(reml=True)
    names = list(exog.columns)
    fe = np.asarray(res.fe_params, dtype=float)
    cov = np.asarray(res.cov_params(), dtype=float)[: len(names), : len(names)]
    se = np.sqrt(np.diag(cov))
    q = stats.norm.ppf(0.5 + ci / 2)
    z = fe / se
    summary = pd.DataFrame({"term": names, "coef": fe, "se": se, "z": z,
                            "p": 2 * stats.norm.sf(np.abs(z)), "ci_lower": fe - q * se,
                            "ci_upper": fe + q * se})
    idx = [names.index(n) for n in inter]
    b = fe[idx]
    v = cov[np.ix_(idx, idx)]
    chi2 = float(b @ np.linalg.solve(v, b))
    effects = []
    t_col = names.index("C(time)[T.post]")
    for a in present:
        w = np.zeros(len(names))
        w[t_col] = 1.0
        if a != reference:
            w[names.index(f"C(audience)[T.{a}]:C(time)[T.post]")] = 1.0
        est, s = float(w @ fe), float(np.sqrt(w @ cov @ w))
        effects.append({"audience": a, "change": est, "se": s, "ci_lower": est - q * s,
                        "ci_upper": est + q * s})
    return AudienceModel(reference, summary, pd.DataFrame(effects), chi2, len(idx),
                         float(stats.chi2.sf(chi2, len(idx))), int(data["delivery"].nunique()),
                         len(data), bool(res.converged))


# --------------------------------------------------------------------------- comparisons

COMPARE_COLUMNS = ["audience", "programme", "origin", "n_classes", "n_classes_origin", "change",
                   "change_origin", "difference", "se", "df", "ci_lower", "ci_upper", "p"]


def compare_changes(tailored: np.ndarray, origin: np.ndarray, *, ci: float = 0.95
                    ) -> dict[str, float]:
    """Difference of mean class changes (tailored - origin), Welch's t interval.

    Reference: `scipy.stats.ttest_ind(tailored, origin, equal_var=False)`.
    """
    a, b = np.asarray(tailored, dtype=float), np.asarray(origin, dtype=float)
    diff = float(a.mean() - b.mean()) if len(a) and len(b) else float("nan")
    if len(a) < MIN_CLASSES or len(b) < MIN_CLASSES:
        nan = float("nan")
        return {"difference": diff, "se": nan, "df": nan, "ci_lower": nan, "ci_upper": nan,
                "p": nan}
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = float(np.sqrt(va + vb))
    df = float((va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1)))
    q = stats.t.ppf(0.5 + ci / 2, df)
    p = float(2 * stats.t.sf(abs(diff / se), df)) if se > 0 else float("nan")
    return {"difference": diff, "se": se, "df": df, "ci_lower": diff - q * se,
            "ci_upper": diff + q * se, "p": p}


# --------------------------------------------------------------------------- the forest plot

def forest_plot(table: pd.DataFrame, *, label: str = "audience", labels: dict | None = None,
                title: str = "", x_title: str = "change (POMP, 0-100)"):
    """A Plotly forest plot of change and CI per row (hidden rows left out); shows nothing.
    `x_title` names the axis in the reader's language (the dashboard passes its catalogue's)."""
    import plotly.graph_objects as go

    rows = table.dropna(subset=["change"]) if "change" in table.columns else table.iloc[:0]
    rows = rows[pd.to_numeric(rows["ci_lower"], errors="coerce").notna()]
    names = [(labels or {}).get(v, str(v)) for v in rows[label]]
    change = rows["change"].astype(float).to_numpy()
    fig = go.Figure(go.Scatter(
        x=change, y=names, mode="markers",
        error_x=dict(type="data", symmetric=False,
                     array=rows["ci_upper"].astype(float).to_numpy() - change,
                     arrayminus=change - rows["ci_lower"].astype(float).to_numpy()),
        marker=dict(size=10)))
    fig.add_vline(x=0, line_dash="dot")
    fig.update_layout(title=title, xaxis_title=x_title,
                      yaxis=dict(autorange="reversed"), height=120 + 40 * len(names))
    return fig
