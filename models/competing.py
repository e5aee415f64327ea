"""Competing risks: cumulative incidence of each kind of reoffence (Aalen-Johansen)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from scipy import stats

from errors import ValidationError
from models.survival import TIME_UNITS
from models.validation import check_columns, check_durations


def _check_event_types(values: object, name: str) -> np.ndarray:
    s = pd.Series(values)
    if s.isna().any():
        raise ValidationError(
            "models.column_missing_value_code",
            "column '{name}' has {sum} missing value(s); code censored rows as 0",
            name=name, sum=int(s.isna().sum())
        )
    try:
        num = s.to_numpy(dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            "models.column_hold_integer_event",
            "column '{name}' must hold integer event types (0 = censored), got {s_dtype}",
            name=name, s_dtype=s.dtype
        ) from exc
    if (num != np.round(num)).any() or (num < 0).any():
        bad = sorted(set(num[(num != np.round(num)) | (num < 0)]))[:5]
        raise ValidationError(
            "models.column_hold_censored_positive",
            "column '{name}' must hold 0 (censored) or positive integer event types, got {bad}",
            name=name, bad=bad
        )
    return num.astype(int)


@dataclass
class CumulativeIncidenceResult:
    """Cumulative incidence per event type: `.summary`, `.at(times)`, `.plot()`.

    `summary` (= `table`): one row per event type and time (time 0 included) with event_type,
    time, at_risk, events (of that type), cumulative_incidence (F_k(t)), its delta-method
    variance and log(-log) interval ci_lower, ci_upper (NaN where F is 0 or 1).
    """

    table: pd.DataFrame
    event_types: list[int]
    ci: float

    summary_columns: ClassVar[tuple[str, ...]] = (
        "event_type", "time", "at_risk", "events", "cumulative_incidence", "variance",
        "ci_lower", "ci_upper",
    )
    estimate_column: ClassVar[str] = "cumulative_incidence"

    @property
    def summary(self) -> pd.DataFrame:
        return self.table[list(self.summary_columns)].copy()

    def at(self, times: float | Sequence[float]) -> pd.DataFrame:
        """Cumulative incidence at `times` (right-continuous step), a column per event type.

        NaN after the last follow-up time.
        """
        t = np.atleast_1d(np.asarray(times, dtype=float))
        out = {}
        for k in self.event_types:
            tab = self.table[self.table["event_type"] == k]
            grid = tab["time"].to_numpy()
            vals = tab["cumulative_incidence"].to_numpy()
            idx = np.searchsorted(grid, t, side="right") - 1
            col = np.where(idx >= 0, vals[np.clip(idx, 0, None)], 0.0)
            out[k] = np.where(t > grid[-1], np.nan, col)
        return pd.DataFrame(out, index=pd.Index(t, name="time"))

    def plot(
        self,
        time_unit: str = "days",
        title: str = "Cumulative incidence of reoffending by type",
        labels: dict[int, str] | None = None,
    ) -> go.Figure:
        """Step curves with CI bands, one per event type."""
        if time_unit not in TIME_UNITS:
            raise ValidationError("models.time_unit_one",
                                  "time_unit must be one of {time_units}, got {time_unit!r}",
                                  time_units=list(TIME_UNITS), time_unit=time_unit)
        scale = TIME_UNITS[time_unit]
        labels = labels or {}
        fig = go.Figure()
        for k in self.event_types:
            tab = self.table[self.table["event_type"] == k]
            name = labels.get(k, f"type {k}")
            x = tab["time"].to_numpy() / scale
            ok = tab["ci_lower"].notna().to_numpy()
            xs = np.repeat(x[ok], 2)[1:]
            up = np.repeat(tab["ci_upper"].to_numpy()[ok], 2)[:-1]
            lo = np.repeat(tab["ci_lower"].to_numpy()[ok], 2)[:-1]
            fig.add_trace(
                go.Scatter(
                    x=np.r_[xs, xs[::-1]],
                    y=np.r_[up, lo[::-1]],
                    fill="toself",
                    opacity=0.15,
                    line={"width": 0},
                    hoverinfo="skip",
                    showlegend=False,
                    name=f"{name} {self.ci:.0%} CI",
                )
            )
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=tab["cumulative_incidence"],
                    mode="lines",
                    line={"shape": "hv"},
                    name=name,
                )
            )
        fig.update_layout(
            title=title,
            template="plotly_white",
            xaxis_title=f"Time since programme end ({time_unit})",
            yaxis_title="Cumulative incidence",
        )
        return fig


def cumulative_incidence(
    df: pd.DataFrame, duration: str, event_type: str, ci: float = 0.95
) -> CumulativeIncidenceResult:
    """Aalen-Johansen cumulative incidence of each event type (0 = censored).

    F_k(t) = sum over s <= t of S(s-) d_k(s) / n(s), S the all-cause Kaplan-Meier. Variance by the
    delta method (Collett 2015, p. 411; Marubini & Valsecchi 1995), interval on the log(-log)
    scale. Reference: lifelines.AalenJohansenFitter(calculate_variance=True); lifelines jitters
    times where events of different types tie, this function does not (ties are handled exactly
    by the estimator). R: cmprsk::cuminc gives the same point estimates.
    """
    if not 0 < ci < 1:
        raise ValidationError("models.ci_between_example",
                              "ci must be between 0 and 1 (for example 0.95), got {ci}",
                              ci=ci)
    z = float(stats.norm.ppf(1 - (1 - ci) / 2))
    check_columns(df, [duration, event_type])
    t = check_durations(df[duration], duration)
    k = _check_event_types(df[event_type], event_type)
    types = sorted(int(v) for v in np.unique(k[k > 0]))
    if not types:
        raise ValidationError("models.column_no_events_every",
                              "column '{event_type}' has no events (every row is 0 = censored)",
                              event_type=event_type)

    grid = np.unique(np.r_[0.0, t])
    n = len(t) - np.searchsorted(np.sort(t), grid, side="left")
    d_all = np.bincount(np.searchsorted(grid, t[k > 0]), minlength=len(grid))
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(1.0 - np.where(n > 0, d_all / n, 0.0))
    lag_s = np.r_[1.0, surv[:-1]]
    frames = []
    for typ in types:
        d_k = np.bincount(np.searchsorted(grid, t[k == typ]), minlength=len(grid))
        with np.errstate(divide="ignore", invalid="ignore"):
            hazard_k = np.where(n > 0, d_k / n, 0.0)
            f = np.cumsum(lag_s * hazard_k)
            a = np.where(n > 0, d_all / (n * (n - d_all)), 0.0)
            b = np.where(n > 0, lag_s**2 * d_k * (n - d_k) / n.astype(float) ** 3, 0.0)
            c = np.where(n > 0, lag_s * d_k / n.astype(float) ** 2, 0.0)
        # Var F(t_j) = sum_{i<=j} (F_j - F_i)^2 a_i + b_i - 2 (F_j - F_i) c_i, expanded into
        # running sums so the whole curve costs O(n).
        a_cum, af_cum, aff_cum = np.cumsum(a), np.cumsum(a * f), np.cumsum(a * f * f)
        c_cum, cf_cum = np.cumsum(c), np.cumsum(c * f)
        var = f**2 * a_cum - 2 * f * af_cum + aff_cum + np.cumsum(b) - 2 * (f * c_cum - cf_cum)
        var = np.clip(var, 0.0, None)
        with np.errstate(divide="ignore", invalid="ignore"):
            se_t = np.sqrt(var) / (f * np.abs(np.log(f)))
            lo = np.exp(-np.exp(np.log(-np.log(f)) + z * se_t))
            hi = np.exp(-np.exp(np.log(-np.log(f)) - z * se_t))
        undefined = (f <= 0) | (f >= 1)
        frames.append(
            pd.DataFrame(
                {
                    "event_type": typ,
                    "time": grid,
                    "at_risk": n.astype(int),
                    "events": d_k.astype(int),
                    "cumulative_incidence": f,
                    "variance": var,
                    "ci_lower": np.where(undefined, np.nan, lo),
                    "ci_upper": np.where(undefined, np.nan, hi),
                }
            )
        )
    return CumulativeIncidenceResult(
        table=pd.concat(frames, ignore_index=True), event_types=types, ci=ci
    )
