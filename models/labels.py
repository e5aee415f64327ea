"""Who reoffended by a horizon, and the censoring weights (IPCW) that make the rest count."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from errors import Message, ValidationError
from models.validation import positions

DEFAULT_HORIZON = 730

CENSORING_METHODS = ("ipcw", "exclude")
CENSORING_TEXT = {
    "ipcw": Message(
        "models.censoring_ipcw",
        "Label = reoffence within the horizon. Participants followed past the horizon without "
        "a reoffence are negatives. Participants censored before the horizon carry weight 0, and "
        "everyone else is weighted by 1 / G, the Kaplan-Meier probability of remaining under "
        "follow-up (G(t-) at the event time for events, G(horizon-) for negatives): inverse "
        "probability of censoring weighting (IPCW). This assumes censoring does not depend on "
        "the predictors or on the risk of reoffending."
    ),
    "exclude": Message(
        "models.censoring_exclude",
        "Label = reoffence within the horizon. Participants censored before the horizon are "
        "excluded and the rest weigh 1. This over-states the risk when early censoring is common "
        "(a reoffence before censoring is kept, the event-free years of those censored are not); "
        "kept only to show the bias next to IPCW."
    ),
}

STATUS_EVENT = "event"
STATUS_EVENT_FREE = "event_free"
STATUS_CENSORED = "censored"


def _check_follow_up(
    duration: pd.Series | np.ndarray | Sequence[float],
    event: pd.Series | np.ndarray | Sequence[float],
    horizon: float,
) -> tuple[np.ndarray, np.ndarray]:
    d_name = getattr(duration, "name", None) or "duration"
    e_name = getattr(event, "name", None) or "event"
    if isinstance(horizon, bool) or not isinstance(horizon, int | float | np.number):
        raise ValidationError("models.horizon_number_days",
                              "horizon must be a number of days, got {horizon!r}",
                              horizon=horizon)
    if not (np.isfinite(horizon) and horizon > 0):
        raise ValidationError("models.horizon_positive_number_days",
                              "horizon must be a positive number of days, got {horizon}",
                              horizon=horizon)
    try:
        d = np.asarray(duration, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValidationError("models.numbers_days_followed",
                              "{d_name} must be numbers of days followed",
                              d_name=d_name) from exc
    try:
        e = np.asarray(event, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValidationError("models.no_reoffence_reoffence",
                              "{e_name} must be 0 (no reoffence) or 1 (reoffence)",
                              e_name=e_name) from exc
    if len(d) != len(e):
        raise ValidationError("models.rows_but",
                              "{d_name} has {n_d} rows but {e_name} has {n_e}",
                              d_name=d_name, n_d=len(d), e_name=e_name, n_e=len(e))
    if len(d) == 0:
        raise ValidationError("models.frame_no_participants", "the frame has no participants")
    if np.isnan(d).any():
        raise ValidationError(
            "models.missing_participants_row_positions",
            "{d_name} is missing for {sum} participants (row positions {positions}); record the "
            "days followed",
            d_name=d_name, sum=int(np.isnan(d).sum()), positions=positions(np.isnan(d))
        )
    if (d < 0).any() or np.isinf(d).any():
        bad = (d < 0) | np.isinf(d)
        raise ValidationError(
            "models.finite_days_bad_values",
            "{d_name} must be finite days >= 0, got {sum} bad values (row positions "
            "{positions}, first {first_d}); check the follow-up dates",
            d_name=d_name, sum=int(bad.sum()), positions=positions(bad), first_d=d[bad][0]
        )
    bad = ~np.isin(e, (0.0, 1.0))
    if bad.any():
        raise ValidationError(
            "models.no_reoffence_reoffence_other",
            "{e_name} must be 0 (no reoffence) or 1 (reoffence), got {sum} other values (row "
            "positions {positions}, first {first_e})",
            e_name=e_name, sum=int(bad.sum()), positions=positions(bad), first_e=e[bad][0]
        )
    return d, e


# The one censoring distribution of dscr: risk-model labels and weights, Uno's C and the
# time-dependent AUC all read G from `censoring_survival`. At a time s where reoffences and
# censorings fall on one day, the reoffences are taken to come first, so the censoring risk set at
# s is those followed to s who did not reoffend at s (scikit-survival's
# CensoringDistributionEstimator). With that convention the Kaplan-Meier S of reoffending and G
# multiply to the share still followed, S(t) G(t) = #(T > t) / n, which makes the IPCW event rate
# equal 1 - S exactly, ties or not (lifelines' KaplanMeierFitter().fit(T, 1 - E) keeps those who
# reoffend at s in the censoring risk set and gives a different G on such days).


def censoring_survival(
    duration: pd.Series | np.ndarray | Sequence[float],
    event: pd.Series | np.ndarray | Sequence[float],
    times: float | Sequence[float] | np.ndarray,
    *,
    left_limit: bool = False,
) -> np.ndarray:
    """Kaplan-Meier probability of still being under follow-up, G(t) = P(C > t), at `times`.

    Censoring is the "event" here; at tied times reoffences come first (see above), as
    sksurv.nonparametric.CensoringDistributionEstimator().fit(y).predict_proba(times).
    `left_limit=True` gives G(t-) = P(C >= t), the value just before t: what the weights use, so
    that everyone censored together at the administrative end of follow-up does not make G zero
    at a reoffence on that same day. 1 before the first censoring; after the last observed time,
    the last value.
    """
    d, e = _check_follow_up(duration, event, 1.0)
    t = np.atleast_1d(np.asarray(times, dtype=float))
    grid, inverse = np.unique(d, return_inverse=True)
    removed = np.bincount(inverse, minlength=len(grid))
    at_risk = len(d) - (np.cumsum(removed) - removed)
    reoffended = np.bincount(inverse[e == 1], minlength=len(grid))
    censored = removed - reoffended
    risk = at_risk - reoffended
    factor = 1.0 - np.divide(censored, risk, out=np.zeros(len(grid)), where=risk > 0)
    survival = np.cumprod(factor)
    index = np.searchsorted(grid, t, side="left" if left_limit else "right") - 1
    return np.where(index >= 0, survival[np.clip(index, 0, None)], 1.0)


def horizon_labels(
    duration: pd.Series | np.ndarray | Sequence[float],
    event: pd.Series | np.ndarray | Sequence[float],
    horizon: float = DEFAULT_HORIZON,
    *,
    censoring: str = "ipcw",
) -> pd.DataFrame:
    """Each participant's status at the horizon, 0/1 label and weight for a risk model.

    `status` is "event" (reoffence at or before the horizon), "event_free" (followed to the
    horizon without one) or "censored" (follow-up ended before the horizon, status unknown).
    With censoring="ipcw" the weights are 1/G(T-) for events and 1/G(horizon-) for the
    event free, so that they sum to n and the weighted event rate equals 1 minus the
    Kaplan-Meier survival at the horizon (Satten & Datta 2001). Censored rows weigh 0.
    """
    if censoring not in CENSORING_METHODS:
        raise ValidationError(
            "models.censoring_one",
            "censoring must be one of {censoring_methods}, got {censoring!r}",
            censoring_methods=', '.join(CENSORING_METHODS), censoring=censoring
        )
    d, e = _check_follow_up(duration, event, horizon)
    is_event = (e == 1) & (d <= horizon)
    is_free = ~is_event & (d >= horizon)
    status = np.where(is_event, STATUS_EVENT, np.where(is_free, STATUS_EVENT_FREE, STATUS_CENSORED))
    if censoring == "ipcw":
        g_event = censoring_survival(d, e, d, left_limit=True)
        g_horizon = censoring_survival(d, e, horizon, left_limit=True)[0]
        with np.errstate(divide="ignore"):
            weight = np.where(is_event, 1.0 / g_event, np.where(is_free, 1.0 / g_horizon, 0.0))
    else:
        weight = (is_event | is_free).astype(float)
    index = duration.index if isinstance(duration, pd.Series) else None
    return pd.DataFrame(
        {"label": is_event.astype(int), "weight": weight, "status": status}, index=index
    )


def event_rate(
    duration: pd.Series | np.ndarray | Sequence[float],
    event: pd.Series | np.ndarray | Sequence[float],
    horizon: float = DEFAULT_HORIZON,
    *,
    censoring: str = "ipcw",
) -> float:
    """Share of participants who reoffend by the horizon: IPCW (= 1 - KM) or naive exclusion."""
    labels = horizon_labels(duration, event, horizon, censoring=censoring)
    if labels["weight"].sum() == 0:
        return float("nan")
    return float(np.average(labels["label"], weights=labels["weight"]))
