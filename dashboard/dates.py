"""Dates and times as a user in Seoul reads them.

The store keeps naive UTC (db.schema.utcnow) and dates; pages show Korea's time (vocab.TIME_ZONE),
in the Korean way in Korean ("2026. 12. 2.", "2026. 12. 2. 14:05") and as ISO dates in English.
Charts get the same through `date_axes`.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from db.context import ZONE, local, local_times  # the one conversion from stored UTC to Seoul's


def _missing(value: object) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def day(value: object, lang: str) -> str:
    """A date (or a moment's date in Seoul); "" when missing."""
    if _missing(value):
        return ""
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        value = local(value).date()
    if not isinstance(value, dt.date):
        return str(value)
    return f"{value.year}. {value.month}. {value.day}." if lang == "ko" else value.isoformat()


def moment(value: object, lang: str) -> str:
    """A stored moment as Seoul's date and time to the minute; "" when missing."""
    if _missing(value):
        return ""
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if not isinstance(value, dt.datetime):
        return day(value, lang)
    here = local(value)
    return f"{day(here.date(), lang)} {here:%H:%M}" if lang == "ko" else f"{here:%Y-%m-%d %H:%M} KST"


def month(value: dt.date, lang: str) -> str:
    return f"{value.year}년 {value.month}월" if lang == "ko" else f"{value:%Y-%m}"


# Tables keep dates as dates and moments as times (so they sort), shown the reader's way
# (Streamlit's moment.js formats).
TABLE_FORMAT = {"ko": "YYYY. M. D.", "en": "YYYY-MM-DD"}
MOMENT_FORMAT = {"ko": "YYYY. M. D. HH:mm", "en": "YYYY-MM-DD HH:mm [KST]"}
INPUT_FORMAT = {"ko": "YYYY.MM.DD", "en": "YYYY-MM-DD"}  # st.date_input takes only these shapes


def date_columns(names, lang: str) -> dict:
    """`column_config` for a table's date columns: shown as the reader writes dates."""
    import streamlit as st

    fmt = TABLE_FORMAT.get(lang, TABLE_FORMAT["en"])
    return {name: st.column_config.DateColumn(name, format=fmt) for name in names}


def times(values) -> object:
    """A table column of stored moments (naive UTC) as Seoul's wall-clock times: they sort as
    times (as text, "2026. 12. 10. 09:00" sorts before "2026. 12. 2. 09:00") and are shown by
    `moment_columns`. A numpy array, so it sits beside any other column whatever its index."""
    return local_times(pd.Series(list(values), dtype=object)).to_numpy()


def moment_columns(names, lang: str) -> dict:
    """`column_config` for a table's moment columns (filled by `times`): Seoul's date and time to
    the minute, the reader's way."""
    import streamlit as st

    fmt = MOMENT_FORMAT.get(lang, MOMENT_FORMAT["en"])
    return {name: st.column_config.DatetimeColumn(name, format=fmt) for name in names}


# d3-time-format (Plotly's) spellings of the same: no English month names on a Korean axis.
AXIS_FORMAT = {"ko": "%Y. %-m. %-d.", "en": "%Y-%m-%d"}
HOVER_FORMAT = {"ko": "%Y. %-m. %-d.", "en": "%Y-%m-%d"}


def date_axes(fig, lang: str, axes: tuple[str, ...] = ("xaxis",)):
    """Format a figure's date axes the user's way (ticks and hover); returns the figure."""
    fmt = AXIS_FORMAT.get(lang, AXIS_FORMAT["en"])
    fig.update_layout({name: {"tickformat": fmt, "hoverformat": HOVER_FORMAT.get(lang, fmt)}
                       for name in axes})
    return fig


__all__ = ["AXIS_FORMAT", "MOMENT_FORMAT", "TABLE_FORMAT", "ZONE", "date_axes", "date_columns", "day",
           "local", "moment", "moment_columns", "month", "times"]
