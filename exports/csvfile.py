"""The one CSV writer of every export: text cells that a spreadsheet would run as a formula are neutralised.

A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to Excel,
LibreOffice and Google Sheets (OWASP, "CSV injection"); such a cell gets a leading `'`, which the
spreadsheets show as text and do not print. Every text-like column is treated, whatever its
dtype: `object`, pandas' `string` (python or pyarrow storage), pandas 3's default `str`, and
categories of text. Numbers stay numbers (a negative number is not text and is not touched).
Pure: frames and rows in, bytes out.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """`'=HYPERLINK(...)` for `=HYPERLINK(...)`; anything that is not such text is returned as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _is_text(series: pd.Series) -> bool:
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return True
    return (pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype))


def neutralised(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of the frame whose text-like cells (and column names) are neutralised."""
    out = frame.copy()
    for col in out.columns:
        if _is_text(out[col]):
            # To object first: a category or string column keeps its dtype's rules otherwise
            # (a category refuses the new value, a string column keeps <NA> as a missing cell).
            values = out[col].astype(object)
            out[col] = values.map(neutralise, na_action="ignore")
    out.columns = [neutralise(c) if isinstance(c, str) else c for c in out.columns]
    return out


def frame_bytes(frame: pd.DataFrame, *, float_format: str | None = None) -> bytes:
    """The frame as UTF-8 CSV with a byte-order mark (so that Excel reads Korean), no index."""
    return neutralised(frame).to_csv(index=False, float_format=float_format).encode("utf-8-sig")


def rows_bytes(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """Rows as plain UTF-8 CSV (no byte-order mark: an exchange format read by programs)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([neutralise(h) for h in header])
    for row in rows:
        writer.writerow([neutralise(v) for v in row])
    return buf.getvalue().encode("utf-8")
