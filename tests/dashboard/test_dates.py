"""Dates and times as a user in Seoul reads them (dashboard/dates.py, db.context.local_today)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard import dates
from db.context import local_today


def test_a_stored_utc_moment_is_shown_in_seoul_time_the_korean_way():
    late_evening_utc = dt.datetime(2026, 10, 13, 16, 5)  # already the 14th in Seoul (UTC+9)
    assert dates.moment(late_evening_utc, "ko") == "2026. 10. 14. 01:05"
    assert dates.moment(late_evening_utc, "en") == "2026-10-14 01:05 KST"
    assert dates.day(late_evening_utc, "ko") == "2026. 10. 14."
    assert dates.moment(pd.Timestamp(late_evening_utc), "ko") == "2026. 10. 14. 01:05"
    aware = dt.datetime(2026, 10, 13, 16, 5, tzinfo=dt.UTC)
    assert dates.local(aware).utcoffset() == dt.timedelta(hours=9)


@pytest.mark.parametrize("value", [None, float("nan"), pd.NaT])
def test_a_missing_date_is_shown_as_nothing(value):
    assert dates.day(value, "ko") == "" and dates.moment(value, "ko") == ""


def test_dates_and_months():
    assert dates.day(dt.date(2026, 3, 5), "ko") == "2026. 3. 5."
    assert dates.day(dt.date(2026, 3, 5), "en") == "2026-03-05"
    assert dates.month(dt.date(2026, 11, 1), "ko") == "2026년 11월"


def test_today_is_seouls_date():
    now_in_seoul = dt.datetime.now(ZoneInfo("Asia/Seoul")).date()
    assert local_today() in (now_in_seoul, now_in_seoul + dt.timedelta(days=1))  # midnight between


def test_date_axes_carry_no_english_month_names_in_korean():
    fig = dates.date_axes(go.Figure(go.Scatter(x=[dt.date(2026, 10, 13)], y=[1])), "ko")
    assert fig.layout.xaxis.tickformat == "%Y. %-m. %-d."
    assert dates.date_axes(go.Figure(), "en").layout.xaxis.tickformat == "%Y-%m-%d"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_every_date_input_and_date_column_is_written_the_readers_way(demo, signed_in):
    """Date inputs take Korea's YYYY.MM.DD (not Streamlit's YYYY/MM/DD) and table dates stay
    dates (they sort) shown as "2026. 10. 13."; in English both are ISO."""
    import json

    # Every page's date inputs are checked in test_every_page.py (both languages); here the table.
    at = signed_in("counselor1", "pages/participant.py")
    table = next(d for d in at.dataframe if "회기 날짜" in d.value.columns)
    config = json.loads(table.proto.columns)
    assert config["회기 날짜"]["type_config"]["format"] == "YYYY. M. D.", config
    assert [w.proto.format for w in at.date_input] == ["YYYY.MM.DD"]  # the session form's date
    at.session_state["lang"] = "en"
    at.run()
    assert [w.proto.format for w in at.date_input] == ["YYYY-MM-DD"]
