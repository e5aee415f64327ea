"""Model cards: built from a fitted and validated model, round-tripped, fingerprinted."""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
import json

import pandas as pd
import pytest

from errors import ValidationError
from models.cards import ModelCard, build_card, data_fingerprint
from models.risk import get_model, validate
from tests.models._risk_data import FEATURES, HORIZON, make_cohort

CREATED = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
WINDOW = (dt.date(2019, 1, 1), dt.date(2024, 12, 31))


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_cohort(400, seed=31)


@pytest.fixture(scope="module")
def card(frame) -> ModelCard:
    model = get_model("logistic", C=0.5).fit(frame, FEATURES, HORIZON)
    result = validate(
        "logistic",
        frame,
        FEATURES,
        HORIZON,
        n_repeats=1,
        random_state=1,
        n_bootstrap=30,
        model_params={"C": 0.5},
        subgroups=["programme"],
    )
    return build_card(
        model, frame, result, created=CREATED, code_version="abc1234", data_window=WINDOW
    )


def test_card_records_what_a_reader_needs(card, frame):
    assert card.model_name == "logistic"
    assert card.horizon == 730.0
    assert card.data_window == ("2019-01-01", "2024-12-31")
    assert card.n == 400
    assert card.features == FEATURES
    assert card.epv == pytest.approx(card.events / card.n_predictors)
    assert card.created == "2026-03-02T09:30:00+00:00"
    assert card.code_version == "abc1234"
    assert "inverse probability of censoring weighting" in str(card.censoring)
    assert card.model_params["C"] == 0.5
    assert set(card.metrics) == {
        "auc",
        "brier",
        "eo_ratio",
        "calibration_intercept",
        "calibration_slope",
    }
    for figures in card.metrics.values():
        assert figures["ci_lower"] <= figures["estimate"] <= figures["ci_upper"]
    assert set(card.subgroups["programme"]) == {"A", "B", "C"}
    assert "programme=B" in card.terms


def test_dict_and_json_round_trip(card):
    assert ModelCard.from_dict(card.to_dict()) == card
    text = card.to_json()
    assert ModelCard.from_json(text) == card
    json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in strict JSON"))
    assert card.metrics_table.loc["auc", "estimate"] == card.metrics["auc"]["estimate"]


def test_card_holds_a_fingerprint_not_the_rows(card, frame):
    assert len(card.data_fingerprint) == 64
    int(card.data_fingerprint, 16)
    text = card.to_json()
    for value in frame["duration"].head(50):
        assert repr(float(value)) not in text


def test_fingerprint_ignores_order_and_sees_any_changed_value(frame):
    columns = ["duration", "event", *FEATURES]
    reference = data_fingerprint(frame, columns)
    shuffled = frame.sample(frac=1.0, random_state=0)[list(reversed(frame.columns))]
    assert data_fingerprint(shuffled, columns) == reference
    assert data_fingerprint(frame.reset_index(drop=True), columns) == reference
    changed = frame.copy()
    changed.loc[5, "sessions_attended"] += 1
    assert data_fingerprint(changed, columns) != reference
    # The same numbers stored as floats are the same data.
    as_float = frame.astype({"event": float})
    assert data_fingerprint(as_float, columns) == reference


def test_created_and_code_version_have_no_defaults():
    # Passed in by the caller: a default would freeze a clock or a version at import time.
    for parameter in ("created", "code_version"):
        assert (
            inspect.signature(build_card).parameters[parameter].default is inspect.Parameter.empty
        )
        assert ModelCard.__dataclass_fields__[parameter].default is dataclasses.MISSING


def test_card_refuses_a_frame_the_model_was_not_fitted_on(frame):
    model = get_model("logistic").fit(frame, FEATURES, HORIZON)
    with pytest.raises(ValidationError, match="pass the frame it was fitted on"):
        build_card(
            model, frame.head(300), None, created=CREATED, code_version="x", data_window=WINDOW
        )


def test_card_without_validation_says_it_has_no_metrics(frame):
    model = get_model("logistic").fit(frame, FEATURES, HORIZON)
    card = build_card(
        model, frame, None, created="2026-03-02", code_version="x", data_window=WINDOW
    )
    assert card.metrics == {}
    assert any("Not validated" in str(w) for w in card.warnings)


def test_unknown_card_fields_are_refused(card):
    data = card.to_dict() | {"participants": [1, 2]}
    with pytest.raises(ValidationError, match="unknown participants"):
        ModelCard.from_dict(data)
