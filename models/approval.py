"""The gates a risk model's card must pass before a second person may approve it for counselors.

Pure: a card's plain values in, messages out. `models.service.approve_model` asks these before it
writes, so that the rule has one home:
- discrimination better than chance with confidence: the AUC's lower 95% bound above 0.5;
- calibration in the large: expected / observed (E/O) inside 0.8-1.25;
- predictions from stored parameters only (a model that would be refitted for each request,
  gradient boosting today, is not approved);
- every warning on the card acknowledged, one by one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from errors import Message

AUC_LOWER_ABOVE = 0.5
EO_RANGE = (0.8, 1.25)
STORED_PREDICTION = "stored coefficients"


def _figure(metrics: Mapping[str, Any], name: str, part: str) -> float | None:
    value = (metrics.get(name) or {}).get(part)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def blockers(card: Mapping[str, Any], params: Mapping[str, Any]) -> list[Message]:
    """Why the model may not be approved (empty: the gates pass). `card`: the stored card's
    JSON; `params`: the stored parameters (how it predicts)."""
    out: list[Message] = []
    metrics = card.get("metrics") or {}
    lower = _figure(metrics, "auc", "ci_lower")
    if lower is None or lower <= AUC_LOWER_ABOVE:
        out.append(Message(
            "models.gate_auc",
            "The AUC's lower 95% bound is {lower}, not above {limit}: the model may rank people "
            "no better than chance",
            lower="missing" if lower is None else f"{lower:.3f}", limit=f"{AUC_LOWER_ABOVE:g}"))
    eo = _figure(metrics, "eo_ratio", "estimate")
    if eo is None or not EO_RANGE[0] <= eo <= EO_RANGE[1]:
        out.append(Message(
            "models.gate_eo",
            "E/O (expected / observed reoffences) is {eo}, outside {low}-{high}: the risks it "
            "gives are too high or too low on average",
            eo="missing" if eo is None else f"{eo:.2f}", low=f"{EO_RANGE[0]:g}",
            high=f"{EO_RANGE[1]:g}"))
    if params.get("prediction") != STORED_PREDICTION:
        out.append(Message(
            "models.gate_stored",
            "This model does not predict from stored parameters (it would be refitted for each "
            "request); only a model that does can be approved"))
    return out


def warning_keys(warnings: Sequence[Any]) -> list[str]:
    """One key per warning of a card, as the approver acknowledges it: its position and code
    (a plain sentence from an older card has the code "text")."""
    keys = []
    for i, w in enumerate(warnings):
        code = w.get("code", "text") if isinstance(w, Mapping) else getattr(w, "code", "text")
        keys.append(f"{i + 1}:{code}")
    return keys


def unacknowledged(warnings: Sequence[Any], acknowledged: Sequence[str]) -> list[str]:
    """The keys of the card's warnings not in `acknowledged`."""
    given = set(acknowledged)
    return [k for k in warning_keys(warnings) if k not in given]


__all__ = [
    "AUC_LOWER_ABOVE",
    "EO_RANGE",
    "STORED_PREDICTION",
    "blockers",
    "unacknowledged",
    "warning_keys",
]
