"""The store's naive UTC and Seoul's calendar: the one set of conversions (db.context) that the
audit filters, the registry chart and the dashboard's dates all use."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from db.context import local, local_times, utc_start_of


def test_seoul_days_begin_at_fifteen_hundred_utc_the_day_before():
    assert utc_start_of(dt.date(2026, 10, 1)) == dt.datetime(2026, 9, 30, 15, 0)
    assert utc_start_of(dt.date(2026, 1, 1)) == dt.datetime(2025, 12, 31, 15, 0)  # no DST in Korea
    assert utc_start_of(dt.date(2026, 7, 1)) == dt.datetime(2026, 6, 30, 15, 0)


def test_a_stored_moment_reads_as_seouls_time_one_by_one_and_as_a_column():
    just_before, at_midnight = dt.datetime(2026, 9, 30, 14, 59, 59), dt.datetime(2026, 9, 30, 15, 0)
    assert local(just_before).date() == dt.date(2026, 9, 30)
    assert local(at_midnight) == dt.datetime(2026, 10, 1, 0, 0, tzinfo=local(at_midnight).tzinfo)
    assert local(at_midnight).utcoffset() == dt.timedelta(hours=9)
    # An aware moment is converted, not re-labelled.
    assert local(at_midnight.replace(tzinfo=dt.UTC)) == local(at_midnight)
    column = local_times(pd.Series([just_before, at_midnight, None]))
    assert list(column.iloc[:2]) == [pd.Timestamp("2026-09-30 23:59:59"), pd.Timestamp("2026-10-01")]
    assert pd.isna(column.iloc[2])
    assert column.dt.to_period("M").astype(str).tolist()[:2] == ["2026-09", "2026-10"]
