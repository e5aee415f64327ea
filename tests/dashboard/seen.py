"""What a person reads on a page: every text the app sent, split from keys, ids and data bytes.

`visible_texts(at)` walks the AppTest element tree and returns the strings shown in the browser:
titles, markdown, captions, alerts, widget labels, help texts, options and placeholders, tab and
expander labels, table headers and text cells, chart titles, axis titles, legend entries and tick
labels. `english(text)` names the English words in one of them, so a test can fail on a page that
shows Korean readers an English sentence or a raw code.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pandas as pd

# Proto fields that never reach a reader's eyes: identities, keys, styling, data bytes.
_HIDDEN_FIELDS = {
    "id", "key", "form_id", "page", "autocomplete", "page_script_hash", "url_path", "icon", "type", "theme", "format",
    "data", "spec", "arrow_data", "styler", "uuid", "css_id", "url", "selection_mode",
    "column_order", "columns", "body_style", "page_name", "mimetype", "src", "name_hash",
    "value", "default", "raw_value", "delta_color", "color", "width", "height", "use_container_width",
    "vertical_alignment", "gap", "border", "direction", "justify", "align", "anchor",
}
# Plotly figure keys whose strings are read: titles, legend entries, tick labels, annotations.
_PLOTLY_TEXT = {"text", "name", "ticktext", "legendgrouptitle", "hovertemplate"}
_PLOTLY_SKIP = {"template", "uid", "xaxis", "yaxis", "type", "mode", "marker", "line", "fill",
                "hoverinfo", "textposition", "orientation", "font", "bgcolor", "legendgroup",
                "offsetgroup", "alignmentgroup", "colorscale", "coloraxis", "x", "y", "z",
                "customdata", "ids", "error_x", "error_y", "tickvals", "tickformat", "range"}


def _proto_strings(message, out: list[str]) -> None:
    for field, value in message.ListFields():
        if field.name in _HIDDEN_FIELDS:
            continue
        if field.type == field.TYPE_MESSAGE:
            values = [value] if hasattr(value, "ListFields") else value
            for v in values:
                if hasattr(v, "ListFields"):
                    _proto_strings(v, out)
        elif field.type == field.TYPE_STRING:
            for v in [value] if isinstance(value, str) else value:
                out.append(v)


def _plotly_strings(node, out: list[str], key: str | None = None) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            if k in _PLOTLY_SKIP:
                continue
            _plotly_strings(v, out, k)
    elif isinstance(node, list):
        if key in _PLOTLY_TEXT or key == "ticktext":
            out.extend(str(v) for v in node if isinstance(v, str))
        else:
            for v in node:
                _plotly_strings(v, out, key)
    elif isinstance(node, str) and key in _PLOTLY_TEXT:
        out.append(node)


def _axis_aware(fig: dict, out: list[str]) -> None:
    _plotly_strings(fig.get("data", []), out)
    layout = fig.get("layout", {})
    for k, v in layout.items():
        if k == "template":
            continue
        if k.startswith(("xaxis", "yaxis")) and isinstance(v, dict):
            title = v.get("title")
            if isinstance(title, dict) and title.get("text"):
                out.append(title["text"])
            elif isinstance(title, str):
                out.append(title)
            out.extend(str(s) for s in v.get("ticktext", []) if isinstance(s, str))
        elif k in ("title", "legend", "annotations"):
            _plotly_strings(v, out, k)


def _frame_strings(frame: pd.DataFrame, out: list[str], skip_columns=frozenset()) -> None:
    out.extend(str(c) for c in frame.columns)
    if isinstance(frame.index, pd.MultiIndex) or not pd.api.types.is_numeric_dtype(frame.index):
        out.extend(str(i) for i in frame.index)
    for col in frame.columns:
        if col in skip_columns:
            continue
        series = frame[col]
        if series.dtype == object or pd.api.types.is_string_dtype(series):
            out.extend(str(v) for v in series.dropna().unique())


def visible_texts(at, skip_columns: set[str] = frozenset()) -> list[str]:
    """Every text shown on the page; the cells of tables' `skip_columns` are left out."""
    out: list[str] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        kind = getattr(node, "type", None)
        if kind in ("dataframe", "table") or (proto is not None and hasattr(proto, "arrow_data")):
            try:
                _frame_strings(node.value, out, skip_columns)
            except Exception:  # an element without a frame: its proto's strings
                pass
        if proto is not None and hasattr(proto, "ListFields"):
            if kind == "plotly_chart" or hasattr(proto, "spec") and getattr(proto, "spec", ""):
                try:
                    _axis_aware(json.loads(proto.spec), out)
                except (ValueError, AttributeError):
                    pass
            _proto_strings(proto, out)
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return [s for s in out if s and s.strip()]


_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}\b")
_A_DAY = re.compile(r"^(\d{4}-\d{2}-\d{2}|\d{4}\. \d{1,2}\. \d{1,2}\.)$")
# A moment written out: "2026. 12. 2. 14:05", "2026-12-02 14:05 KST".
_A_MOMENT = re.compile(r"^(\d{4}-\d{2}-\d{2}|\d{4}\. \d{1,2}\. \d{1,2}\.) \d{1,2}:\d{2}( KST)?$")


def _is_date_column(series: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(series):
        return True
    values = series.dropna()
    return (series.dtype == object and len(values) > 0
            and all(isinstance(v, (dt.date, pd.Timestamp)) for v in values))


def unreadable_dates(at, table_format: str, *, iso_text_ok: bool,
                     moment_format: str | None = None) -> list[str]:
    """Table columns of dates shown as Streamlit shows them by default (ISO, and UTC for moments):
    every date column needs a `column_config` format (`dashboard.dates.date_columns`), every
    column of times `moment_format` (`dashboard.dates.moment_columns`; by default the moment
    format that goes with `table_format`); a column of dates or moments written as text
    ("2026. 10. 13.", "2026. 10. 13. 14:05") is refused too, since it sorts as text (9 after
    10); and unless `iso_text_ok` no text cell may start with an ISO date ("2026-10-13 14:05")."""
    from dashboard.dates import MOMENT_FORMAT, TABLE_FORMAT

    if moment_format is None:
        lang = next(k for k, v in TABLE_FORMAT.items() if v == table_format)
        moment_format = MOMENT_FORMAT[lang]
    found: list[str] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if getattr(node, "type", None) == "arrow_data_frame" or (
                proto is not None and hasattr(proto, "arrow_data") and hasattr(proto, "columns")):
            try:
                frame = node.value
            except Exception:
                frame = None
            if isinstance(frame, pd.DataFrame):
                config = json.loads(proto.columns or "{}")
                for col in frame.columns:
                    series = frame[col]
                    if _is_date_column(series):
                        fmt = config.get(str(col), {}).get("type_config", {}).get("format")
                        times = pd.api.types.is_datetime64_any_dtype(series)
                        if fmt != (moment_format if times else table_format):
                            found.append(f"{col!s}: {series.dropna().iloc[0]!s} (format {fmt})")
                    elif (series.dtype == object
                                              or pd.api.types.is_string_dtype(series)):
                        texts = [v for v in series.dropna().unique() if isinstance(v, str)]
                        days = [v for v in texts if _A_DAY.match(v)]
                        moments = [v for v in texts if _A_MOMENT.match(v)]
                        iso = [v for v in texts if _ISO_DAY.match(v)]
                        if days and all(_A_DAY.match(v) or not v for v in texts):
                            found.append(f"{col!s}: {days[0]!r} (dates as text)")
                        elif moments and all(_A_MOMENT.match(v) or not v for v in texts):
                            found.append(f"{col!s}: {moments[0]!r} (moments as text)")
                        elif iso and not iso_text_ok:
                            found.append(f"{col!s}: {iso[0]!r} (ISO text)")
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return found


# Words a Korean reader sees in Korean text too: statistics' names, file kinds, units, programme
# codes. Everything else spelled in Latin letters is English or a raw code.
ALLOWED = {
    "RCI", "ICC", "AUC", "CSV", "PDF", "JSON", "Cox", "Kaplan", "Meier", "Fine", "Gray", "SD", "CI",
    "PDQ", "pHash", "dHash", "aHash", "wHash", "TMK", "URL", "ID", "HR", "OR", "AIC", "Brier",
    "d_z", "d_av", "Cohen", "Cronbach", "Wilcoxon", "McNemar", "Holm", "ROC", "API", "IP", "Dask",
    "Streamlit", "dscr", "Likert", "Hedges", "Bonferroni", "HTML", "Aalen", "Johansen", "POMP",
    "zip", "JPEG", "PNG", "GIF", "BMP", "TIFF", "WebP", "HEIC", "MP4", "MOV", "AVI", "MKV", "WebM",
    "IPCW", "scikit-learn", "lifelines", "statsmodels", "pingouin", "Harrell", "Schoenfeld", "Grambsch", "Therneau", "Koo", "Li", "Fleiss", "Shrout",
    "English",  # the language switch names the other language in its own words
}
_ALLOWED = {a.lower() for a in ALLOWED}
_WORD = re.compile(r"[A-Za-z][A-Za-z_']*[A-Za-z]|[A-Za-z]")
_CODE = re.compile(r"^[A-Z]{1,6}-[0-9A-Z-]+$|^[a-z]+[0-9]+$|^P-[0-9A-Z]+$|^CASE-|^[0-9a-f]{8,}$")


_MARKUP = re.compile(r"<br>|<extra></extra>|</?[bi]>|%\{[^}]*\}|`[^`]*`")


def english(text: str, allowed: set[str] = frozenset()) -> list[str]:
    """The English words (or snake_case codes) in a text meant for a Korean reader. Chart markup
    (`<br>`, `%{y}`), code in backticks and paths are not words."""
    found = []
    allowed = {a.lower() for a in allowed}
    for token in re.split(r"[\s,;:()\[\]{}<>\"=|·…]+", _MARKUP.sub(" ", text)):
        token = token.strip(".!?'`*_~#%+")
        if (not token or _CODE.match(token) or token.startswith(("/", "~/"))
                or token.lower() in _ALLOWED or token.lower() in allowed):
            continue
        for word in _WORD.findall(token):
            if len(word) < 2 and "_" not in word:
                continue
            if word.lower() in _ALLOWED or word.lower() in allowed:
                continue
            found.append(word)
    return found
