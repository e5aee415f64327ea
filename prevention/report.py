"""The committee's printable prevention report (예방교육 평가 보고서): suppressed tables in one standalone HTML page."""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Mapping

import pandas as pd

# English defaults; the dashboard passes the user's language (dashboard/text_prevention.py).
DEFAULT_LABELS: dict[str, str] = {
    "title": "Prevention education evaluation report",
    "generated_on": "Generated on",
    "grouping": "Grouped by",
    "change": "Pre -> post change (POMP 0-100, mean of class changes, 95% CI)",
    "satisfaction": "Satisfaction (1-5), shown apart from the change",
    "model": "Mixed model: audience x time, class as random effect",
    "reviews": "Committee ratings on the four indicators",
    "agreement": "Agreement between raters (ICC)",
    "recommendations": "Recommendations",
    "suppression_note": ("Counts under {threshold} are shown as \"<{threshold}\" and their figures "
                         "are left empty; \"x\" marks a cell hidden so that a small one cannot be "
                         "worked out from another."),
    "footer": "Aggregates only: no child, class or school is named in this report.",
}


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def _table(frame: pd.DataFrame, names: Mapping[str, str] | None = None) -> str:
    if frame is None or frame.empty:
        return "<p>-</p>"
    names = names or {}
    head = "".join(f"<th>{html.escape(str(names.get(c, c)))}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>"
                   for row in frame.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_prevention_html(*, change: pd.DataFrame, satisfaction: pd.DataFrame,
                           model: pd.DataFrame | None, verdict: str, reviews: pd.DataFrame,
                           agreement: pd.DataFrame, recommendations: pd.DataFrame, by: str,
                           threshold: int, generated_on: dt.date,
                           labels: Mapping[str, str] | None = None,
                           values: Mapping[str, str] | None = None) -> str:
    """One HTML page; `values` translates codes (audience and format names) in the cells."""
    words = {**DEFAULT_LABELS, **(labels or {})}
    values = dict(values or {})

    def coded(frame: pd.DataFrame | None) -> pd.DataFrame | None:
        if frame is None:
            return None
        out = frame.copy()
        for col in out.columns:
            if not pd.api.types.is_numeric_dtype(out[col]):
                out[col] = out[col].map(lambda v: values.get(v, v) if isinstance(v, str) else v)
        return out

    e = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{e(words['title'])}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #999;padding:2px 6px;font-size:90%}@media print{a{display:none}}"
        "</style></head><body>",
        f"<h1>{e(words['title'])}</h1>",
        f"<p>{e(words['generated_on'])}: {generated_on.isoformat()} &middot; "
        f"{e(words['grouping'])}: {e(values.get(by, by))}</p>",
        f"<h2>{e(words['change'])}</h2>", _table(coded(change), labels),
        f"<p>{e(verdict)}</p>",
        f"<h2>{e(words['satisfaction'])}</h2>", _table(coded(satisfaction), labels),
        f"<h2>{e(words['model'])}</h2>", _table(model if model is not None else pd.DataFrame()),
        f"<h2>{e(words['reviews'])}</h2>", _table(coded(reviews), labels),
        f"<h2>{e(words['agreement'])}</h2>", _table(agreement, labels),
        f"<h2>{e(words['recommendations'])}</h2>", _table(coded(recommendations), labels),
        f"<p>{e(words['suppression_note'].format(threshold=threshold))}</p>",
        f"<footer><p>{e(words['footer'])}</p></footer></body></html>",
    ]
    return "\n".join(parts)
