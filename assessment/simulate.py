"""Synthetic answers to an instrument at a chosen level, for the demo data generator and tests.

Model (a thresholded normal, i.e. an ordinal probit with equal item slopes): a person at level z
(a z-score against the instrument's norms) answers item i of a domain with

    y* = c(z) + delta_i + sigma * e,   e ~ N(0, 1),
    answer = min + number of thresholds min+0.5, ..., max-0.5 below y*,

then reverse-keyed items are written as min + max - answer, as a person would tick them.
delta_i are small fixed item offsets (some items easier than others), sigma is set so that
the domain score's reliability in a population with z ~ N(0, 1) is about the norm's
reliability, and c(z) is solved exactly so that the expected *keyed* domain score equals
norm.mean + z * norm.sd. That target is capped just inside the score range, so beyond the
scale's ends the expected score flattens instead of leaving the range; in between it rises
strictly with z.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from scipy import optimize, special

from assessment.instruments import DOMAIN_LABELS, Instrument, Item
from errors import ValidationError

# Spread of the item offsets, in answer points: enough for items to differ, small enough that
# no item sits at the end of the scale for an average person.
ITEM_OFFSET_SPREAD = 0.3
# Floor of the latent noise: without it a very reliable norm would make answers deterministic.
MIN_SIGMA = 0.2


def _offsets(k: int) -> np.ndarray:
    if k == 1:
        return np.zeros(1)
    raw = np.sin(1.0 + 2.4 * np.arange(k))
    raw = raw - raw.mean()
    return ITEM_OFFSET_SPREAD * raw / np.abs(raw).max()


def _sigma(instrument: Instrument, domain: str, k: int) -> float:
    norm = instrument.norms[domain]
    # Norm SD on the one-item scale, whatever the scoring method.
    item_sd = norm.sd / k if instrument.scoring.method == "sum" else norm.sd
    error_var_of_mean = item_sd**2 * (1.0 - norm.reliability) / norm.reliability
    # Rounding to whole answers adds about 1/12 to each item's error variance.
    latent_var = k * error_var_of_mean - 1.0 / 12.0
    return max(math.sqrt(max(latent_var, 0.0)), MIN_SIGMA)


def _expected_answer(mu: np.ndarray, sigma: float, lo: int, hi: int) -> np.ndarray:
    thresholds = np.arange(lo, hi) + 0.5
    return lo + special.ndtr((mu[:, None] - thresholds[None, :]) / sigma).sum(axis=1)


def _target_item_mean(instrument: Instrument, domain: str, level: float, k: int) -> float:
    norm = instrument.norms[domain]
    lo, hi = instrument.scale.min, instrument.scale.max
    target = norm.mean + level * norm.sd
    if instrument.scoring.method == "sum":
        target /= k
    margin = 1e-6 * (hi - lo)
    return min(max(target, lo + margin), hi - margin)


def _location(instrument: Instrument, domain: str, level: float) -> tuple[float, np.ndarray, float]:
    items = instrument.items_of_domain(domain)
    k = len(items)
    lo, hi = instrument.scale.min, instrument.scale.max
    offsets = _offsets(k)
    sigma = _sigma(instrument, domain, k)
    target = _target_item_mean(instrument, domain, level, k)

    def gap(c: float) -> float:
        return float(_expected_answer(c + offsets, sigma, lo, hi).mean() - target)

    span = (hi - lo) + 12.0 * sigma + 1.0
    c = optimize.brentq(gap, lo - span, hi + span, xtol=1e-12, rtol=1e-14, maxiter=500)
    return c, offsets, sigma


def expected_domain_score(instrument: Instrument, domain: str, level: float) -> float:
    """The mean domain score of many people simulated at `level` (no missing answers)."""
    _check_domain(instrument, domain)
    c, offsets, sigma = _location(instrument, domain, float(level))
    k = len(offsets)
    mean = float(
        _expected_answer(c + offsets, sigma, instrument.scale.min, instrument.scale.max).mean()
    )
    return mean * k if instrument.scoring.method == "sum" else mean


def _check_domain(instrument: Instrument, domain: str) -> None:
    if domain not in instrument.domains:
        raise ValidationError(
            "assessment.does_not_score_scores",
            "{instrument_id} does not score {domain!r}; it scores {instrument_domains}",
            instrument_id=instrument.id, domain=domain,
            instrument_domains=', '.join(instrument.domains)
        )


def _check_levels(instrument: Instrument, levels: Mapping[str, float]) -> dict[str, float]:
    unknown = [d for d in levels if d not in DOMAIN_LABELS]
    if unknown:
        raise ValidationError(
            "assessment.unknown_domain_levels_known",
            "unknown domain {unknown} in levels; known domains: {domain_labels}",
            unknown=', '.join(map(repr, unknown)), domain_labels=', '.join(DOMAIN_LABELS)
        )
    missing = [d for d in instrument.domains if d not in levels]
    if missing:
        raise ValidationError(
            "assessment.levels_give_z_score",
            "levels must give a z-score for every domain {instrument_id} scores; missing: "
            "{missing}",
            instrument_id=instrument.id, missing=', '.join(missing)
        )
    out: dict[str, float] = {}
    for d in instrument.domains:
        value = levels[d]
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float, np.number))
            or not math.isfinite(value)
        ):
            raise ValidationError("assessment.level_finite_z_score",
                                  "level of {d} must be a finite z-score, got {value!r}",
                                  d=d, value=value)
        out[d] = float(value)
    return out


def _raw_answer(instrument: Instrument, item: Item, keyed: int) -> int:
    if item.reverse:
        return instrument.scale.min + instrument.scale.max - keyed
    return keyed


def simulate_responses(
    instrument: Instrument,
    levels: Mapping[str, float],
    rng: np.random.Generator,
    missing_rate: float = 0.0,
) -> dict[str, int | None]:
    """Answers of one synthetic person whose domain levels are z-scores against the norms.

    Works for self-report and counselor rating forms alike (free-text fields are left out).
    Each answer is independently left missing (None) with probability `missing_rate`.
    Levels for known domains the instrument does not score are ignored, so one person's
    levels can be passed to every instrument.
    """
    if not isinstance(rng, np.random.Generator):
        raise ValidationError(
            "assessment.rng_numpy_random_generator",
            "rng must be a numpy.random.Generator (numpy.random.default_rng(seed)), got "
            "{type_name}",
            type_name=type(rng).__name__
        )
    if isinstance(missing_rate, bool) or not 0.0 <= float(missing_rate) < 1.0:
        raise ValidationError("assessment.missing_rate_share",
                              "missing_rate must be a share in [0, 1), got {missing_rate!r}",
                              missing_rate=missing_rate)
    z = _check_levels(instrument, levels)
    lo, hi = instrument.scale.min, instrument.scale.max
    answers: dict[str, int | None] = {}
    for domain in instrument.domains:
        items = instrument.items_of_domain(domain)
        c, offsets, sigma = _location(instrument, domain, z[domain])
        latent = c + offsets + sigma * rng.standard_normal(len(items))
        keyed = np.clip(np.floor(latent + 0.5), lo, hi).astype(int)
        # Drawn even at rate 0 so that the same seed gives the same answers at any rate.
        skipped = rng.random(len(items)) < missing_rate
        for item, value, skip in zip(items, keyed, skipped, strict=True):
            answers[item.id] = None if skip else _raw_answer(instrument, item, int(value))
    # Report in the instrument's item order, as a form is read.
    return {it.id: answers[it.id] for it in instrument.items}
