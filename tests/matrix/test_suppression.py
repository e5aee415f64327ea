"""Small-cell suppression: primary cells, derived figures, complements that stop subtraction."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from errors import ValidationError
from matrix.suppression import suppress, suppress_crosstab


def _with_margins(inner: np.ndarray) -> pd.DataFrame:
    rows = [f"r{i}" for i in range(inner.shape[0])]
    cols = [f"c{j}" for j in range(inner.shape[1])]
    table = pd.DataFrame(inner, index=rows, columns=cols)
    table["Total"] = table.sum(axis=1)
    table.loc["Total"] = table.sum(axis=0)
    return table


def _assert_no_single_hidden_cell(hidden: pd.DataFrame):
    """Every row and column (margins included) hides none or at least two cells."""
    for label, row in hidden.iterrows():
        assert row.sum() != 1, f"row {label} hides exactly one cell: recoverable by subtraction"
    for label, col in hidden.items():
        assert col.sum() != 1, f"column {label} hides exactly one cell: recoverable by subtraction"


# Small counts are likely (mix of 0, 1..9 and larger) so that suppression has work to do.
cell = st.one_of(st.just(0), st.integers(1, 9), st.integers(10, 60))
inner_tables = st.tuples(st.integers(2, 5), st.integers(2, 5)).flatmap(
    lambda shape: arrays(np.int64, shape, elements=cell)
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inner=inner_tables, threshold=st.sampled_from([5, 10]))
def test_crosstab_hides_small_counts_and_no_hidden_cell_is_recoverable(inner, threshold):
    table = _with_margins(inner)
    res = suppress_crosstab(table, threshold=threshold)
    values = table.to_numpy()
    hidden = res.hidden.to_numpy()
    small = (values > 0) & (values < threshold)
    assert (res.primary.to_numpy() == small).all()
    assert not (res.primary & res.complementary).to_numpy().any()
    _assert_no_single_hidden_cell(res.hidden)
    shown = res.table.to_numpy()
    assert all(s == f"<{threshold}" for s in shown[small])
    assert all(s == "x" for s in shown[res.complementary.to_numpy()])
    # what is published is the truth, zeros included
    assert (shown[~hidden].astype(np.int64) == values[~hidden]).all()


@settings(max_examples=60, deadline=None)
@given(
    inner=arrays(np.int64, (2, 3, 2), elements=cell),
)
def test_three_way_long_table_has_no_single_hidden_cell_in_any_margin(inner):
    # all margins of a 2 x 3 x 2 table: every one-dimensional line must hide 0 or >= 2 cells
    labels = [["a0", "a1", "Total"], ["b0", "b1", "b2", "Total"], ["c0", "c1", "Total"]]
    full = np.zeros((3, 4, 3), dtype=np.int64)
    full[:2, :3, :2] = inner
    full[2, :, :] = full[:2].sum(axis=0)
    full[:, 3, :] = full[:, :3].sum(axis=1)
    full[:, :, 2] = full[:, :, :2].sum(axis=2)
    idx = pd.MultiIndex.from_product(labels, names=["a", "b", "c"])
    long = pd.DataFrame({"n": full.ravel()}, index=idx).reset_index()
    res = suppress(long, "n", group_cols=["a", "b", "c"], derived_cols=[])
    hidden = res.hidden.to_numpy().reshape(full.shape)
    assert (res.primary.to_numpy() == ((long.n > 0) & (long.n < 10)).to_numpy()).all()
    for axis in range(3):
        assert (hidden.sum(axis=axis) != 1).all(), (
            f"a line along {'abc'[axis]} hides exactly one cell"
        )


def test_worked_example_row_and_column_complements():
    # r0 has one small cell (3). Row r0: [3, 20 | 23] -> hide 3 and its smallest partner in the row
    # (20); then column c1 would expose 20 (= 45 - 25), so hide the smallest other cell there (25);
    # then row r1 would expose 25, so hide 30 ... until every line hides 0 or >= 2 cells.
    table = _with_margins(np.array([[3, 20], [30, 25]]))
    res = suppress_crosstab(table)
    assert res.table.loc["r0", "c0"] == "<10"
    assert res.primary.to_numpy().sum() == 1
    assert res.complementary.loc["r0", "c1"] and res.complementary.loc["r1", "c0"]
    assert res.complementary.loc["r1", "c1"]
    assert res.table.loc["Total", "Total"] == 78
    _assert_no_single_hidden_cell(res.hidden)


def test_zero_is_published_not_suppressed():
    table = _with_margins(np.array([[0, 15], [12, 40]]))
    res = suppress_crosstab(table)
    assert res.table.loc["r0", "c0"] == 0
    assert not res.hidden.to_numpy().any()


def test_row_with_one_small_cell_and_zeros_keeps_its_zeros_published():
    # r0 = [4, 0, 0 | 4]: the row total equals the small cell, so it is primary too and the row
    # hides two cells. Column c0 needs a partner for 4: its smallest other inner cell, 11 (r2);
    # column Total needs a partner for r0's total 4: the smallest other row total, 49 (r2). Row r2
    # then hides two cells (11 and 49) and needs nothing more.
    table = _with_margins(np.array([[4, 0, 0], [20, 30, 15], [11, 25, 13]]))
    res = suppress_crosstab(table)
    _assert_no_single_hidden_cell(res.hidden)
    assert res.primary.loc["r0", "c0"] and res.primary.loc["r0", "Total"]
    assert res.table.loc["r0", "c1"] == 0 and res.table.loc["r0", "c2"] == 0
    assert res.complementary.loc["r2", "c0"] and res.complementary.loc["r2", "Total"]
    assert res.hidden.to_numpy().sum() == 4


def test_outcomes_table_rows_hide_derived_figures():
    table = pd.DataFrame(
        {
            "domain": ["gender_equality"] * 3,
            "group": ["A", "B", "Total"],
            "n": [7, 30, 37],
            "mean_diff": [1.5, 2.0, 1.9],
            "ci_lower": [0.1, 1.0, 1.1],
            "ci_upper": [2.9, 3.0, 2.7],
            "p": [0.04, 0.001, 0.0001],
            "share_improved": [0.43, 0.5, 0.49],
        }
    )
    res = suppress(table, "n", group_cols=["group"], key_cols=["domain"])
    out = res.table
    assert out.loc[0, "n"] == "<10" and out.loc[1, "n"] == "x"  # B hidden or A = 37 - 30
    assert out.loc[2, "n"] == 37
    for col in ("mean_diff", "ci_lower", "ci_upper", "p", "share_improved"):
        assert out.loc[0, col] is None and out.loc[1, col] is None
        assert out.loc[2, col] == table.loc[2, col]
    assert out.loc[0, "domain"] == "gender_equality"  # labels stay
    assert res.primary.tolist() == [True, False, False]
    assert res.complementary.tolist() == [False, True, False]
    # the input is untouched
    assert table.loc[0, "n"] == 7


def test_without_margins_only_primary_suppression_applies():
    table = pd.DataFrame({"domain": ["a", "b", "c"], "n": [3, 12, 0], "mean": [1.0, 2.0, np.nan]})
    res = suppress(table, key_cols=["domain"])
    assert res.table["n"].tolist() == ["<10", 12, 0]
    assert res.table["domain"].tolist() == ["a", "b", "c"]
    assert res.table.loc[0, "mean"] is None and res.table.loc[1, "mean"] == 2.0
    assert not res.complementary.any()


@pytest.mark.parametrize("threshold", [0, 1, 3, 4, 2.5, True])
def test_thresholds_below_five_are_refused(threshold):
    with pytest.raises(ValidationError, match="threshold must be"):
        suppress(pd.DataFrame({"n": [1]}), threshold=threshold)


def test_threshold_five_is_allowed_and_labelled():
    res = suppress(pd.DataFrame({"n": [4, 5]}), threshold=5)
    assert res.table["n"].tolist() == ["<5", 5]


def test_bad_counts_and_ambiguous_margins_are_refused():
    with pytest.raises(ValidationError, match="whole numbers >= 0"):
        suppress(pd.DataFrame({"n": [1.5]}))
    with pytest.raises(ValidationError, match="missing or non-numeric"):
        suppress(pd.DataFrame({"n": [np.nan]}))
    twice = pd.DataFrame({"domain": ["a", "b"], "group": ["Total", "Total"], "n": [20, 30]})
    with pytest.raises(ValidationError, match="key_cols"):
        suppress(twice, group_cols=["group"])
