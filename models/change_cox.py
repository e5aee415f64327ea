"""Does change on the matrix predict reoffending? A time-varying Cox model per reliable improvement.

Pure: a person-period frame (`models.frames.person_period_frame`: (start, stop] rows whose scores
update at each step) and each domain's norms in, a fitted result out. Each matrix domain's change
from planning is expressed in reliable improvements: the change divided by the domain's reliable
change criterion, 1.96 x the standard error of the difference (Jacobson & Truax 1991;
`matrix.change.standard_error_of_difference`), signed so that improvement is positive. A hazard
ratio of 0.8 then reads "each reliable improvement goes with a 20% lower hazard of reoffending",
adjusted for the other covariates.

The proportional-hazards check uses the scaled Schoenfeld residuals of the counting-process fit
(each event's covariates minus the risk set's weighted mean at that time, the risk set being the
rows whose (start, stop] holds the time), tested against the rank of event times, as R's
`cox.zph(fit, transform = "rank", terms = FALSE)` does for a `coxph(Surv(start, stop, event) ~ .)`
fit (the Grambsch-Therneau approximation, as `CoxResult.ph_test`).

This is observational: young people who improve differ from those who do not in ways no
covariate here measures (motivation, family, the counselor), so a hazard ratio is an association,
not the effect of making someone improve.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from scipy import stats

import vocab
from errors import Message, ValidationError
from matrix.change import standard_error_of_difference
from models import survival
from models.survival import COX_SUMMARY_COLUMNS

RELIABLE_Z = 1.96
# Below this many events per covariate a Cox model's estimates are unreliable (Peduzzi 1995;
# Vittinghoff & McCulloch 2007 relax it to 5-9, where the fit still runs with the warning).
EPV_ADVISED = 10
DEFAULT_ADJUST = ("prior_offences", "age_at_referral", "completed")
CAVEAT = Message(
    "models.change_cox_caveat",
    "Observational: young people who improve differ from those who do not in ways these data do "
    "not measure, so a hazard ratio is an association with reoffending, not the effect of "
    "improving. Read it beside the programme's outcomes, never about one young person.")


def improvement_column(domain: str) -> str:
    return f"improvement_{domain}"


@dataclass(frozen=True)
class DomainNorm:
    """What a domain's change is measured against: its SD, reliability and direction."""

    sd: float
    reliability: float
    higher_is_better: bool = True

    @property
    def reliable_change(self) -> float:
        """The smallest change that is reliable at the 95% level, in score points."""
        return RELIABLE_Z * standard_error_of_difference(self.sd, self.reliability)


def improvement_frame(person_period: pd.DataFrame, norms: Mapping[str, DomainNorm],
                      domains: Sequence[str] = vocab.MATRIX_DOMAINS) -> pd.DataFrame:
    """The person-period rows with `improvement_<domain>`: change from planning in reliable
    improvements (positive = better), at the step each row is in."""
    out = person_period.copy()
    for domain in domains:
        if domain not in norms:
            raise ValidationError("models.no_norm_domain",
                                  "no norm for domain {domain!r}: its change cannot be put in "
                                  "reliable improvements", domain=domain)
        norm = norms[domain]
        sign = 1.0 if norm.higher_is_better else -1.0
        out[improvement_column(domain)] = sign * out[f"change_{domain}"] / norm.reliable_change
    return out


@dataclass
class ChangeCoxResult:
    """A time-varying Cox model of reoffending on change per reliable improvement.

    `summary`: `COX_SUMMARY_COLUMNS` per covariate (coef = log hazard ratio per reliable
    improvement for `improvement_<domain>`, per unit for the adjusters); `ph_test`: statistic,
    df, p per covariate and GLOBAL; `n_ids`, `n_intervals`, `n_events`, `epv` (events per
    covariate), `dropped` (people without a planning score, so without a change); `warnings`;
    `caveat`. `.plot()`: the forest plot.
    """

    summary: pd.DataFrame
    ph_test: pd.DataFrame
    covariates: list[str]
    n_ids: int
    n_intervals: int
    n_events: int
    epv: float
    dropped: int
    reliable_change: dict[str, float]
    warnings: list[Message] = field(default_factory=list)
    caveat: Message = CAVEAT

    summary_columns: ClassVar[tuple[str, ...]] = COX_SUMMARY_COLUMNS
    estimate_column: ClassVar[str] = "coef"

    def table(self) -> pd.DataFrame:
        """The summary with each covariate's PH check beside it (`ph_statistic`, `ph_p`): what the
        page shows and `dscr recidivism change-cox` prints."""
        out = self.summary.copy()
        out["ph_statistic"] = self.ph_test["statistic"].reindex(out.index)
        out["ph_p"] = self.ph_test["p"].reindex(out.index)
        return out.reset_index()

    def facts(self) -> dict:
        """The figures around the table, as plain values (the JSON export's header)."""
        glob = self.ph_test.loc["GLOBAL"]
        return {"n_ids": self.n_ids, "n_intervals": self.n_intervals, "n_events": self.n_events,
                "events_per_covariate": self.epv, "dropped_without_change": self.dropped,
                "ph_global": {"statistic": float(glob["statistic"]), "df": int(glob["df"]),
                              "p": float(glob["p"])},
                "reliable_change_points": self.reliable_change,
                "warnings": [str(w) for w in self.warnings], "caveat": str(self.caveat)}

    def plot(self, labels: Mapping[str, str] | None = None,
             title: str = "Hazard ratio per reliable improvement (95% CI)") -> go.Figure:
        return survival.forest_plot(self.summary, labels=labels, title=title)


def _schoenfeld_counting(df: pd.DataFrame, x: np.ndarray, beta: np.ndarray, start: str,
                         stop: str, event: str) -> tuple[np.ndarray, np.ndarray]:
    """Schoenfeld residuals of a (start, stop] fit: one row per event, and the event times."""
    t0 = df[start].to_numpy(dtype=float)
    t1 = df[stop].to_numpy(dtype=float)
    ev = df[event].to_numpy() == 1
    theta = np.exp(x @ beta - (x @ beta).max())
    times = t1[ev]
    residuals = np.empty((len(times), x.shape[1]))
    for i, (t, xi) in enumerate(zip(times, x[ev], strict=True)):
        at_risk = (t0 < t) & (t1 >= t)
        w = theta[at_risk]
        residuals[i] = xi - (w[:, None] * x[at_risk]).sum(axis=0) / w.sum()
    return residuals, times


def counting_ph_test(df: pd.DataFrame, start: str, stop: str, event: str,
                     fit: survival.TimeVaryingCoxResult) -> pd.DataFrame:
    """The proportional-hazards test of a time-varying Cox fit against the rank of event times
    (tied times get their average rank): statistic, df, p per covariate and GLOBAL. On rows that
    all start at 0 it is `CoxResult.ph_test("rank")` of the same data."""
    covariates = list(fit.covariates)
    x = df[covariates].to_numpy(dtype=float)
    beta = fit.summary["coef"].to_numpy()
    residuals, times = _schoenfeld_counting(df, x, beta, start, stop, event)
    return survival._ph_table(residuals, stats.rankdata(times), fit.variance_matrix.to_numpy(),
                              covariates)


def change_cox(person_period: pd.DataFrame, norms: Mapping[str, DomainNorm], *,
               domains: Sequence[str] = vocab.MATRIX_DOMAINS,
               adjust: Sequence[str] = DEFAULT_ADJUST, ties: str = "efron",
               id: str = "study_code") -> ChangeCoxResult:
    """Fit the time-varying Cox model of reoffending on each domain's change in reliable
    improvements, adjusted for `adjust`. R: `coxph(Surv(start, stop, event) ~ improvement_... +
    prior_offences + ..., id = study_code)`; the estimates are `survival.cox_time_varying`'s."""
    frame = improvement_frame(person_period, norms, domains)
    covariates = [improvement_column(d) for d in domains] + list(adjust)
    missing = frame[covariates].isna().any(axis=1)
    dropped_ids = set(frame.loc[missing, id])
    frame = frame[~frame[id].isin(dropped_ids)].reset_index(drop=True)
    fit = survival.cox_time_varying(frame, id, "start", "stop", "event", covariates, ties=ties)
    ph = counting_ph_test(frame, "start", "stop", "event", fit)
    epv = fit.n_events / len(covariates)
    notes: list[Message] = []
    if epv < EPV_ADVISED:
        notes.append(Message(
            "models.change_cox_few_events",
            "Only {epv:.1f} events per covariate ({events} events for {covariates} covariates); "
            "at least {advised} are advised, so the hazard ratios may be far from the truth and "
            "their intervals too narrow. Lengthen follow-up or use fewer domains.",
            epv=epv, events=fit.n_events, covariates=len(covariates), advised=EPV_ADVISED))
    failing = [c for c in covariates if ph.loc[c, "p"] < 0.05]
    if failing:
        notes.append(Message(
            "models.change_cox_ph_fails",
            "The proportional-hazards check fails for {covariates} (p < 0.05): their hazard "
            "ratio changes over follow-up, so one number misdescribes it.",
            covariates=", ".join(failing)))
    if dropped_ids:
        notes.append(Message(
            "models.change_cox_dropped",
            "{n} people without a planning score (so without a change) are left out.",
            n=len(dropped_ids)))
    return ChangeCoxResult(
        summary=fit.summary, ph_test=ph, covariates=covariates, n_ids=fit.n_ids,
        n_intervals=fit.n_intervals, n_events=fit.n_events, epv=epv, dropped=len(dropped_ids),
        reliable_change={d: norms[d].reliable_change for d in domains}, warnings=notes)


__all__ = [
    "CAVEAT",
    "DEFAULT_ADJUST",
    "EPV_ADVISED",
    "ChangeCoxResult",
    "DomainNorm",
    "change_cox",
    "counting_ph_test",
    "improvement_column",
    "improvement_frame",
]
