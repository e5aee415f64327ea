"""The committee's printable outcomes report: suppressed tables rendered to one standalone HTML page."""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Mapping

import pandas as pd

# Cohen's (1988) benchmarks for a standardised mean difference, read on |d|.
EFFECT_SIZE_BANDS = ((0.2, "negligible"), (0.5, "small"), (0.8, "medium"), (math.inf, "large"))

# English defaults; the dashboard passes the user's language (dashboard/text_committee.py).
DEFAULT_LABELS: dict[str, str] = {
    "title": "Programme outcomes",
    "generated_on": "Generated on",
    "grouping": "Grouped by",
    "grouping_none": "all participants",
    "suppression_note": ("Counts under {threshold} are shown as \"<{threshold}\" and their figures "
                         "are left empty; \"x\" marks a cell hidden so that a small one cannot be "
                         "worked out from a total."),
    "effect_note": ("d_z is the mean change divided by the SD of the changes (how consistent the "
                    "change is); d_av divides it by the average SD of the two steps (how large the "
                    "change is against the spread of scores). Labels follow Cohen: under 0.2 "
                    "negligible, 0.2 small, 0.5 medium, 0.8 large."),
    "step_means": "Mean score at each step (95% CI)",
    "paired_change": "Change between steps",
    "model": "Mixed model over the three steps (fixed effects, 95% CI)",
    "model_none": "No model",
    "group": "Group",
    "domain": "Domain",
    "step": "Step",
    "pair": "Steps",
    "n": "n",
    "mean": "Mean",
    "ci": "95% CI",
    "mean_pre": "Mean before",
    "mean_post": "Mean after",
    "mean_diff": "Mean change",
    "t": "t",
    "p": "p",
    "p_model": "p (Wald z)",
    "wilcoxon_p": "Wilcoxon p",
    "d_z": "d_z (95% CI)",
    "d_av": "d_av",
    "hedges_g": "Hedges' g",
    "share_improved": "Reliably improved",
    "share_deteriorated": "Reliably deteriorated",
    "term": "Term",
    "coef": "Estimate",
    "se": "SE",
    "footer": "De-identified aggregates only: no study code or participant id is in this report.",
}


def effect_size_label(d: object) -> str | None:
    """'negligible', 'small', 'medium' or 'large' for a standardised difference; None when missing."""
    if d is None:
        return None
    try:
        value = float(d)
    except (TypeError, ValueError):
        return None
    if math.isnan(value):
        return None
    for bound, name in EFFECT_SIZE_BANDS:
        if abs(value) < bound:
            return name
    return None  # pragma: no cover - the last band is unbounded


def _num(value: object, digits: int = 2) -> str:
    if value is None:
        return ""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(x):
        return ""
    return f"{x:.{digits}f}"


def _p(value: object) -> str:
    if value is None:
        return ""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(x):
        return ""
    return "<0.001" if x < 0.001 else f"{x:.3f}"


def _share(value: object) -> str:
    text = _num(None if value is None else float(value) * 100, 1)
    return f"{text}%" if text else ""


def _ci(lo: object, hi: object, digits: int = 2) -> str:
    a, b = _num(lo, digits), _num(hi, digits)
    return f"[{a}, {b}]" if a and b else ""


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_outcomes_html(
    *,
    table: pd.DataFrame,
    step_means: pd.DataFrame,
    models: pd.DataFrame,
    model_notes: Mapping[str, str],
    by: str | None,
    threshold: int,
    generated_on: dt.date,
    labels: Mapping[str, str] | None = None,
) -> str:
    """One self-contained HTML document (inline CSS, no scripts, no remote resources) that prints.

    The tables must already have passed `matrix.suppression.suppress`: this only formats them
    (numbers rounded here, at display, never before). `labels` translates the fixed words and the
    coded values (domains, steps, effect-size labels); a missing key falls back to English or to
    the code itself.
    """
    text = {**DEFAULT_LABELS, **dict(labels or {})}

    def tr(key: object) -> str:
        return text.get(str(key), str(key))

    def es(d: object, lab: object) -> str:
        value = _num(d)
        return f"{value} ({tr(lab)})" if value and lab else value

    group_name = tr(by) if by else text["grouping_none"]
    parts = [
        f"<h1>{html.escape(text['title'])}</h1>",
        f"<p class='meta'>{html.escape(text['generated_on'])}: {generated_on.isoformat()} · "
        f"{html.escape(text['grouping'])}: {html.escape(group_name)}</p>",
        f"<p class='note'>{html.escape(text['suppression_note'].format(threshold=threshold))}</p>",
        f"<p class='note'>{html.escape(text['effect_note'])}</p>",
    ]
    domains = sorted(set(table["domain"]) | set(step_means["domain"])) if len(table) else []
    for domain in domains:
        parts.append(f"<h2>{html.escape(tr(domain))}</h2>")
        means = step_means[step_means["domain"] == domain]
        header = ([text["group"]] if by else []) + [text["step"], text["n"], text["mean"], text["ci"]]
        rows = [([str(tr(r[by]))] if by else []) + [tr(r["step"]), str(r["n"]), _num(r["mean"]),
                                                   _ci(r["ci_lower"], r["ci_upper"])]
                for _, r in means.iterrows()]
        parts.append(f"<h3>{html.escape(text['step_means'])}</h3>" + _table(header, rows))
        change = table[table["domain"] == domain]
        header = ([text["group"]] if by else []) + [
            text["pair"], text["n"], text["mean_pre"], text["mean_post"], text["mean_diff"],
            text["ci"], text["t"], text["p"], text["wilcoxon_p"], text["d_z"], text["d_av"],
            text["hedges_g"], text["share_improved"], text["share_deteriorated"]]
        rows = []
        for _, r in change.iterrows():
            rows.append(([str(tr(r[by]))] if by else []) + [
                f"{tr(r['from_step'])} → {tr(r['to_step'])}", str(r["n"]), _num(r["mean_pre"]),
                _num(r["mean_post"]), _num(r["mean_diff"]), _ci(r["ci_lower"], r["ci_upper"]),
                _num(r["t"]), _p(r["p"]), _p(r["wilcoxon_p"]),
                " ".join(x for x in (es(r["d_z"], r.get("d_z_label")),
                                     _ci(r.get("d_z_ci_lower"), r.get("d_z_ci_upper"))) if x),
                es(r["d_av"], r.get("d_av_label")),
                _num(r["hedges_g"]), _share(r["share_improved"]), _share(r["share_deteriorated"])])
        parts.append(f"<h3>{html.escape(text['paired_change'])}</h3>" + _table(header, rows))
        parts.append(f"<h3>{html.escape(text['model'])}</h3>")
        fitted = models[models["domain"] == domain] if len(models) else models
        if len(fitted):
            header = [text["term"], text["coef"], text["se"], text["ci"], text["p_model"]]
            rows = [[tr(r["term"]), _num(r["coef"]), _num(r["se"]), _ci(r["ci_lower"], r["ci_upper"]),
                     _p(r["p"])] for _, r in fitted.iterrows()]
            parts.append(_table(header, rows))
        else:
            why = model_notes.get(domain, "")
            parts.append(f"<p class='note'>{html.escape(text['model_none'])}: {html.escape(why)}</p>")
    parts.append(f"<p class='footer'>{html.escape(text['footer'])}</p>")
    style = (
        "body{font-family:'Noto Sans KR','Malgun Gothic',sans-serif;margin:2em;color:#222}"
        "h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #999}"
        "h3{font-size:1em;margin-top:1em}"
        "table{border-collapse:collapse;margin:.4em 0;font-size:.85em}"
        "th,td{border:1px solid #bbb;padding:.2em .45em;text-align:right}"
        "th{background:#eee}td:first-child,th:first-child{text-align:left}"
        ".meta,.note,.footer{font-size:.9em;color:#444}"
        "@media print{body{margin:0}h2{page-break-before:auto}table{page-break-inside:avoid}}"
    )
    lang = "ko" if any("\uac00" <= ch <= "\ud7a3" for ch in text["title"]) else "en"
    return (f"<!DOCTYPE html><html lang='{lang}'><head><meta charset='utf-8'>"
            f"<title>{html.escape(text['title'])}</title><style>{style}</style></head><body>"
            + "".join(parts) + "</body></html>")
