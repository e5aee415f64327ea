"""The one CSV writer: every text-like cell that a spreadsheet would run is neutralised, whatever its dtype."""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest

from exports.csvfile import frame_bytes, neutralise, neutralised, rows_bytes

FORMULA = '=HYPERLINK("x")'
DTYPES = {
    "object": object,
    "string": "string",  # pandas' nullable string, python storage
    "str": "str",  # pandas 3's default text dtype (on pandas 2, under future.infer_string)
    "category": "category",
}


def _read(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_formula_cell_is_neutralised_under_every_text_dtype(dtype):
    with pd.option_context("future.infer_string", dtype == "str"):
        frame = pd.DataFrame({"group": pd.Series([FORMULA, "plain", "-3 days", None],
                                                 dtype=DTYPES[dtype] if dtype != "str" else None),
                              "n": [1, -2, 3, 4]})
        if dtype == "str":
            assert frame["group"].dtype != object  # really the string dtype pandas 3 defaults to
        rows = _read(frame_bytes(frame))
    assert rows[0] == ["group", "n"]
    assert [r[0] for r in rows[1:]] == ["'" + FORMULA, "plain", "'-3 days", ""]
    assert [r[1] for r in rows[1:]] == ["1", "-2", "3", "4"]  # numbers are not text


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_each_formula_start_gets_a_quote_and_nothing_else_does(start):
    assert neutralise(start + "1+1") == "'" + start + "1+1"
    for harmless in ("1+1", "a=b", "", "프로그램"):
        assert neutralise(harmless) == harmless
    assert neutralise(-5) == -5 and neutralise(None) is None and np.isnan(neutralise(np.nan))


def test_column_names_are_neutralised_and_the_frame_given_is_left_as_it_was():
    frame = pd.DataFrame({FORMULA: ["=1"]})
    out = neutralised(frame)
    assert list(out.columns) == ["'" + FORMULA] and out.iloc[0, 0] == "'=1"
    assert list(frame.columns) == [FORMULA] and frame.iloc[0, 0] == "=1"


def test_rows_are_written_the_same_way_without_a_byte_order_mark():
    data = rows_bytes(["algorithm", "case"], [("pdq", FORMULA), ("phash", "C-1")])
    assert not data.startswith(b"\xef\xbb\xbf")
    assert _read(data) == [["algorithm", "case"], ["pdq", "'" + FORMULA], ["phash", "C-1"]]
