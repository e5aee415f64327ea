"""Small-cell suppression: the one gate every aggregate passes before it leaves the system.

Rules (DESIGN.md, "Privacy rules"):
- primary: a count of 1..threshold-1 is shown as "<{threshold}" and every derived figure on its
  row (mean, share, CI, p, ...) is hidden;
- zero is shown. Agencies differ here (some suppress zeros as "structural" disclosure); we publish
  0 because hiding it protects no one's count, and because a hidden 0 next to a primary cell would
  mislead readers about where the small cell is. A 0 may still be hidden as a last-resort
  complement (see below);
- complementary: wherever a published total is the sum of published cells (a margin), a relation
  with exactly one hidden cell would give that cell away by subtraction, so further cells are hidden
  until every such relation hides none or at least two. Candidates are taken smallest first, other
  inner cells before margin cells before zero cells. Complementary counts are shown as
  `complementary_label` ("x" by default, as Statistics Canada does) and their derived figures are
  hidden too (a share of a known total gives the count back).

What it guarantees, and the property tests check: no hidden cell can be recomputed exactly from one
row or column relation (one subtraction). It does not audit interval (linear programming) attacks
across several relations, and it cannot see totals published elsewhere: pass every margin that will
be shown in the same table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from errors import ValidationError

DEFAULT_THRESHOLD = 10
MIN_THRESHOLD = 5


@dataclass(frozen=True)
class SuppressionResult:
    """The publishable table and where it was cut.

    `primary` and `complementary` are boolean masks shaped like the count cells (a Series over the
    rows of a long table, a DataFrame for a cross-tabulation).
    """

    table: pd.DataFrame
    primary: pd.Series | pd.DataFrame
    complementary: pd.Series | pd.DataFrame

    @property
    def hidden(self) -> pd.Series | pd.DataFrame:
        return self.primary | self.complementary


def _check_threshold(threshold: int) -> int:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, np.integer)):
        raise ValidationError(
            "matrix.threshold_whole_number_least",
            "threshold must be a whole number (10, or 5 at least), got {threshold!r}",
            threshold=threshold
        )
    if threshold < MIN_THRESHOLD:
        raise ValidationError(
            "matrix.threshold_least_smaller_one",
            "threshold must be at least {min_threshold}: a smaller one would publish counts "
            "that identify young people; got {threshold}",
            min_threshold=MIN_THRESHOLD, threshold=threshold
        )
    return int(threshold)


def _check_counts(counts: pd.Series, name: str) -> np.ndarray:
    values = pd.to_numeric(counts, errors="coerce")
    if values.isna().any():
        raise ValidationError(
            "matrix.count_column_missing_non",
            "count column {name!r} has missing or non-numeric values; every row needs a count "
            "(write 0 for an empty cell)",
            name=name
        )
    arr = values.to_numpy(dtype=float)
    if (arr < 0).any() or (arr != np.round(arr)).any():
        bad = arr[(arr < 0) | (arr != np.round(arr))][0]
        raise ValidationError("matrix.count_column_hold_whole",
                              "count column {name!r} must hold whole numbers >= 0, got {bad}",
                              name=name, bad=bad)
    return arr.astype(np.int64)


def _relations(
    table: pd.DataFrame, group_cols: Sequence[str], key_cols: Sequence[str], total_label: object
) -> list[tuple[int, list[int]]]:
    """(total position, component positions) for every margin the table publishes."""
    relations: list[tuple[int, list[int]]] = []
    labels = table[list(group_cols)].astype(object)
    keys = table[list(key_cols)].astype(object) if key_cols else None
    positions = np.arange(len(table))
    for dim in group_cols:
        others = [c for c in group_cols if c != dim]
        frame = pd.DataFrame(
            {"_pos": positions, "_is_total": (labels[dim] == total_label).to_numpy()}
        )
        by = []
        for c in others:
            frame[c] = labels[c].to_numpy()
            by.append(c)
        if keys is not None:
            for c in key_cols:
                frame[f"_key_{c}"] = keys[c].to_numpy()
                by.append(f"_key_{c}")
        grouped = frame.groupby(by, sort=False, dropna=False) if by else [((), frame)]
        for _, part in grouped:
            totals = part.loc[part["_is_total"], "_pos"].tolist()
            comps = part.loc[~part["_is_total"], "_pos"].tolist()
            if len(totals) == 1 and comps:
                relations.append((totals[0], comps))
    return relations


def suppress(
    table: pd.DataFrame,
    count_col: str = "n",
    threshold: int = DEFAULT_THRESHOLD,
    derived_cols: Sequence[str] | None = None,
    group_cols: Sequence[str] = (),
    key_cols: Sequence[str] = (),
    total_label: object = "Total",
    complementary_label: str = "x",
) -> SuppressionResult:
    """Hide small counts, their derived figures, and the cells that would give them away.

    The table is long: one row per cell, its count in `count_col`.
    - `derived_cols`: figures computed from the row's people (means, shares, CIs, p, notes). None
      means every column other than the count, `group_cols` and `key_cols` (the safe default: a
      note such as "fewer than 3 pairs" narrows a hidden count too). Name label columns that must
      stay visible in `key_cols`.
    - `group_cols`: the dimensions that add up to margins; in each, the row labelled
      `total_label` is the sum of the other rows that share every other label and key. An outcomes
      table with a "Total" row over groups passes `group_cols=["group"]`; a cross-tabulation with
      margins passes both of its dimensions (or use `suppress_crosstab`). Empty: no margins, so only
      primary suppression applies.
    - `key_cols`: labels that separate independent tables in one frame (domain, step pair): cells
      with different keys never add up to each other.
    Returns a new table (count column as objects: ints, "<10" or "x"; hidden derived figures None)
    and the primary / complementary masks over its rows.
    """
    threshold = _check_threshold(threshold)
    if not isinstance(table, pd.DataFrame):
        raise ValidationError("matrix.suppress_needs_pandas_dataframe",
                              "suppress needs a pandas DataFrame with one row per cell")
    group_cols, key_cols = list(group_cols), list(key_cols)
    for name in (count_col, *group_cols, *key_cols):
        if name not in table.columns:
            raise ValidationError(
                "matrix.column_not_table",
                "column {name!r} is not in the table; it has {table_columns}",
                name=name, table_columns=list(table.columns)
            )
    counts = _check_counts(table[count_col], count_col)
    labels = set(group_cols) | set(key_cols)
    if derived_cols is None:
        derived_cols = [c for c in table.columns if c != count_col and c not in labels]
    else:
        derived_cols = list(derived_cols)
        unknown = [c for c in derived_cols if c not in table.columns]
        if unknown:
            raise ValidationError("matrix.derived_column_not_table",
                                  "derived column(s) {unknown} are not in the table",
                                  unknown=unknown)
        if count_col in derived_cols or labels & set(derived_cols):
            raise ValidationError("matrix.derived_cols_not_include",
                                  "derived_cols must not include the count, group or key columns")
    if group_cols and table.duplicated([*key_cols, *group_cols]).any():
        raise ValidationError(
            "matrix.rows_repeat_same_name",
            "rows repeat the same {value}; name in key_cols every column that separates tables "
            "(e.g. domain, from_step, to_step) so that margins add up correctly",
            value=[*key_cols, *group_cols]
        )

    primary = (counts > 0) & (counts < threshold)
    complementary = np.zeros(len(table), dtype=bool)
    relations = _relations(table, group_cols, key_cols, total_label) if group_cols else []
    is_total = np.zeros(len(table), dtype=bool)
    for total, _ in relations:
        is_total[total] = True

    # Greedy to a fixed point: hiding a cell can expose another relation, so loop until stable.
    changed = True
    while changed:
        changed = False
        hidden = primary | complementary
        for total, comps in relations:
            cells = [total, *comps]
            n_hidden = int(hidden[cells].sum())
            if n_hidden != 1:
                continue
            candidates = [c for c in cells if not hidden[c]]
            pick = min(candidates, key=lambda c: (counts[c] == 0, is_total[c], counts[c], c))
            complementary[pick] = True
            hidden[pick] = True
            changed = True

    out = table.copy()
    shown = out[count_col].astype(object)
    shown[primary] = f"<{threshold}"
    shown[complementary] = complementary_label
    out[count_col] = shown
    hidden = primary | complementary
    for col in derived_cols:
        values = out[col].astype(object)
        values[hidden] = None
        out[col] = values
    return SuppressionResult(
        table=out,
        primary=pd.Series(primary, index=table.index, name="primary"),
        complementary=pd.Series(complementary, index=table.index, name="complementary"),
    )


def suppress_crosstab(
    table: pd.DataFrame,
    threshold: int = DEFAULT_THRESHOLD,
    total_label: object = "Total",
    complementary_label: str = "x",
) -> SuppressionResult:
    """`suppress` for a wide cross-tabulation of counts whose margins are labelled `total_label`.

    Made for `pd.crosstab(..., margins=True, margins_name="Total")`: the row and the column named
    `total_label` hold the sums. Returns the table in the same shape and masks shaped like it.
    """
    if not isinstance(table, pd.DataFrame) or table.empty:
        raise ValidationError("matrix.suppress_crosstab_needs_non",
                              "suppress_crosstab needs a non-empty DataFrame of counts")
    if total_label not in table.index and total_label not in table.columns:
        raise ValidationError(
            "matrix.no_margin_labelled_build",
            "no margin labelled {total_label!r}; build the table with margins=True, "
            "margins_name={total_label!r} or pass total_label",
            total_label=total_label
        )
    long = table.rename_axis(index="_row", columns="_col").stack(future_stack=True)
    long = long.rename("_n").reset_index()
    result = suppress(
        long,
        "_n",
        threshold,
        derived_cols=[],
        group_cols=["_row", "_col"],
        total_label=total_label,
        complementary_label=complementary_label,
    )

    def wide(values: pd.Series) -> pd.DataFrame:
        frame = pd.DataFrame({"_row": long["_row"], "_col": long["_col"], "_v": values.to_numpy()})
        out = frame.pivot(index="_row", columns="_col", values="_v")
        out = out.reindex(index=table.index, columns=table.columns)
        out.index.name, out.columns.name = table.index.name, table.columns.name
        return out

    return SuppressionResult(
        table=wide(result.table["_n"]),
        primary=wide(result.primary).astype(bool),
        complementary=wide(result.complementary).astype(bool),
    )
