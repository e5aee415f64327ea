"""Synthetic follow-up cohorts with a known logistic risk, for the risk model tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

# Per unit of each feature, on the log-odds of reoffending within the horizon.
TRUE_INTERCEPT = -2.0
TRUE_COEF = {"age_at_offence": 0.35, "prior_offences": 0.6, "sessions_attended": -0.08}
PROGRAMME_EFFECT = {"A": 0.0, "B": 0.5, "C": -0.3}
HORIZON = 730
MEANS = {"age_at_offence": 15.0, "prior_offences": 1.0, "sessions_attended": 10.0}


def true_log_odds(frame: pd.DataFrame) -> np.ndarray:
    lp = TRUE_INTERCEPT + sum(c * (frame[k] - MEANS[k]) for k, c in TRUE_COEF.items())
    return np.asarray(lp + frame["programme"].map(PROGRAMME_EFFECT), dtype=float)


def make_cohort(
    n: int,
    seed: int,
    *,
    censor_low: float = 400.0,
    censor_high: float = 1600.0,
    intercept_shift: float = 0.0,
) -> pd.DataFrame:
    """One row per participant: follow-up, reoffence flag and baseline features.

    Event times are exponential with the rate that gives the logistic risk at HORIZON;
    censoring is uniform on [censor_low, censor_high] days, independent of everything.
    """
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age_at_offence": rng.normal(15.0, 1.5, n),
            "prior_offences": rng.poisson(1.0, n).astype(float),
            "sessions_attended": rng.integers(4, 17, n).astype(float),
            "programme": rng.choice(["A", "B", "C"], n),
            "completed": rng.random(n) < 0.7,
        }
    )
    risk = expit(true_log_odds(frame) + intercept_shift)
    rate = -np.log1p(-risk) / HORIZON
    event_time = rng.exponential(1 / rate)
    censor_time = rng.uniform(censor_low, censor_high, n)
    frame.insert(0, "duration", np.minimum(event_time, censor_time))
    frame.insert(1, "event", (event_time <= censor_time).astype(int))
    frame["true_risk"] = risk
    return frame


FEATURES = ["age_at_offence", "prior_offences", "sessions_attended", "programme", "completed"]
