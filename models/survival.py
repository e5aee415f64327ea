"""Time to reoffending: Kaplan-Meier, log-rank tests and Cox models, fixed and time-varying."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from scipy import stats
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.tools.sm_exceptions import ConvergenceWarning

from errors import ValidationError
from models.discrimination import harrell_c
from models.validation import check_columns, check_durations, check_events, show_id

# Days per month used only to relabel the time axis of plots.
DAYS_PER_MONTH = 365.25 / 12
TIME_UNITS = {"days": 1.0, "months": DAYS_PER_MONTH}
# Fewer events per covariate than this give unstable, biased hazard ratios
# (Vittinghoff & McCulloch 2007 found 5-9 often acceptable; Peduzzi 1996 advised 10).
MIN_EVENTS_PER_COVARIATE = 5


class FittedResult(Protocol):
    """What every fitted result of dscr's statistics gives a page, an export or a test.

    `summary`: a DataFrame whose columns are exactly `summary_columns`, documented on the class;
    where a row has an interval, `ci_lower <= estimate_column <= ci_upper`. `plot()`: a Plotly
    `go.Figure`, showing nothing (the page calls `st.plotly_chart`). Kaplan-Meier, cumulative
    incidence, the Cox models and `matrix.outcomes.ThreeStepModel` follow it; one test
    (tests/models/test_result_contract.py) checks them all.
    """

    summary_columns: ClassVar[tuple[str, ...]]
    estimate_column: ClassVar[str]

    @property
    def summary(self) -> pd.DataFrame: ...

    def plot(self) -> go.Figure: ...


# ---------------------------------------------------------------- validation


def _z(ci: float) -> float:
    if not 0 < ci < 1:
        raise ValidationError("models.ci_between_example",
                              "ci must be between 0 and 1 (for example 0.95), got {ci}",
                              ci=ci)
    return float(stats.norm.ppf(1 - (1 - ci) / 2))


def _check_covariates(df: pd.DataFrame, covariates: Sequence[str]) -> np.ndarray:
    covariates = list(covariates)
    if not covariates:
        raise ValidationError("models.covariates_empty_name_least",
                              "covariates is empty; name at least one column to model")
    if len(set(covariates)) != len(covariates):
        raise ValidationError("models.covariates_lists_column_twice",
                              "covariates lists a column twice: {covariates}",
                              covariates=covariates)
    for c in covariates:
        col = df[c]
        if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
            raise ValidationError(
                "models.covariate_not_numeric_encode",
                "covariate '{c}' is {col_dtype}, not numeric; encode categories as 0/1 "
                "indicator columns (pandas.get_dummies with drop_first=True)",
                c=c, col_dtype=col.dtype
            )
        if col.isna().any():
            raise ValidationError(
                "models.covariate_missing_value_impute",
                "covariate '{c}' has {sum} missing value(s); impute them or drop those rows "
                "before fitting (a Cox model cannot use incomplete rows)",
                c=c, sum=int(col.isna().sum())
            )
        values = col.to_numpy(dtype=float)
        if not np.isfinite(values).all():
            raise ValidationError("models.covariate_infinite_values_fix",
                                  "covariate '{c}' has infinite values; fix or drop those rows",
                                  c=c)
        if np.ptp(values) == 0:
            raise ValidationError(
                "models.covariate_constant_every_row",
                "covariate '{c}' is constant (every row is {first_values}); a constant has no "
                "hazard ratio, drop it from covariates",
                c=c, first_values=values[0]
            )
    return df[covariates].to_numpy(dtype=float)


def _check_enough_events(n_events: int, n_covariates: int, min_per_covariate: float) -> None:
    needed = max(1, int(np.ceil(min_per_covariate * n_covariates)))
    if n_events < needed:
        raise ValidationError(
            "models.event_covariate_least_needed",
            "only {n_events} event(s) for {n_covariates} covariate(s); at least {needed} are "
            "needed ({min_per_covariate:g} per covariate). Drop covariates, lengthen follow-up, "
            "or pass a smaller min_events_per_covariate knowing the estimates will be unstable",
            n_events=n_events, n_covariates=n_covariates, needed=needed,
            min_per_covariate=min_per_covariate
        )


# ---------------------------------------------------------------- Kaplan-Meier


def _km_table(time: np.ndarray, event: np.ndarray, z: float) -> pd.DataFrame:
    """One group's product-limit table, with a row at time 0, in lifelines' layout."""
    grid = np.unique(np.r_[0.0, time])
    order = np.argsort(time, kind="stable")
    t_sorted = time[order]
    at_risk = len(time) - np.searchsorted(t_sorted, grid, side="left")
    events = np.bincount(np.searchsorted(grid, time[event == 1]), minlength=len(grid))
    removed = np.bincount(np.searchsorted(grid, time), minlength=len(grid))
    censored = removed - events
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(1.0 - np.where(at_risk > 0, events / at_risk, 0.0))
        # Greenwood; lifelines sets the term to 0 where everyone at risk has the event.
        term = np.where(at_risk > events, events / (at_risk * (at_risk - events)), 0.0)
        greenwood = np.cumsum(term)
        v = np.log(surv)
        # log(-log S) interval (Kalbfleisch-Prentice), lifelines' and R's conf.type="log-log"
        lower = np.exp(-np.exp(np.log(-v) - z * np.sqrt(greenwood) / v))
        upper = np.exp(-np.exp(np.log(-v) + z * np.sqrt(greenwood) / v))
    lower = np.where(surv == 1.0, 1.0, lower)
    upper = np.where(surv == 1.0, 1.0, upper)
    # Undefined once the curve reaches 0 (R gives NA there too).
    lower = np.where(surv == 0.0, np.nan, lower)
    upper = np.where(surv == 0.0, np.nan, upper)
    return pd.DataFrame(
        {
            "time": grid,
            "at_risk": at_risk.astype(int),
            "events": events.astype(int),
            "censored": censored.astype(int),
            "survival": surv,
            "ci_lower": lower,
            "ci_upper": upper,
        }
    )


def _median(table: pd.DataFrame) -> float:
    # First time the curve is at or below 0.5, as lifelines; inf when it never gets there.
    hit = table.loc[table["survival"] <= 0.5, "time"]
    return float(hit.iloc[0]) if len(hit) else float("inf")


def _step_at(table: pd.DataFrame, times: np.ndarray, column: str, before: float) -> np.ndarray:
    """Right-continuous step function read from `table`; NaN beyond the last follow-up time."""
    grid = table["time"].to_numpy()
    values = table[column].to_numpy()
    idx = np.searchsorted(grid, times, side="right") - 1
    out = np.where(idx >= 0, values[np.clip(idx, 0, None)], before)
    return np.where(times > grid[-1], np.nan, out)


@dataclass(frozen=True)
class LogRankResult:
    """k-group log-rank test: chi-square statistic with k-1 degrees of freedom."""

    statistic: float
    df: int
    p: float


def logrank_test(time: np.ndarray, event: np.ndarray, groups: np.ndarray) -> LogRankResult:
    """k-group log-rank test (lifelines.statistics.multivariate_logrank_test, R survdiff)."""
    labels, g = np.unique(groups, return_inverse=True)
    k = len(labels)
    if k < 2:
        raise ValidationError("models.log_rank_test_needs",
                              "the log-rank test needs at least two groups, got one")
    event_times = np.unique(time[event == 1])
    observed = np.zeros(k)
    expected = np.zeros(k)
    var = np.zeros((k, k))
    at_risk_by_group = np.array(
        [[np.sum((time >= t) & (g == j)) for j in range(k)] for t in event_times], dtype=float
    ).reshape(len(event_times), k)
    deaths_by_group = np.array(
        [[np.sum((time == t) & (event == 1) & (g == j)) for j in range(k)] for t in event_times],
        dtype=float,
    ).reshape(len(event_times), k)
    for n_j, d_j in zip(at_risk_by_group, deaths_by_group):
        n, d = n_j.sum(), d_j.sum()
        observed += d_j
        expected += d * n_j / n
        if n > 1:
            p = n_j / n
            var += d * (n - d) / (n - 1) * (np.diag(p) - np.outer(p, p))
    diff = (observed - expected)[:-1]
    stat = float(diff @ np.linalg.solve(var[:-1, :-1], diff))
    return LogRankResult(statistic=stat, df=k - 1, p=float(stats.chi2.sf(stat, k - 1)))


@dataclass
class KaplanMeierResult:
    """Kaplan-Meier curves: `.summary`, `.table` per group, `.median`, `.logrank`,
    `.survival_at`, `.plot`.

    `summary`: one row per group and time (time 0 included) with group ("all" when ungrouped),
    time, at_risk (followed at t), events, censored, survival (S(t)) and its log(-log) interval
    ci_lower, ci_upper (NaN where S is 0). `table` is the same without `group` when ungrouped.
    """

    table: pd.DataFrame
    groups: list | None
    ci: float
    logrank: LogRankResult | None = None
    _tables: dict = field(default_factory=dict, repr=False)

    summary_columns: ClassVar[tuple[str, ...]] = (
        "group", "time", "at_risk", "events", "censored", "survival", "ci_lower", "ci_upper",
    )
    estimate_column: ClassVar[str] = "survival"

    @property
    def summary(self) -> pd.DataFrame:
        if self.groups is None:
            return self.table.assign(group="all")[list(self.summary_columns)]
        return self.table[list(self.summary_columns)].copy()

    @property
    def median(self) -> float | pd.Series:
        """Median time to event; inf where the curve never falls to 0.5 (not reached)."""
        if self.groups is None:
            return _median(self._tables[None])
        return pd.Series({g: _median(self._tables[g]) for g in self.groups}, name="median")

    def survival_at(self, times: float | Sequence[float]) -> pd.Series | pd.DataFrame:
        """S(t) read off the step function, right-continuous; NaN after a group's last follow-up.

        A Series indexed by time when ungrouped, else a DataFrame with a column per group.
        """
        t = np.atleast_1d(np.asarray(times, dtype=float))
        index = pd.Index(t, name="time")
        if self.groups is None:
            return pd.Series(
                _step_at(self._tables[None], t, "survival", 1.0), index=index, name="survival"
            )
        return pd.DataFrame(
            {g: _step_at(self._tables[g], t, "survival", 1.0) for g in self.groups}, index=index
        )

    def plot(
        self,
        time_unit: str = "days",
        title: str = "Time to reoffending (Kaplan-Meier)",
        risk_table_times: Sequence[float] | None = None,
    ) -> go.Figure:
        """Step curves with CI bands and a number-at-risk table under the plot."""
        if time_unit not in TIME_UNITS:
            raise ValidationError("models.time_unit_one",
                                  "time_unit must be one of {time_units}, got {time_unit!r}",
                                  time_units=list(TIME_UNITS), time_unit=time_unit)
        scale = TIME_UNITS[time_unit]
        keys = [None] if self.groups is None else list(self.groups)
        fig = make_subplots(
            rows=2, cols=1, shared_xaxes=True, row_heights=[0.8, 0.2], vertical_spacing=0.06
        )
        palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
        last = max(float(self._tables[k]["time"].iloc[-1]) for k in keys)
        if risk_table_times is None:
            step = 365.0 if last > 3 * 365 else (182.0 if last > 365 else max(last / 4, 1.0))
            risk_table_times = np.arange(0.0, last + 1e-9, step)
        ticks = np.asarray(risk_table_times, dtype=float)
        for i, key in enumerate(keys):
            tab = self._tables[key]
            name = "all" if key is None else str(key)
            colour = palette[i % len(palette)]
            x = tab["time"].to_numpy() / scale
            # Band as a closed polygon traced along the upper then back along the lower step.
            ok = tab["ci_lower"].notna().to_numpy()
            xs = np.repeat(x[ok], 2)[1:]
            up = np.repeat(tab["ci_upper"].to_numpy()[ok], 2)[:-1]
            lo = np.repeat(tab["ci_lower"].to_numpy()[ok], 2)[:-1]
            fig.add_trace(
                go.Scatter(
                    x=np.r_[xs, xs[::-1]],
                    y=np.r_[up, lo[::-1]],
                    fill="toself",
                    fillcolor=colour,
                    opacity=0.15,
                    line={"width": 0},
                    hoverinfo="skip",
                    showlegend=False,
                    name=f"{name} {self.ci:.0%} CI",
                ),
                row=1,
                col=1,
            )
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=tab["survival"],
                    mode="lines",
                    line={"shape": "hv", "color": colour},
                    name=name,
                ),
                row=1,
                col=1,
            )
            grid, n_at = tab["time"].to_numpy(), tab["at_risk"].to_numpy()
            # At risk at t = still followed at t: the first table row at or after t.
            pos = np.searchsorted(grid, ticks, side="left")
            counts = np.where(pos < len(grid), n_at[np.clip(pos, 0, len(grid) - 1)], 0)
            fig.add_trace(
                go.Scatter(
                    x=ticks / scale,
                    y=[name] * len(ticks),
                    mode="text",
                    text=[str(c) for c in counts],
                    showlegend=False,
                    hoverinfo="skip",
                    textfont={"color": colour},
                ),
                row=2,
                col=1,
            )
        fig.update_yaxes(title_text="Proportion not reoffended", range=[0, 1.02], row=1, col=1)
        fig.update_yaxes(title_text="Number at risk", row=2, col=1, showgrid=False)
        fig.update_xaxes(title_text=f"Time since programme end ({time_unit})", row=2, col=1)
        fig.update_layout(title=title, template="plotly_white")
        return fig


def kaplan_meier(
    df: pd.DataFrame,
    duration: str,
    event: str,
    group: str | None = None,
    ci: float = 0.95,
) -> KaplanMeierResult:
    """Kaplan-Meier estimate with Greenwood variance and log(-log) intervals.

    Reference: lifelines.KaplanMeierFitter (defaults) and, with `group`,
    lifelines.statistics.multivariate_logrank_test; R: survfit(Surv(t, e) ~ g,
    conf.type="log-log") and survdiff.
    """
    z = _z(ci)
    check_columns(df, [duration, event] + ([group] if group else []))
    time = check_durations(df[duration], duration)
    ev = check_events(df[event], event)
    if len(time) == 0:
        raise ValidationError("models.data_frame_empty_nothing",
                              "the data frame is empty; nothing to estimate")
    if group is None:
        tab = _km_table(time, ev, z)
        return KaplanMeierResult(table=tab, groups=None, ci=ci, _tables={None: tab})
    g = df[group]
    if g.isna().any():
        raise ValidationError(
            "models.group_column_missing_value",
            "group column '{group}' has {sum} missing value(s); label them (for example "
            "'unknown') or drop them",
            group=group, sum=int(g.isna().sum())
        )
    g = g.to_numpy()
    labels = sorted(pd.unique(g).tolist(), key=str)
    tables = {}
    for lab in labels:
        mask = g == lab
        tables[lab] = _km_table(time[mask], ev[mask], z)
    table = pd.concat([tables[lab].assign(group=lab) for lab in labels], ignore_index=True)[
        ["group", "time", "at_risk", "events", "censored", "survival", "ci_lower", "ci_upper"]
    ]
    lr = logrank_test(time, ev, g) if len(labels) > 1 else None
    return KaplanMeierResult(table=table, groups=labels, ci=ci, logrank=lr, _tables=tables)


# ---------------------------------------------------------------- Cox


@dataclass(frozen=True)
class TestResult:
    """A chi-square test."""

    statistic: float
    df: int
    p: float


# The columns of a Cox summary. `ci_lower`/`ci_upper` are always on the scale of `coef` (the log
# hazard ratio), as in every dscr summary; the hazard-ratio scale has its own named columns.
COX_SUMMARY_COLUMNS = (
    "coef", "se", "ci_lower", "ci_upper", "hazard_ratio", "hr_ci_lower", "hr_ci_upper", "z", "p",
)


def _summary(names: Sequence[str], coef: np.ndarray, se: np.ndarray, z_crit: float) -> pd.DataFrame:
    """coef, se, its Wald CI (`ci_lower`, `ci_upper`), the same on the hazard-ratio scale
    (`hazard_ratio`, `hr_ci_lower`, `hr_ci_upper` = lifelines' exp(coef) and its 95% bounds),
    z and the two-sided p."""
    zval = coef / se
    lower, upper = coef - z_crit * se, coef + z_crit * se
    with np.errstate(over="ignore"):  # an unbounded interval is inf: see `unbounded_covariates`
        ratios = np.exp(coef), np.exp(lower), np.exp(upper)
    return pd.DataFrame(
        {
            "coef": coef,
            "se": se,
            "ci_lower": lower,
            "ci_upper": upper,
            "hazard_ratio": ratios[0],
            "hr_ci_lower": ratios[1],
            "hr_ci_upper": ratios[2],
            "z": zval,
            "p": 2 * stats.norm.sf(np.abs(zval)),
        },
        index=pd.Index(list(names), name="covariate"),
    )[list(COX_SUMMARY_COLUMNS)]


# A hazard ratio's interval wider than this (upper / lower bound) says the data cannot bound it.
UNBOUNDED_RATIO = 1e4


def unbounded_covariates(summary: pd.DataFrame) -> list[str]:
    """The covariates whose hazard ratio the data leave unbounded: an interval spanning more than
    four orders of magnitude (or overflowing to infinity). It is what quasi-separation looks like
    when the fit still converges: no events (or only events) in a small category, so the
    likelihood flattens out in one direction and the standard error explodes (lifelines warns of
    the same as "complete separation"). Such a hazard ratio is not an estimate: merge the
    category or drop the covariate."""
    with np.errstate(divide="ignore", invalid="ignore"):
        width = summary["hr_ci_upper"] / summary["hr_ci_lower"]
    flagged = ~np.isfinite(summary["hr_ci_upper"]) | (summary["hr_ci_lower"] <= 0) | (width > UNBOUNDED_RATIO)
    return [str(c) for c in summary.index[flagged.to_numpy()]]


def _fit_phreg(model: PHReg, names: Sequence[str], x: np.ndarray):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        res = model.fit(method="newton", maxiter=200, tol=1e-10)
    failed = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    params = np.asarray(res.params, dtype=float)
    cov = np.asarray(res.cov_params(), dtype=float)
    _refuse_divergent(params, cov, x, names, converged=not failed)
    return res, params, cov


def _refuse_divergent(beta: np.ndarray, cov: np.ndarray, x: np.ndarray, names, *,
                      converged: bool) -> None:
    """Refuse a Cox fit whose coefficients are not real, naming the covariates."""
    # A hazard ratio beyond e^10 per standard deviation is never real: the likelihood has no
    # maximum (monotone likelihood) and Newton's steps have wandered off.
    per_sd = np.abs(beta) * x.std(axis=0)
    bad = ~np.isfinite(beta) | ~np.isfinite(np.diag(cov)) | (np.diag(cov) < 0) | (per_sd > 10)
    if not converged and not bad.any():
        bad = np.ones(len(beta), dtype=bool)
    if bad.any():
        raise ValidationError(
            "models.cox_model_did_not",
            "the Cox model did not converge (covariate(s) {covariates} have no finite hazard "
            "ratio); usually every event falls in one category: merge categories or drop the "
            "covariate",
            covariates=", ".join(str(n) for n, b in zip(names, bad) if b)
        )


# ---------------------------------------------------------------- the Cox partial likelihood


class _RiskSets:
    """One stratum's rows sorted by time, with what every Newton step needs: the index of each
    row's distinct time, where each time's rows start, and one entry per event with its Efron
    fraction l/d (0 for Breslow) among the d events sharing its day."""

    def __init__(self, time: np.ndarray, event: np.ndarray, x: np.ndarray, ties: str) -> None:
        order = np.argsort(time, kind="stable")
        self.time = time[order]
        self.event = event[order].astype(float)
        self.x = x[order]
        self.grid, self.starts, self.inverse = np.unique(
            self.time, return_index=True, return_inverse=True)
        d = np.bincount(self.inverse, weights=self.event, minlength=len(self.grid))
        with_events = np.flatnonzero(d > 0)
        counts = d[with_events].astype(int)
        # Event rows are in time order, so each day's events are contiguous: entry j of the
        # per-event arrays is event row j.
        self.event_rows = np.flatnonzero(self.event == 1)
        self.event_starts = np.cumsum(counts) - counts
        self.event_group = np.repeat(with_events, counts)
        self.event_day = np.repeat(np.arange(len(with_events)), counts)
        if ties == "efron":
            within = np.arange(counts.sum()) - np.repeat(self.event_starts, counts)
            self.fraction = within / np.repeat(counts, counts)
        else:
            self.fraction = np.zeros(counts.sum())
        self.x_events = self.x[self.event_rows].sum(axis=0)

    def terms(self, beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Log partial likelihood, its gradient and Hessian at beta (Efron or Breslow).

        With phi_j = S0(t_j) - f_j T0(t_j) for the j-th event (S the risk set's sums of
        theta = exp(x beta), T the same over the day's events, f its Efron fraction), the
        information sum_j [S2 - f_j T2](t_j) / phi_j - m_j m_j' (m_j = [S1 - f_j T1] / phi_j) is
        sum_i theta_i c_i x_i x_i' - sum_j m_j m_j', where c_i sums 1/phi_j over the events at or
        before row i's time, less f_j/phi_j over its own day's if row i is an event: one
        n x p product instead of a p x p matrix per day.
        """
        eta = self.x @ beta
        shift = eta.max()
        theta = np.exp(eta - shift)  # a common factor cancels in every ratio below
        tx = theta[:, None] * self.x
        s0 = np.add.reduceat(theta, self.starts)[::-1].cumsum()[::-1]
        s1 = np.add.reduceat(tx, self.starts, axis=0)[::-1].cumsum(axis=0)[::-1]
        rows = self.event_rows
        t0 = np.add.reduceat(theta[rows], self.event_starts)
        t1 = np.add.reduceat(tx[rows], self.event_starts, axis=0)
        g, day, f = self.event_group, self.event_day, self.fraction
        phi = s0[g] - f * t0[day]
        mean = (s1[g] - f[:, None] * t1[day]) / phi[:, None]
        loglik = float(eta[rows].sum() - (np.log(phi) + shift).sum())
        gradient = self.x_events - mean.sum(axis=0)
        k = len(self.grid)
        reach = np.bincount(g, weights=1.0 / phi, minlength=k).cumsum()[self.inverse]
        weight = theta * reach
        weight[rows] -= theta[rows] * np.bincount(g, weights=f / phi, minlength=k)[g]
        information = (self.x * weight[:, None]).T @ self.x - mean.T @ mean
        return loglik, gradient, -information

    def schoenfeld(self, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Breslow-type Schoenfeld residuals (x minus the whole risk set's weighted mean, as
        lifelines and R's cox.zph use), one row per event, and the event times."""
        theta = np.exp(self.x @ beta - (self.x @ beta).max())
        s0 = np.add.reduceat(theta, self.starts)[::-1].cumsum()[::-1]
        s1 = np.add.reduceat(theta[:, None] * self.x, self.starts, axis=0)[::-1].cumsum(axis=0)[::-1]
        is_event = self.event == 1
        group = np.searchsorted(self.grid, self.time[is_event])
        return self.x[is_event] - s1[group] / s0[group][:, None], self.time[is_event]


def _fit_cox(
    sets: list[_RiskSets], names: Sequence[str], x: np.ndarray, max_steps: int = 200
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Newton-Raphson with step halving on the summed strata: beta, its covariance (inverse
    information), the log partial likelihood at beta and at 0."""
    p = x.shape[1]

    def total(beta: np.ndarray):
        parts = [s.terms(beta) for s in sets]
        return sum(q[0] for q in parts), sum(q[1] for q in parts), sum(q[2] for q in parts)

    beta = np.zeros(p)
    loglik, gradient, hess = total(beta)
    loglik_null = loglik
    converged = False
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for _ in range(max_steps):
            try:
                step = np.linalg.solve(-hess, gradient)
            except np.linalg.LinAlgError:
                break
            scale = 1.0
            while True:
                trial = beta + scale * step
                new = total(trial)
                if np.isfinite(new[0]) and new[0] >= loglik - 1e-10 * max(1.0, abs(loglik)):
                    break
                scale /= 2
                if scale < 1e-10:
                    break
            if scale < 1e-10:
                break
            beta = trial
            change = float(np.max(np.abs(scale * step)))
            improvement = new[0] - loglik
            loglik, gradient, hess = new
            if change < 1e-10 or (abs(improvement) < 1e-13 * max(1.0, abs(loglik))
                                  and change < 1e-7):
                converged = True
                break
    try:
        cov = np.linalg.inv(-hess)
    except np.linalg.LinAlgError:
        cov = np.full((p, p), np.nan)
    _refuse_divergent(beta, cov, x, names, converged=converged)
    return beta, cov, float(loglik), float(loglik_null)


@dataclass
class CoxResult:
    """A fitted Cox model: `.summary`, `.concordance`, `.log_likelihood_ratio_test`, `.ph_test`,
    `.plot()` (a forest plot of the hazard ratios).

    `summary` has the columns of `COX_SUMMARY_COLUMNS`, one row per covariate. Harrell's C and
    the proportional-hazards tables are computed on first use, not at fit: until both have been
    read the result holds the fitting rows' times, events and covariates in memory (`_rows`),
    then drops them. Pickling or copying computes both first, so a stored result never carries a
    young person's row (nor per-person residuals, which would give back the covariates of
    everyone who reoffended).
    """

    summary: pd.DataFrame
    covariates: list[str]
    ties: str
    log_likelihood: float
    log_likelihood_ratio_test: TestResult
    n: int
    n_events: int
    variance_matrix: pd.DataFrame
    _means: np.ndarray = field(repr=False, default=None)
    _rows: dict | None = field(repr=False, default=None, compare=False)
    _concordance: float | None = field(repr=False, default=None)
    _ph_tests: dict = field(repr=False, default_factory=dict)

    summary_columns: ClassVar[tuple[str, ...]] = COX_SUMMARY_COLUMNS
    estimate_column: ClassVar[str] = "coef"

    @property
    def params(self) -> pd.Series:
        return self.summary["coef"]

    @property
    def concordance(self) -> float:
        """Harrell's C of the linear predictor (`models.discrimination.harrell_c`)."""
        if self._concordance is None:
            rows = self._rows
            self._concordance = harrell_c(
                rows["time"], rows["event"], rows["x"] @ self.params.to_numpy())
            self._release()
        return self._concordance

    def _compute_ph_tests(self) -> dict:
        if not self._ph_tests:
            rows = self._rows
            beta = self.params.to_numpy()
            parts = [s.schoenfeld(beta) for s in rows["sets"]]
            sch = np.concatenate([r for r, _ in parts])
            event_times = np.concatenate([t for _, t in parts])
            order = np.argsort(event_times, kind="stable")
            sch, event_times = sch[order], event_times[order]
            km = _km_table(rows["time"], rows["event"], 1.96)
            transforms = {
                "rank": stats.rankdata(event_times, method="average"),
                "km": 1.0 - _step_at(km, event_times, "survival", 1.0),
            }
            cov = self.variance_matrix.to_numpy()
            self._ph_tests = {k: _ph_table(sch, g, cov, self.covariates)
                              for k, g in transforms.items()}
            self._release()
        return self._ph_tests

    def _release(self) -> None:
        if self._concordance is not None and self._ph_tests:
            self._rows = None

    def __getstate__(self) -> dict:
        _ = self.concordance
        self._compute_ph_tests()
        return self.__dict__.copy()

    def predict_partial_hazard(self, df: pd.DataFrame) -> pd.Series:
        """exp((x - mean_train) . beta), centred on the training means as lifelines does."""
        check_columns(df, self.covariates, "prediction data")
        x = _check_covariates_for_prediction(df, self.covariates)
        return pd.Series(
            np.exp((x - self._means) @ self.summary["coef"].to_numpy()),
            index=df.index,
            name="partial_hazard",
        )

    def ph_test(self, transform: str = "rank") -> pd.DataFrame:
        """Proportional hazards test on scaled Schoenfeld residuals against transformed time.

        Per covariate, the statistic is lifelines.statistics.proportional_hazard_test's
        (Grambsch & Therneau 1994 approximation, R survival < 3.0 cox.zph); the GLOBAL row is the
        same approximation's joint test with p degrees of freedom. transform: "rank" (the order of
        event times; tied event times get their average rank, where lifelines breaks ties by row
        order) or "km" (1 - KM(t)). Columns: statistic, df, p; indexed by covariate and GLOBAL.
        """
        if transform not in PH_TRANSFORMS:
            raise ValidationError(
                "models.transform_one",
                "transform must be one of {ph_tests}, got {transform!r}",
                ph_tests=sorted(PH_TRANSFORMS), transform=transform
            )
        return self._compute_ph_tests()[transform].copy()

    def plot(self, labels: Mapping[str, str] | None = None,
             title: str = "Hazard ratios (95% CI)") -> go.Figure:
        """Forest plot: each covariate's hazard ratio with its interval, log axis, a line at 1."""
        return forest_plot(self.summary, labels=labels, title=title)


PH_TRANSFORMS = ("km", "rank")


def forest_plot(
    summary: pd.DataFrame, labels: Mapping[str, str] | None = None,
    title: str = "Hazard ratios (95% CI)",
) -> go.Figure:
    """Hazard ratios (`hazard_ratio`, `hr_ci_lower`, `hr_ci_upper` of a Cox summary) as points
    with interval bars on a log axis, the first covariate on top. `labels` renames covariates.
    A covariate the data cannot bound (`unbounded_covariates`) is left out: its "interval" would
    stretch the axis over dozens of orders of magnitude and flatten every other one."""
    labels = labels or {}
    summary = summary.drop(index=unbounded_covariates(summary))
    names = [labels.get(c, str(c)) for c in summary.index]
    hr = summary["hazard_ratio"]
    fig = go.Figure(go.Scatter(
        x=hr, y=names, mode="markers", marker={"size": 10, "color": "#1f77b4"},
        error_x={"type": "data", "symmetric": False,
                 "array": summary["hr_ci_upper"] - hr, "arrayminus": hr - summary["hr_ci_lower"]},
        name="hazard ratio", hovertemplate="%{y}: %{x:.2f}<extra></extra>"))
    fig.add_vline(x=1, line_dash="dash", line_color="grey")
    ticks = log_ticks(summary["hr_ci_lower"], summary["hr_ci_upper"])
    fig.update_layout(title=title, template="plotly_white", xaxis_title="hazard ratio (log scale)",
                      xaxis_type="log", yaxis_autorange="reversed", showlegend=False,
                      height=240 + 40 * len(names))
    fig.update_xaxes(tickvals=ticks, ticktext=[f"{v:g}" for v in ticks], minor_showgrid=False)
    return fig


_NICE = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)


def log_ticks(lower: Sequence[float], upper: Sequence[float], most: int = 7) -> list[float]:
    """Few readable ticks for a ratio's log axis: 1 and the 1-2-5 values the intervals span
    (only the powers of ten when that would be more than `most`). Plotly's own log ticks label
    every 2..9 between decades, which clutters a forest plot."""
    values = np.r_[np.asarray(lower, float), np.asarray(upper, float)]
    values = values[np.isfinite(values) & (values > 0)]
    if values.size == 0:
        return [1.0]
    lo, hi = min(values.min(), 1.0), max(values.max(), 1.0)
    ticks = [v for v in _NICE if lo / 1.5 <= v <= hi * 1.5]
    if len(ticks) > most:
        ticks = [v for v in ticks if v in (0.01, 0.1, 1.0, 10.0, 100.0)]
    return ticks


def _ph_table(
    schoenfeld: np.ndarray, g: np.ndarray, v: np.ndarray, covariates: list[str]
) -> pd.DataFrame:
    # With S the Schoenfeld residuals (events x p), g centred transformed event times and V the
    # covariance of beta: scaled residuals are d S V, so lifelines' per-covariate statistic is
    # d (V S'g)_j^2 / (V_jj g'g) and the joint one d (S'g)' V (S'g) / g'g.
    g = g - g.mean()
    d = schoenfeld.shape[0]
    u = schoenfeld.T @ g
    vu = v @ u
    gg = float(g @ g)
    p = len(covariates)
    if gg == 0:  # every event on one day: no time trend to test
        per, glob = np.full(p, np.nan), float("nan")
    else:
        per = d * vu**2 / (np.diag(v) * gg)
        glob = d * float(u @ vu) / gg
    return pd.DataFrame(
        {
            "statistic": np.r_[per, glob],
            "df": np.r_[np.ones(p, dtype=int), p],
            "p": np.r_[stats.chi2.sf(per, 1), stats.chi2.sf(glob, p)],
        },
        index=pd.Index(covariates + ["GLOBAL"], name="covariate"),
    )


def _check_covariates_for_prediction(df: pd.DataFrame, covariates: Sequence[str]) -> np.ndarray:
    x = df[list(covariates)]
    if x.isna().any().any():
        col = x.columns[x.isna().any()][0]
        raise ValidationError("models.covariate_missing_values_predict",
                              "covariate '{col}' has missing values; cannot predict those rows",
                              col=col)
    try:
        return x.to_numpy(dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValidationError("models.covariates_numeric",
                              "covariates {covariates} must be numeric",
                              covariates=list(covariates)) from exc


def cox(
    df: pd.DataFrame,
    duration: str,
    event: str,
    covariates: Sequence[str],
    ties: str = "efron",
    strata: str | None = None,
    ci: float = 0.95,
    min_events_per_covariate: float = MIN_EVENTS_PER_COVARIATE,
) -> CoxResult:
    """Cox proportional hazards model: Newton-Raphson on the partial likelihood (`_fit_cox`).

    ties: "efron" (lifelines CoxPHFitter, R coxph default) or "breslow" (SAS, Stata default).
    Reference: lifelines.CoxPHFitter(); R: coxph(Surv(t, e) ~ x, ties="efron"); statsmodels
    PHReg gives the same estimates. Harrell's C and the PH tests are computed when first read.
    """
    z_crit = _z(ci)
    if ties not in ("efron", "breslow"):
        raise ValidationError("models.ties_efron_breslow",
                              "ties must be 'efron' or 'breslow', got {ties!r}",
                              ties=ties)
    covariates = list(covariates)
    check_columns(df, [duration, event] + covariates + ([strata] if strata else []))
    time = check_durations(df[duration], duration)
    ev = check_events(df[event], event)
    x = _check_covariates(df, covariates)
    n_events = int(ev.sum())
    _check_enough_events(n_events, len(covariates), min_events_per_covariate)
    strata_values = None
    if strata is not None:
        if df[strata].isna().any():
            raise ValidationError(
                "models.strata_column_missing_values",
                "strata column '{strata}' has missing values; label or drop them",
                strata=strata
            )
        strata_values = pd.factorize(df[strata])[0]
    # Centred covariates: the same coefficients, and exp(x beta) stays in range.
    means = x.mean(axis=0)
    centred = x - means
    if strata_values is None:
        sets = [_RiskSets(time, ev, centred, ties)]
    else:
        sets = [_RiskSets(time[strata_values == k], ev[strata_values == k],
                          centred[strata_values == k], ties)
                for k in range(int(strata_values.max()) + 1)]
    params, cov, llf, ll0 = _fit_cox(sets, covariates, x)
    se = np.sqrt(np.diag(cov))
    lr = 2 * (llf - ll0)
    return CoxResult(
        summary=_summary(covariates, params, se, z_crit),
        covariates=covariates,
        ties=ties,
        log_likelihood=llf,
        log_likelihood_ratio_test=TestResult(
            lr, len(covariates), float(stats.chi2.sf(lr, len(covariates)))
        ),
        n=len(time),
        n_events=n_events,
        variance_matrix=pd.DataFrame(cov, index=covariates, columns=covariates),
        _means=means,
        _rows={"time": time, "event": ev, "x": centred, "sets": sets},
    )


# ---------------------------------------------------------------- time-varying Cox


@dataclass
class TimeVaryingCoxResult:
    """A Cox model on (start, stop] rows: `.summary` (`COX_SUMMARY_COLUMNS`, as `CoxResult`),
    `.log_likelihood_ratio_test`, `.plot()` (a forest plot of the hazard ratios)."""

    summary: pd.DataFrame
    covariates: list[str]
    ties: str
    log_likelihood: float
    log_likelihood_ratio_test: TestResult
    n_ids: int
    n_intervals: int
    n_events: int
    variance_matrix: pd.DataFrame

    summary_columns: ClassVar[tuple[str, ...]] = COX_SUMMARY_COLUMNS
    estimate_column: ClassVar[str] = "coef"

    @property
    def params(self) -> pd.Series:
        return self.summary["coef"]

    def plot(self, labels: Mapping[str, str] | None = None,
             title: str = "Hazard ratios (95% CI)") -> go.Figure:
        """Forest plot: each covariate's hazard ratio with its interval, log axis, a line at 1."""
        return forest_plot(self.summary, labels=labels, title=title)


def check_counting_process(
    df: pd.DataFrame, id: str, start: str, stop: str, event: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate a (start, stop] frame: no zero-length or overlapping intervals, events last."""
    check_columns(df, [id, start, stop, event])
    if df[id].isna().any():
        raise ValidationError(
            "models.id_column_missing_values",
            "id column '{id}' has missing values; every interval needs its person",
            id=id
        )
    t0 = check_durations(df[start], start)
    t1 = check_durations(df[stop], stop)
    ev = check_events(df[event], event)
    frame = pd.DataFrame({"id": df[id].to_numpy(), "start": t0, "stop": t1, "event": ev})
    bad = frame[frame["stop"] <= frame["start"]]
    if len(bad):
        r = bad.iloc[0]
        raise ValidationError(
            "models.id_interval_zero_length",
            "id {show_id} has an interval ({start}, {stop}] that is zero-length or reversed; "
            "'{stop_2}' must be after '{start_2}': drop or merge that row",
            show_id=show_id(bad['id'].iloc[0]), start=r['start'], stop=r['stop'], stop_2=stop,
            start_2=start
        )
    frame = frame.sort_values(["id", "start", "stop"], kind="stable")
    prev_stop = frame.groupby("id", sort=False)["stop"].shift()
    overlap = frame["start"] < prev_stop
    if overlap.any():
        r = frame[overlap].iloc[0]
        raise ValidationError(
            "models.id_overlapping_intervals_one",
            "id {show_id} has overlapping intervals (one starts at {start} before the previous "
            "ends at {first_prev_stop_iloc}); each day may be in one row only",
            show_id=show_id(frame.loc[overlap, 'id'].iloc[0]), start=r['start'],
            first_prev_stop_iloc=prev_stop[overlap].iloc[0]
        )
    is_last = ~frame["id"].duplicated(keep="last")
    early = (frame["event"] == 1) & ~is_last
    if early.any():
        r = frame[early].iloc[0]
        raise ValidationError(
            "models.id_event_interval_not",
            "id {show_id} has an event at {stop} on an interval that is not its last; follow-up "
            "ends at the first reoffence, so drop that person's later rows",
            show_id=show_id(frame.loc[early, 'id'].iloc[0]), stop=r['stop']
        )
    return t0, t1, ev


def risk_set_entry(start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Entry times that make PHReg's risk sets those of (start, stop] intervals.

    PHReg counts a row in the risk set at t when entry <= t, but a row (start, stop] is at risk at
    t only when start < t <= stop (R coxph, lifelines). Moving each entry up by half the smallest
    gap between distinct times keeps every other ordering and excludes a row from the risk set at
    its own start time. The partial likelihood depends on times only through that ordering.
    """
    grid = np.unique(np.r_[start, stop])
    gap = np.diff(grid).min() if len(grid) > 1 else 1.0
    return start + gap / 2


def cox_time_varying(
    df: pd.DataFrame,
    id: str,
    start: str,
    stop: str,
    event: str,
    covariates: Sequence[str],
    ties: str = "efron",
    ci: float = 0.95,
    min_events_per_covariate: float = MIN_EVENTS_PER_COVARIATE,
) -> TimeVaryingCoxResult:
    """Cox model with time-varying covariates on a counting-process (start, stop] frame.

    Reference: lifelines.CoxTimeVaryingFitter; R: coxph(Surv(start, stop, event) ~ x).
    Fitted by statsmodels PHReg with entry times corrected by `risk_set_entry` (a naive
    PHReg(entry=start) keeps rows starting at an event time in that time's risk set).
    """
    z_crit = _z(ci)
    if ties not in ("efron", "breslow"):
        raise ValidationError("models.ties_efron_breslow",
                              "ties must be 'efron' or 'breslow', got {ties!r}",
                              ties=ties)
    covariates = list(covariates)
    check_columns(df, [id, start, stop, event] + covariates)
    t0, t1, ev = check_counting_process(df, id, start, stop, event)
    x = _check_covariates(df, covariates)
    n_events = int(ev.sum())
    _check_enough_events(n_events, len(covariates), min_events_per_covariate)
    model = PHReg(t1, x, status=ev, entry=risk_set_entry(t0, t1), ties=ties)
    _, params, cov = _fit_phreg(model, covariates, x)
    se = np.sqrt(np.diag(cov))
    llf = float(model.loglike(params))
    lr = 2 * (llf - float(model.loglike(np.zeros(len(covariates)))))
    return TimeVaryingCoxResult(
        summary=_summary(covariates, params, se, z_crit),
        covariates=covariates,
        ties=ties,
        log_likelihood=llf,
        log_likelihood_ratio_test=TestResult(
            lr, len(covariates), float(stats.chi2.sf(lr, len(covariates)))
        ),
        n_ids=int(df[id].nunique()),
        n_intervals=len(df),
        n_events=n_events,
        variance_matrix=pd.DataFrame(cov, index=covariates, columns=covariates),
    )


def split_episodes(
    base: pd.DataFrame,
    changes: pd.DataFrame,
    id: str,
    duration: str,
    event: str,
    time: str,
    values: Sequence[str],
) -> pd.DataFrame:
    """Person-period (start, stop] frame from one row per person and dated covariate changes.

    base: one row per `id` with follow-up `duration`, `event` (0/1) and, optionally, the
    baseline value of each column in `values`. changes: rows (`id`, `time`, *values): from `time`
    on, the person's values are these (missing values carry the previous value forward).
    Changes at or after the end of a person's follow-up are ignored; a change at time 0 replaces
    the baseline. The event is put on the last interval only. Output columns: id, start, stop,
    event, *values (the lifelines.utils.add_covariate_to_timeline layout).
    """
    values = list(values)
    check_columns(base, [id, duration, event], "base")
    check_columns(changes, [id, time] + values, "changes")
    dur = check_durations(base[duration], duration)
    ev = check_events(base[event], event)
    ids = base[id].to_numpy()
    dup = pd.Series(ids).duplicated()
    if dup.any():
        raise ValidationError(
            "models.id_appears_more_once",
            "id {show_id} appears more than once in base; give one row per person",
            show_id=show_id(ids[dup.to_numpy()][0])
        )
    zero = dur == 0
    if zero.any():
        raise ValidationError(
            "models.id_zero_follow_up",
            "id {show_id} has zero follow-up ('{duration}' = 0), which would make a zero-length "
            "interval; drop that person or correct the dates",
            show_id=show_id(ids[zero][0]), duration=duration
        )
    unknown = ~changes[id].isin(set(ids))
    if unknown.any():
        raise ValidationError(
            "models.changes_id_not_base",
            "changes has id {show_id} that is not in base; add the person to base or drop the "
            "change",
            show_id=show_id(changes[id][unknown].iloc[0])
        )
    change_times = check_durations(changes[time], time)
    ch = changes.assign(**{time: change_times})
    same = ch.duplicated([id, time], keep=False)
    if same.any():
        raise ValidationError(
            "models.id_two_changes_would",
            "id {show_id} has two changes at {time} = {first_ch_iloc}, which would make "
            "overlapping or zero-length intervals; keep one row per person and time",
            show_id=show_id(ch.loc[same, id].iloc[0]), time=time,
            first_ch_iloc=ch.loc[same, time].iloc[0]
        )
    baseline_cols = [v for v in values if v in base.columns]
    rows = []
    by_id = {k: g.sort_values(time) for k, g in ch.groupby(id, sort=False)}
    for pid, d, e, (_, brow) in zip(ids, dur, ev, base.iterrows()):
        current = {v: (brow[v] if v in baseline_cols else np.nan) for v in values}
        cuts: list[tuple[float, dict]] = []
        g = by_id.get(pid)
        if g is not None:
            for _, crow in g.iterrows():
                t = float(crow[time])
                if t >= d:
                    break
                if t == 0:
                    current = {v: (crow[v] if pd.notna(crow[v]) else current[v]) for v in values}
                    continue
                cuts.append((t, crow))
        starts = [0.0] + [t for t, _ in cuts]
        stops = [t for t, _ in cuts] + [float(d)]
        for k, (a, b) in enumerate(zip(starts, stops)):
            if k > 0:
                crow = cuts[k - 1][1]
                current = {v: (crow[v] if pd.notna(crow[v]) else current[v]) for v in values}
            missing = [v for v in values if pd.isna(current[v])]
            if missing:
                raise ValidationError(
                    "models.id_no_value_give",
                    "id {show_id} has no value for {missing} on ({a}, {b}]; give a baseline "
                    "value in base or a change at time 0",
                    show_id=show_id(pid), missing=missing, a=a, b=b
                )
            rows.append(
                {
                    id: pid,
                    "start": a,
                    "stop": b,
                    event: int(e) if k == len(starts) - 1 else 0,
                    **current,
                }
            )
    out = pd.DataFrame(rows, columns=[id, "start", "stop", event] + values)
    return out
