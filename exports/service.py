"""Exports: every kind of data that leaves dscr as a file, each one use case with its manifest.

A page or a CLI command asks for an export by kind; the use case here checks the permission,
reads through the owning package's use case, applies small-cell suppression with the
deployment's threshold (`DSCR_SUPPRESSION_THRESHOLD`, never below 5), writes the file through
the one CSV writer (`exports.csvfile`, formulas neutralised whatever the dtype) and records one
kind of manifest: who, when, which kind, the stated purpose (one rule for every kind), the
filters, the suppression applied, the row count and the SHA-256 of the bytes handed out.

This package composes the other packages' use cases (it sits beside the faces, under them):
it reads their public use cases only, and nothing imports it but the faces.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from casework.notes_guard import check_note
from db import access
from db.files import write_private
from db.context import Context
from db.schema import ExportManifest
from errors import ValidationError
from exports import csvfile
from matrix.suppression import suppress

MIN_PURPOSE = 5
MAX_PURPOSE = 500
KM_COUNTS = ("at_risk", "events", "censored")
# Columns of the pseudonymised rows that are coarsened on the way out (issue: near a birth date
# together): ages to whole years, dates to the month.
COARSE_AGES = ("age_at_offence", "age_at_referral")


@dataclass(frozen=True)
class Export:
    """What a use case hands out: the bytes, a file name that says what they are, and the record."""

    kind: str
    data: bytes
    file_name: str
    media_type: str
    rows: int
    sha256: str
    manifest_id: int


def check_purpose(purpose: str | None) -> str:
    """The one purpose rule of every export: stated, 5 to 500 characters, with letters in it."""
    text = " ".join((purpose or "").split())
    if len(text) < MIN_PURPOSE or not any(ch.isalpha() for ch in text):
        raise ValidationError(
            "exports.purpose_missing",
            "State the purpose of this download (at least {min} characters); it is kept with "
            "the export record.", min=MIN_PURPOSE)
    if len(text) > MAX_PURPOSE:
        raise ValidationError(
            "exports.purpose_long",
            "The purpose is {length} characters long; say it in {max} at most.",
            length=len(text), max=MAX_PURPOSE)
    check_note(text, field="export purpose")
    return text


def _record(ctx: Context, *, kind: str, purpose: str, data: bytes, rows: int, file_name: str,
            media_type: str, filters: Mapping[str, Any] | None = None,
            suppression: Mapping[str, Any] | None = None) -> Export:
    """The one manifest writer: the export is recorded in the same transaction as nothing else."""
    digest = hashlib.sha256(data).hexdigest()
    with ctx.transaction() as s:
        row = ExportManifest(account_id=ctx.actor.id, kind=kind, purpose=purpose,
                             filters=dict(filters or {}),
                             suppression=dict(suppression) if suppression else None,
                             rows=rows, sha256=digest)
        s.add(row)
        s.flush()
        manifest_id = row.id
    return Export(kind, data, file_name, media_type, rows, digest, manifest_id)


def _threshold(ctx: Context) -> int:
    return ctx.runtime.settings.suppression_threshold


def _suppression(ctx: Context) -> dict[str, Any]:
    return {"threshold": _threshold(ctx), "complementary": True}


FORMATS = {"csv": "text/csv", "json": "application/json"}


def _check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValidationError("exports.format_unknown",
                              "An export is written as {choices}; got {fmt!r}.",
                              choices=" or ".join(FORMATS), fmt=fmt)
    return fmt


def _table_bytes(table: pd.DataFrame, fmt: str, extra: Mapping[str, Any] | None = None) -> bytes:
    if fmt == "csv":
        return csvfile.frame_bytes(table)
    records = json.loads(table.to_json(orient="records", date_format="iso"))
    body: Any = {**dict(extra), "table": records} if extra else records
    return json.dumps(body, ensure_ascii=False, indent=1).encode("utf-8")


def _name(*parts: object, ext: str, on: dt.date) -> str:
    # Only letters, digits, dots and hyphens: a period such as "2026-01-05~2026-06-30" or a
    # cohort's name with spaces makes no odd file name.
    words = [re.sub(r"[^\w.-]+", "-", str(p)).replace("_", "-").strip("-")
             for p in parts if p not in (None, "")]
    return "-".join([*words, on.isoformat()]) + "." + ext


# --- the committee's outcomes -------------------------------------------------------------------

# Figures of the outcomes table and how they are rounded for reading (the exact value stays).
_PERCENT = ("share_improved", "share_recovered", "share_deteriorated")
_THREE = ("p", "wilcoxon_p")
_CODED = ("domain", "from_step", "to_step")


def _rounded(value: object, column: str) -> object:
    if value is None:
        return ""
    try:
        number = float(value)
    except (TypeError, ValueError):  # "<10", "x": a suppressed cell as it is
        return value
    if np.isnan(number):
        return ""
    if column in _PERCENT:
        return f"{100 * number:.1f}%"
    if column in _THREE:
        return "<0.001" if number < 0.001 else f"{number:.3f}"
    return f"{number:.2f}"


def readable_outcomes(table: pd.DataFrame, *, by: str | None = None,
                      headers: Mapping[str, str] | None = None,
                      values: Mapping[str, str] | None = None,
                      rounded_suffix: str = " (rounded)") -> pd.DataFrame:
    """The outcomes table as a committee member reads it in a spreadsheet: beside every figure
    its rounded copy (2 decimals, p-values 3, shares as percents), exact values kept; with
    `headers` (column -> header) the columns renamed and with `values` the coded cells (domains,
    steps and the `by` groups) named. Suppressed cells ("<10", "x") stay as they are."""
    headers, values = headers or {}, values or {}
    coded = (*_CODED, by) if by else _CODED
    out = {}
    for column in table.columns:
        cells = table[column].astype(object)
        if column in coded:
            cells = cells.map(lambda v: values.get(str(v), v))
        out[headers.get(column, column)] = cells
        if column not in coded and column not in ("note", "n", "df"):
            out[headers.get(column, column) + rounded_suffix] = [_rounded(v, column) for v in cells]
    return pd.DataFrame(out)


def outcomes_table(ctx: Context, *, by: str | None = None, purpose: str,
                   fmt: str = "csv", headers: Mapping[str, str] | None = None,
                   values: Mapping[str, str] | None = None,
                   rounded_suffix: str = " (rounded)") -> Export:
    """The committee's outcomes table (CSV or JSON): the same suppressed table the page shows.

    The CSV puts a rounded copy beside every figure (`readable_outcomes`) and, on request, the
    reader's headers and names of coded values; JSON keeps the codes and exact values only."""
    from matrix import service as matrix

    access.require(ctx, "export.aggregate")
    why, fmt = check_purpose(purpose), _check_format(fmt)
    table = matrix.programme_outcomes(ctx, by=by)
    shown = (readable_outcomes(table, by=by, headers=headers, values=values,
                               rounded_suffix=rounded_suffix) if fmt == "csv" else table)
    return _record(ctx, kind="programme_outcomes", purpose=why, data=_table_bytes(shown, fmt),
                   rows=len(table),
                   file_name=_name("programme-outcomes", f"by-{by}" if by else "whole-programme",
                                   "korean" if headers else None, ext=fmt, on=ctx.today),
                   media_type=FORMATS[fmt],
                   filters={"by": by, "format": fmt, "headers": "reader" if headers else "codes"},
                   suppression=_suppression(ctx))


def outcomes_report(ctx: Context, *, by: str | None = None, purpose: str,
                    labels: Mapping[str, str] | None = None) -> Export:
    """The committee's printable report (one HTML file), recorded as an export with its purpose.

    The same suppressed tables as the outcomes page (`matrix.service.committee_outcomes`),
    rendered by `matrix.report.render_outcomes_html` in the words of `labels`; dated `ctx.today`.
    """
    from matrix import service as matrix
    from matrix.report import render_outcomes_html

    access.require(ctx, "export.aggregate")
    why = check_purpose(purpose)
    view = matrix.committee_outcomes(ctx, by=by)
    page = render_outcomes_html(table=view.table, step_means=view.step_means, models=view.models,
                                model_notes=view.model_notes, by=by, threshold=view.threshold,
                                generated_on=ctx.today, labels=labels)
    return _record(ctx, kind="outcomes_report_html", purpose=why, data=page.encode("utf-8"),
                   rows=len(view.table) + len(view.step_means) + len(view.models),
                   file_name=_name("programme-outcomes-report", f"by-{by}" if by else None,
                                   ext="html", on=ctx.today),
                   media_type="text/html", filters={"by": by}, suppression=_suppression(ctx))


# --- the analyst's survival tables and rows -----------------------------------------------------

def suppress_km(table: pd.DataFrame, threshold: int) -> pd.DataFrame:
    """A Kaplan-Meier table fit to leave: rows where fewer than `threshold` are at risk are hidden.

    The tail of a curve, where a handful of people remain, is where one person's reoffence can be
    read off a step; there the counts show as "<threshold" and the estimate and its interval are
    empty. The number at risk is the row's count (a curve has no margins to protect), events and
    censorings are its derived figures.
    """
    derived = [c for c in table.columns if c not in ("group", "time", "at_risk")]
    return suppress(table, "at_risk", threshold, derived_cols=derived,
                    key_cols=[c for c in ("group", "time") if c in table.columns]).table


def km_table(ctx: Context, *, by: str | None = None, as_of: dt.date | None = None,
             purpose: str, fmt: str = "csv") -> Export:
    """The Kaplan-Meier table (overall or by a group), its thin tail suppressed; JSON adds the log-rank test."""
    from models import service as models

    access.require(ctx, "export.aggregate")
    why, fmt = check_purpose(purpose), _check_format(fmt)
    result = models.km(ctx, by=by, as_of=as_of)
    table = suppress_km(result.table, _threshold(ctx))
    lr = result.logrank
    extra = {"by": by,
             "groups": [str(g) for g in result.groups] if result.groups is not None else None,
             "logrank": None if lr is None else {"statistic": lr.statistic, "df": lr.df, "p": lr.p}}
    return _record(ctx, kind="km_table", purpose=why, data=_table_bytes(table, fmt, extra),
                   rows=len(table),
                   file_name=_name("kaplan-meier", f"by-{by}" if by else None, ext=fmt,
                                   on=ctx.today),
                   media_type=FORMATS[fmt],
                   filters={"by": by, "as_of": as_of.isoformat() if as_of else None,
                            "format": fmt},
                   suppression={**_suppression(ctx), "count": "at_risk"})


def change_cox_table(ctx: Context, *, as_of: dt.date | None = None, purpose: str,
                     fmt: str = "csv") -> Export:
    """Matrix change and reoffending: the time-varying Cox table (hazard ratios per reliable
    improvement with the PH check per covariate); JSON adds the counts, the global PH test, the
    warnings and the caveat. Model coefficients of the whole programme: no cell to suppress."""
    from models import service as models

    access.require(ctx, "export.aggregate")
    why, fmt = check_purpose(purpose), _check_format(fmt)
    result = models.change_on_recidivism(ctx, as_of=as_of)
    table = result.table()
    return _record(ctx, kind="change_cox_table", purpose=why,
                   data=_table_bytes(table, fmt, result.facts()), rows=len(table),
                   file_name=_name("matrix-change-reoffending", ext=fmt, on=ctx.today),
                   media_type=FORMATS[fmt],
                   filters={"as_of": as_of.isoformat() if as_of else None, "format": fmt})


def coarsened(frame: pd.DataFrame) -> pd.DataFrame:
    """Pseudonymised rows with ages in whole years and dates to the month.

    An exact age at offence (16.414...) together with an exact enrolment date comes near a birth
    date; whole years and months keep the analyses possible (durations are kept in days: they are
    differences, not dates).
    """
    out = frame.copy()
    for col in COARSE_AGES:
        if col in out.columns:
            out[col] = np.floor(pd.to_numeric(out[col], errors="coerce")).astype("Int64")
    for col in out.columns:
        values = out[col]
        if pd.api.types.is_datetime64_any_dtype(values):
            out[col] = values.dt.strftime("%Y-%m")
        elif values.dtype == object and values.map(
                lambda v: isinstance(v, dt.date)).any():
            out[col] = values.map(lambda v: v.strftime("%Y-%m") if isinstance(v, dt.date) else v)
    return out


def cohort_rows(ctx: Context, *, purpose: str, study_codes: list[str] | None = None,
                filters: Mapping[str, Any] | None = None, as_of: dt.date | None = None) -> Export:
    """The analyst's pseudonymised rows (study codes, never names) as CSV, coarsened.

    `study_codes`: the rows the analyst chose on the page (None: every row); `filters` are what
    the page filtered by, kept in the manifest.
    """
    from models import service as models

    access.require(ctx, "export.pseudonymised")
    why = check_purpose(purpose)
    frame = models.analysis_frame(ctx, as_of=as_of)
    if study_codes is not None:
        frame = frame[frame["study_code"].isin(list(study_codes))]
    out = coarsened(frame.reset_index(drop=True))
    data = csvfile.frame_bytes(out)
    return _record(ctx, kind="analysis_frame", purpose=why, data=data, rows=len(out),
                   file_name=_name("analysis-rows", ext="csv", on=ctx.today),
                   media_type="text/csv",
                   filters={**dict(filters or {}),
                            **({"as_of": as_of.isoformat()} if as_of else {})},
                   suppression={"coarsened": {"ages": "whole years", "dates": "month"}})


# --- the hash registry --------------------------------------------------------------------------

def hash_list(ctx: Context, *, purpose: str, delivery: str = "dashboard download") -> Export:
    """The registry's hash list (algorithm, hash, case, variant, media_kind, item) as CSV."""
    from detection import hashlist
    from detection import service as detection

    access.require(ctx, "registry.manage")
    why = check_purpose(purpose)
    rows = detection.hash_list_rows(ctx)
    data = hashlist.format_rows(rows)
    return _record(ctx, kind="hash_list", purpose=why, data=data, rows=len(rows),
                   file_name=_name("hash-list", ext="csv", on=ctx.today), media_type="text/csv",
                   filters={"delivery": delivery})


def write_file(export: Export, file: str | os.PathLike) -> Path:
    """Write an export whole or not at all, readable by its owner only (mode 600)."""
    return write_private(Path(file), export.data)


KINDS = ("programme_outcomes", "outcomes_report_html", "km_table", "change_cox_table",
         "analysis_frame", "hash_list")

__all__ = ["KINDS", "Export", "change_cox_table", "check_purpose", "coarsened", "cohort_rows", "hash_list",
           "km_table", "outcomes_report", "outcomes_table", "suppress_km", "write_file"]


# --- the committee's prevention-education tables ------------------------------------------------

def prevention_effects_table(ctx: Context, *, by: str = "audience", purpose: str,
                             fmt: str = "csv") -> Export:
    """The committee's effect-by-audience table (CSV, or JSON with the model's verdict), suppressed."""
    from prevention import service as prevention

    access.require(ctx, "export.aggregate")
    why, fmt = check_purpose(purpose), _check_format(fmt)
    view = prevention.prevention_effects(ctx, by=by)
    extra = {"by": by, "threshold": view.threshold, "verdict": str(view.verdict),
             "note": str(view.note)} if fmt == "json" else None
    return _record(ctx, kind="prevention_effects", purpose=why,
                   data=_table_bytes(view.table, fmt, extra), rows=len(view.table),
                   file_name=_name("prevention-effects", f"by-{by}", ext=fmt, on=ctx.today),
                   media_type=FORMATS[fmt], filters={"by": by, "format": fmt},
                   suppression=_suppression(ctx))


def prevention_report(ctx: Context, *, by: str = "audience", period: str, purpose: str,
                      labels: Mapping[str, str] | None = None,
                      values: Mapping[str, str] | None = None) -> Export:
    """The printable 예방교육 평가 보고서 (one HTML file), recorded as an export with its purpose:
    effect by audience, satisfaction, the model, the period's ratings with ICC, recommendations."""
    from prevention import service as prevention
    from prevention.report import render_prevention_html

    access.require(ctx, "export.aggregate")
    why = check_purpose(purpose)
    view = prevention.prevention_effects(ctx, by=by)
    summary = prevention.prevention_review_summary(ctx, period=period)
    recs = prevention.list_recommendations(ctx)
    # Every recommendation with the version answering it: a review's asks outlive its period.
    recs = recs[["period", "programme", "text", "audience", "format", "answered_by"]]
    page = render_prevention_html(
        change=view.table, satisfaction=view.satisfaction,
        model=view.model.time_effects if view.model is not None else None,
        verdict=str(view.verdict or view.note), reviews=summary.programmes,
        agreement=summary.agreement, recommendations=recs, by=by, threshold=view.threshold,
        generated_on=ctx.today, labels=labels, values=values)
    return _record(ctx, kind="prevention_report_html", purpose=why, data=page.encode("utf-8"),
                   rows=len(view.table) + len(summary.programmes) + len(recs),
                   file_name=_name("prevention-report", f"by-{by}", period, ext="html",
                                   on=ctx.today),
                   media_type="text/html", filters={"by": by, "period": period},
                   suppression=_suppression(ctx))
