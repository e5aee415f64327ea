"""Scoring one completed instrument: answer validation, reverse keys, the missing-answer rule."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import pandas as pd

from assessment.instruments import Instrument, Item
from errors import ValidationError


@dataclass(frozen=True)
class ScoreResult:
    """Scores of one administration; a score is None when too few of its items were answered."""

    instrument_id: str
    instrument_version: int
    subscale_scores: Mapping[str, float | None]
    domain_scores: Mapping[str, float | None]
    n_answered: int
    n_items: int
    # Answered items whose value was reversed (min + max - x) before scoring.
    reverse_keyed_applied: tuple[str, ...]
    # Every item's value after reverse keying, None when not answered.
    keyed_responses: Mapping[str, int | None]

    @property
    def table(self) -> pd.DataFrame:
        """One row per subscale and per domain: level, name, score."""
        rows = [("subscale", k, v) for k, v in self.subscale_scores.items()]
        rows += [("domain", k, v) for k, v in self.domain_scores.items()]
        frame = pd.DataFrame(rows, columns=["level", "name", "score"])
        frame["score"] = frame["score"].astype(float)
        return frame


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _check_value(instrument: Instrument, item: Item, value: object) -> int:
    lo, hi = instrument.scale.min, instrument.scale.max

    def out_of_range() -> ValidationError:
        return ValidationError(
            "assessment.answer_range",
            "{instrument} v{version}: item {item} must be a whole number {lo}..{hi}, got {value!r}",
            instrument=instrument.id, version=instrument.version, item=item.id, lo=lo, hi=hi,
            value=value)

    # bool is an int subclass; True as an answer is a bug upstream, not a 1.
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise out_of_range()
    if isinstance(value, numbers.Integral):
        number = int(value)
    else:
        # Integral floats arrive from DataFrames that hold missing answers as NaN.
        as_float = float(value)
        if not as_float.is_integer():
            raise out_of_range()
        number = int(as_float)
    if not lo <= number <= hi:
        raise out_of_range()
    return number


def keyed_value(instrument: Instrument, item: Item, value: int) -> int:
    """The value that enters the score: reverse-keyed items become min + max - value."""
    if item.reverse:
        return instrument.scale.min + instrument.scale.max - value
    return value


def _aggregate(instrument: Instrument, values: list[int | None]) -> float | None:
    answered = [v for v in values if v is not None]
    n = len(values)
    # The rule is a share of the scale's items, so a 10-item scale with min_answered 0.8 needs 8.
    if n == 0 or len(answered) < instrument.scoring.min_answered * n - 1e-12:
        return None
    mean = sum(answered) / len(answered)
    if instrument.scoring.method == "sum":
        # Prorated: the sum the person would have had at their own mean on the skipped items,
        # so a skipped item does not read as the lowest answer.
        return mean * n
    return mean


def score_responses(instrument: Instrument, responses: Mapping[str, int | None]) -> ScoreResult:
    """Score answers keyed by item id; missing keys and None are unanswered items.

    Keys that name one of the instrument's free-text fields (such as `risk_notes`) are accepted
    and ignored, so a whole form can be passed; any other unknown key is refused. An answer must
    be a whole number on the instrument's scale (an integral float such as 3.0 is accepted, NaN
    counts as unanswered).
    """
    known = {it.id: it for it in instrument.items}
    free_text = {f.id for f in instrument.free_text_fields}
    unknown = [k for k in responses if k not in known and k not in free_text]
    if unknown:
        raise ValidationError(
            "assessment.no_item_items",
            "{instrument_id} v{instrument_version} has no item {unknown}; its items are "
            "{first_instrument_item_ids}..{last_instrument_item_ids}",
            instrument_id=instrument.id, instrument_version=instrument.version,
            unknown=', '.join(map(repr, unknown)),
            first_instrument_item_ids=instrument.item_ids[0],
            last_instrument_item_ids=instrument.item_ids[-1]
        )

    keyed: dict[str, int | None] = {}
    reversed_ids: list[str] = []
    for item in instrument.items:
        raw = responses.get(item.id)
        if _is_missing(raw):
            keyed[item.id] = None
            continue
        value = _check_value(instrument, item, raw)
        keyed[item.id] = keyed_value(instrument, item, value)
        if item.reverse:
            reversed_ids.append(item.id)

    subscale_scores = {
        s.id: _aggregate(instrument, [keyed[i.id] for i in instrument.items_of_subscale(s.id)])
        for s in instrument.subscales
    }
    # A domain score pools its items directly (not its subscale scores), so subscales of
    # different lengths weigh by their number of items, as the norms assume.
    domain_scores = {
        d: _aggregate(instrument, [keyed[i.id] for i in instrument.items_of_domain(d)])
        for d in instrument.domains
    }
    return ScoreResult(
        instrument_id=instrument.id,
        instrument_version=instrument.version,
        subscale_scores=MappingProxyType(subscale_scores),
        domain_scores=MappingProxyType(domain_scores),
        n_answered=sum(v is not None for v in keyed.values()),
        n_items=len(instrument.items),
        reverse_keyed_applied=tuple(reversed_ids),
        keyed_responses=MappingProxyType(keyed),
    )
