"""Checks of follow-up data shared by the survival, discrimination and competing-risks modules."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from errors import Message, ValidationError


def show_id(value: object) -> str:
    """A person's id as a reader expects it in a message: 7, not np.float64(7.0)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return repr(value) if isinstance(value, str) else str(value)


def check_columns(df: pd.DataFrame, columns: Sequence[str], what: str = "data") -> None:
    """Raise a ValidationError naming every column of `columns` that `df` lacks."""
    if not isinstance(df, pd.DataFrame):
        raise ValidationError("models.pandas_dataframe",
                              "{what} must be a pandas DataFrame, got {type_name}",
                              what=what, type_name=type(df).__name__)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValidationError(
            "models.no_column_columns_present",
            "{what} has no column(s) {missing}; columns present are {df_columns}",
            what=what, missing=missing, df_columns=list(df.columns)
        )


def check_durations(values: object, name: str = "duration", allow_zero: bool = True) -> np.ndarray:
    """Durations as floats: finite, not missing, not negative (positive when allow_zero=False)."""
    s = pd.Series(values)
    if s.isna().any():
        bad = s.index[s.isna()][:5].tolist()
        raise ValidationError(
            "models.column_missing_value_rows",
            "column '{name}' has {sum} missing value(s) (rows {bad}); fill in the follow-up "
            "time or drop those rows before fitting",
            name=name, sum=int(s.isna().sum()), bad=bad
        )
    try:
        arr = s.to_numpy(dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValidationError("models.column_numeric_days",
                              "column '{name}' must be numeric (days), got {s_dtype}",
                              name=name, s_dtype=s.dtype) from exc
    if not np.isfinite(arr).all():
        raise ValidationError("models.column_infinite_values_durations",
                              "column '{name}' has infinite values; durations must be finite "
                              "days",
                              name=name)
    low = arr < 0 if allow_zero else arr <= 0
    if low.any():
        i = int(np.flatnonzero(low)[0])
        rule = (Message("models.rule_negative", "negative") if allow_zero
                else Message("models.rule_zero_or_negative", "zero or negative"))
        raise ValidationError(
            "models.column_duration_row_follow",
            "column '{name}' has {sum} {rule} duration(s) (first: row {show_id} = {arr}); "
            "follow-up ends after it starts, so check the start and end dates",
            name=name, sum=int(low.sum()), rule=rule, show_id=show_id(s.index[i]), arr=arr[i]
        )
    return arr


def check_events(values: object, name: str = "event") -> np.ndarray:
    """Event indicators as 0/1 integers; booleans are accepted."""
    s = pd.Series(values)
    if s.isna().any():
        raise ValidationError(
            "models.column_missing_value_code_2",
            "column '{name}' has {sum} missing value(s); code each row 1 (reoffended) or 0 "
            "(censored)",
            name=name, sum=int(s.isna().sum())
        )
    arr = s.to_numpy()
    if arr.dtype == bool:
        return arr.astype(int)
    try:
        num = arr.astype(float)
    except (TypeError, ValueError) as exc:
        raise ValidationError("models.column_values",
                              "column '{name}' must be 0 or 1, got {s_dtype} values",
                              name=name, s_dtype=s.dtype) from exc
    bad = ~np.isin(num, (0.0, 1.0))
    if bad.any():
        raise ValidationError(
            "models.column_censored_event_several",
            "column '{name}' must be 0 (censored) or 1 (event), got {num}; for several event "
            "types use models.competing.cumulative_incidence",
            name=name, num=sorted(set(num[bad]))[:5]
        )
    return num.astype(int)


def positions(mask: np.ndarray, limit: int = 5) -> str:
    """The first row positions where `mask` holds, for a message: "3, 8, 12, ..."."""
    found = np.flatnonzero(mask)[:limit]
    more = ", ..." if mask.sum() > limit else ""
    return ", ".join(str(int(i)) for i in found) + more
