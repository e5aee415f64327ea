"""The model card kept with each fitted risk model: what it is, what it saw, how well it does."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from errors import Message, ValidationError
from models.labels import STATUS_EVENT, horizon_labels
from models.risk import RiskModel, ValidationResult

CARD_VERSION = 1


def _plain(value: Any) -> Any:
    """JSON-safe plain value: numpy scalars unwrapped, NaN and infinities as None.

    A Message (a warning, the censoring and explanation texts) is kept as its code, English
    template and params, so that the dashboard can show it in the reader's language.
    """
    if isinstance(value, Message):
        return {"code": value.code, "template": value.template, "params": _plain(value.params)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def message_of(value: Any) -> Message | Any:
    """A Message read back from a card's JSON; a plain sentence (a card written before) as it is."""
    if isinstance(value, Mapping) and {"code", "template"} <= set(value):
        params = {k: message_of(v) for k, v in (value.get("params") or {}).items()}
        return Message(value["code"], value["template"], **params)
    return value


def _table(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    return {str(k): _plain(row) for k, row in frame.to_dict(orient="index").items()}


def _token(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "NaN"
    if isinstance(value, bool | np.bool_ | int | np.integer | float | np.floating):
        # Numbers by value, so an int column and the same numbers stored as floats agree.
        return repr(float(value))
    if isinstance(value, pd.Timestamp | dt.date | dt.datetime):
        return value.isoformat()
    return json.dumps(str(value), ensure_ascii=False)


def data_fingerprint(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> str:
    """sha256 over a canonical serialisation of the values in `columns` (default: all).

    Canonical: columns in name order, each cell as a token (numbers as float repr, missing as
    NaN, text JSON-quoted), rows sorted, the index left out. So the same data in another row or
    column order gives the same fingerprint, one changed value gives another, and the
    fingerprint says nothing about any participant.
    """
    if not isinstance(frame, pd.DataFrame):
        raise ValidationError("models.frame_pandas_dataframe",
                              "frame must be a pandas DataFrame, got {type_name}",
                              type_name=type(frame).__name__)
    chosen = sorted(map(str, frame.columns if columns is None else columns))
    missing = [c for c in chosen if c not in frame.columns.astype(str)]
    if missing:
        raise ValidationError("models.fingerprint_frame_no_column",
                              "cannot fingerprint: the frame has no column {missing}",
                              missing=', '.join(missing))
    subset = frame.rename(columns=str)[chosen]
    rows = sorted(
        json.dumps([_token(v) for v in row], ensure_ascii=False)
        for row in subset.itertuples(index=False, name=None)
    )
    payload = json.dumps({"columns": chosen, "rows": rows}, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass
class ModelCard:
    """What a reader needs to question a risk model; saved with it, as plain JSON values.

    `metrics`: metric -> {estimate, ci_lower, ci_upper}; `subgroups`: column -> group -> the
    `fairness.group_metrics` row; `terms`: the model's `summary` rows. Missing figures are None.
    """

    model_name: str
    horizon: float
    data_window: tuple[str, str]
    n: int
    events: int
    censored: int
    features: list[str]
    n_predictors: int
    epv: float | None
    metrics: dict[str, dict[str, float | None]]
    subgroups: dict[str, dict[str, dict[str, Any]]]
    threshold: float | None
    validation_settings: dict[str, Any]
    censoring: Message | str  # a str in cards written before messages had codes
    explanation: Message | str
    model_params: dict[str, Any]
    terms: dict[str, dict[str, Any]]
    created: str
    code_version: str
    data_fingerprint: str
    warnings: list[Message | str]
    card_version: int = CARD_VERSION

    def to_dict(self) -> dict[str, Any]:
        return _plain(asdict(self))

    def to_json(self) -> str:
        return json.dumps(
            self.to_dict(), ensure_ascii=False, allow_nan=False, indent=2, sort_keys=True
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelCard:
        names = {f.name for f in fields(cls)}
        required = {f.name for f in fields(cls) if f.name != "card_version"}
        unknown = sorted(set(data) - names)
        missing = sorted(required - set(data))
        if unknown or missing:
            if missing and unknown:
                raise ValidationError("models.card_missing_and_unknown",
                                      "not a dscr model card: missing {missing}; unknown {unknown}",
                                      missing=", ".join(missing), unknown=", ".join(unknown))
            if missing:
                raise ValidationError("models.card_missing", "not a dscr model card: missing {missing}",
                                      missing=", ".join(missing))
            raise ValidationError("models.card_unknown", "not a dscr model card: unknown {unknown}",
                                  unknown=", ".join(unknown))
        if data.get("card_version", CARD_VERSION) > CARD_VERSION:
            raise ValidationError(
                "models.model_card_version_newer",
                "model card version {card_version} is newer than this code reads "
                "({card_version_2}); update dscr",
                card_version=data['card_version'], card_version_2=CARD_VERSION
            )
        values = dict(data)
        values["data_window"] = tuple(values["data_window"])
        values["features"] = list(values["features"])
        values["warnings"] = [message_of(w) for w in values["warnings"]]
        values["censoring"] = message_of(values["censoring"])
        values["explanation"] = message_of(values["explanation"])
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> ModelCard:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError("models.model_card_not_valid",
                                  "model card is not valid JSON: {exc}",
                                  exc=exc) from exc
        return cls.from_dict(data)

    @property
    def metrics_table(self) -> pd.DataFrame:
        """`metrics` as a DataFrame: estimate, ci_lower, ci_upper per metric (NaN for None)."""
        table = pd.DataFrame.from_dict(self.metrics, orient="index", dtype=float)
        return table.rename_axis("metric")


def _date_text(value: dt.date | str, what: str) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str) and value:
        return value
    raise ValidationError("models.date_iso_date_string",
                          "{what} must be a date or an ISO date string, got {value!r}",
                          what=what, value=value)


def build_card(
    model: RiskModel,
    frame: pd.DataFrame,
    validation: ValidationResult | None,
    *,
    created: dt.datetime | str,
    code_version: str,
    data_window: tuple[dt.date | str, dt.date | str],
) -> ModelCard:
    """The card of `model`, fitted on `frame` (the very frame: its counts are checked) and
    validated by `validation`. `created` and `code_version` are passed in, never read from a
    clock or the repository here. Without a validation the card carries no metrics and says so.
    """
    model._check_fitted()
    created_text = _date_text(created, "created")
    if not (isinstance(code_version, str) and code_version.strip()):
        raise ValidationError("models.code_version_name_code",
                              "code_version must name the code that fitted the model")
    if not (isinstance(data_window, Sequence) and len(data_window) == 2):
        raise ValidationError("models.data_window_day_last",
                              "data_window must be (first day, last day), got {data_window!r}",
                              data_window=data_window)
    window = (
        _date_text(data_window[0], "data_window start"),
        _date_text(data_window[1], "data_window end"),
    )
    if window[0] > window[1]:
        raise ValidationError("models.data_window_starts_after",
                              "data_window starts after it ends: {first_window} > {window}",
                              first_window=window[0], window=window[1])
    labels = horizon_labels(
        frame[model.duration_col_],
        frame[model.event_col_],
        model.horizon_,
        censoring=model.censoring,
    )
    events = int((labels["status"] == STATUS_EVENT).sum())
    if len(frame) != model.n_ or events != model.n_events_:
        raise ValidationError(
            "models.frame_participants_events_but",
            "this frame has {n_frame} participants and {events} events but the model was fitted "
            "on {model_n} and {model_n_events}; pass the frame it was fitted on",
            n_frame=len(frame), events=events, model_n=model.n_, model_n_events=model.n_events_
        )
    notes = list(model.warnings_)
    metrics: dict[str, dict[str, float | None]] = {}
    subgroups: dict[str, dict[str, dict[str, Any]]] = {}
    threshold = None
    settings: dict[str, Any] = {}
    if validation is None:
        notes.append(Message("models.not_validated",
                             "Not validated: no performance figures. Run validate() before use."))
    else:
        if validation.model_name != model.name or validation.horizon != model.horizon_:
            raise ValidationError(
                "models.validation_days_model_days",
                "the validation is of {validation_model_name} at {validation_horizon:g} days, "
                "the model is {model_name} at {model_horizon:g} days; validate this model",
                validation_model_name=validation.model_name, validation_horizon=validation.horizon,
                model_name=model.name, model_horizon=model.horizon_
            )
        metrics = _table(validation.summary)
        subgroups = {column: _table(table) for column, table in validation.subgroups.items()}
        threshold = validation.threshold
        settings = _plain(validation.settings)
        notes.extend(w for w in validation.warnings if w not in notes)
    terms = _table(model.summary) if hasattr(model, "summary_") else {}
    columns = [model.duration_col_, model.event_col_, *model.features_]
    return ModelCard(
        model_name=model.name,
        horizon=float(model.horizon_),
        data_window=window,
        n=int(model.n_),
        events=int(model.n_events_),
        censored=int(model.n_censored_),
        features=list(model.features_),
        n_predictors=int(model.n_predictors_),
        epv=_plain(float(model.epv_)),
        metrics=metrics,
        subgroups=subgroups,
        threshold=_plain(threshold),
        validation_settings=settings,
        censoring=model.censoring_text_,
        explanation=model.explanation_method,
        model_params=_plain(model.get_params(deep=False)),
        terms=terms,
        created=created_text,
        code_version=code_version,
        data_fingerprint=data_fingerprint(frame, columns),
        warnings=notes,
    )
