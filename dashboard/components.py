"""Small pieces every page uses: service errors shown in place, downloads that state their purpose."""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import contextmanager

import pandas as pd
import streamlit as st

from dashboard import state
from dashboard.i18n import t
from dashboard.messages import localise
from errors import Conflict, DscrError, NotFound, PermissionDenied, ValidationError
from exports.service import Export


@contextmanager
def service_errors(where=None):
    """Show a use case's error next to the place it concerns; nothing the user typed is lost."""
    target = where or st
    try:
        yield
    except PermissionDenied:
        target.error(t("access_denied", state.lang()))
    except (ValidationError, Conflict, NotFound) as exc:
        target.error(localise(exc, state.lang()))
    except DscrError as exc:
        target.error(localise(exc, state.lang()))


def ask_to_confirm(key: str, what: str, **payload) -> None:
    """Remember an act the user asked for (what it does, in words, and what the act needs); the
    page's `confirmation(key, ...)` then shows it in a dialog until it is confirmed or cancelled."""
    st.session_state[f"{key}_pending"] = {"what": what, **payload}


def confirmation(key: str, act: Callable[[dict], None]) -> None:
    """The dialog of an act that locks or changes a record, while one is pending.

    Call it on every run of the page, after the form that asks (`ask_to_confirm`). Nothing is
    written until "confirm": `act(pending)` runs the use case (and its toast), then the page reruns
    without the dialog; an error it raises is shown in the dialog and the act stays pending (the
    form keeps what was typed).
    "Cancel", the X or a click outside forgets the act. The pending act lives in session state, so
    that the dialog survives the reruns its buttons cause (in a browser and under AppTest alike).
    """
    pending = st.session_state.get(f"{key}_pending")
    if pending is None:
        return
    lang = state.lang()

    def forget() -> None:
        st.session_state.pop(f"{key}_pending", None)

    @st.dialog(t("confirm_title", lang), on_dismiss=forget)
    def _dialog() -> None:
        st.markdown(pending["what"])
        yes, no = st.columns(2)
        if yes.button(t("confirm_yes", lang), type="primary", key=f"{key}_yes"):
            with service_errors():
                act(pending)
                forget()
                st.rerun()
        if no.button(t("confirm_no", lang), key=f"{key}_no"):
            forget()
            st.rerun()

    _dialog()


def download(label_key: str, key: str, make: Callable[[str], Export]) -> None:
    """Ask for the purpose, make the export through its use case (which records it), offer the file."""
    lang = state.lang()
    with st.form(f"dl_{key}"):
        purpose = st.text_input(t("purpose", lang), key=f"purpose_{key}")
        go = st.form_submit_button(t("prepare_download", lang))
    if go:
        with service_errors():
            st.session_state[f"file_{key}"] = make(purpose)
    export = st.session_state.get(f"file_{key}")
    if export:
        st.download_button(t(label_key, lang), data=export.data, file_name=export.file_name,
                           mime=export.media_type, key=f"btn_{key}")


def correct_or_erase(actor, row_id: int, *, key: str, labels: str, task: str,
                     correct: Callable, erase: Callable) -> None:
    """The correction form and the erase button (behind a confirming tick) of a kept free text.

    `labels` is the prefix of the texts (`<labels>correct_text`, `<labels>correct`,
    `<labels>corrected_ok`, `<labels>erase_confirm`, `<labels>erase`,
    `<labels>confirm_required`, `<labels>erased_ok`); `correct(ctx, row_id, text=...)` and
    `erase(ctx, row_id)` are the use cases, which check the permission and record the change.
    """
    lang = state.lang()
    with st.form(f"{key}_correct_form", clear_on_submit=False):
        corrected = st.text_area(t(labels + "correct_text", lang), key=f"{key}_correct_text")
        submitted = st.form_submit_button(t(labels + "correct", lang))
    if submitted:
        with service_errors(), state.context(actor, f"{task}: correct") as ctx:
            correct(ctx, row_id, text=corrected)
            st.success(t(labels + "corrected_ok", lang, id=row_id))
    confirm = st.checkbox(t(labels + "erase_confirm", lang), key=f"{key}_erase_confirm")
    if st.button(t(labels + "erase", lang), key=f"{key}_erase"):
        if not confirm:
            st.error(t(labels + "confirm_required", lang))
        else:
            with service_errors(), state.context(actor, f"{task}: erase") as ctx:
                erase(ctx, row_id)
                st.success(t(labels + "erased_ok", lang, id=row_id))


def num(value: object, digits: int = 2) -> str:
    """A figure as a table shows it: `digits` decimals, and "" for a missing one (None, NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{float(value):.{digits}f}"


PAGE_ROWS = 500


def paged(frame: pd.DataFrame, key: str, *, rows: int = PAGE_ROWS) -> pd.DataFrame:
    """The page of a long table to draw: at most `rows` rows, sorted on the server by the column
    the user chooses. A browser is sent only what it shows (the cohort explorer's 10,000 rows were
    1.5 MB and half a second a click). A table that fits on one page is returned whole, with no
    controls."""
    if len(frame) <= rows:
        return frame
    lang = state.lang()
    pages = -(-len(frame) // rows)
    page_key = state.keep(f"{key}_page")
    if st.session_state.get(page_key, 1) > pages:  # fewer rows since (a filter): the last page
        st.session_state[page_key] = pages
    c1, c2, c3 = st.columns([2, 1, 2], vertical_alignment="bottom")
    by = c1.selectbox(t("tbl_sort_by", lang), list(frame.columns), key=state.keep(f"{key}_sort"))
    descending = c2.toggle(t("tbl_descending", lang), key=state.keep(f"{key}_desc"))
    page = int(c3.number_input(t("tbl_page", lang, pages=pages), min_value=1, max_value=pages,
                               step=1, key=page_key))
    ordered = frame.sort_values(by, ascending=not descending, kind="stable", na_position="last")
    first = (page - 1) * rows
    part = ordered.iloc[first:first + rows]
    st.caption(t("tbl_rows_shown", lang, first=f"{first + 1:,}", last=f"{first + len(part):,}",
                 total=f"{len(frame):,}"))
    return part


CHOICES = 500


def find_codes(codes: list[str], key: str, *, limit: int = CHOICES, where=None) -> list[str]:
    """The study codes a selectbox offers: those containing what the user typed (any case), at
    most `limit` of them. A selectbox of every code sends them all on every click (10,000 codes
    are about 120 KiB a selectbox) and is no way to find one."""
    lang, target = state.lang(), where or st
    typed = target.text_input(t("find_code", lang), key=key).strip().upper()
    found = [c for c in codes if typed in c.upper()] if typed else list(codes)
    if len(found) > limit:
        target.caption(t("find_code_more", lang, shown=f"{limit:,}", total=f"{len(found):,}"))
    return found[:limit]


def table(frame: pd.DataFrame, labels: dict[str, str] | None = None) -> None:
    lang = state.lang()
    shown = frame.rename(columns={c: t(k, lang) for c, k in (labels or {}).items()})
    st.dataframe(shown, hide_index=True)


def period_picker(key: str, *, cohorts: list[str] | None = None, where=None) -> str:
    """A review period chosen, never typed (vocab.period_kind): a half, quarter or month near
    today, a date range, or (given `cohorts`) one of the programme's cohorts. Returns its code,
    e.g. "2026-H2", "2026-01-05~2026-06-30", "cohort:2026 봄 기수"."""
    import datetime as dt

    import vocab
    from dashboard import dates
    from db.context import local_today

    lang, target = state.lang(), where or st
    kinds = [k for k in vocab.PERIOD_KINDS if k != "cohort" or cohorts]
    today = local_today()
    c1, c2 = target.columns([1, 2])
    kind = c1.selectbox(t("period_kind", lang), kinds, key=state.keep(f"{key}_kind", "half"),
                        format_func=lambda k: t("period_kind_" + k, lang))
    if kind == "half":
        halves = [(y, h) for y in range(today.year + 1, today.year - 4, -1) for h in (2, 1)]
        current = (today.year, 1 if today.month <= 6 else 2)
        y, h = c2.selectbox(t("period", lang), halves, index=halves.index(current),
                            key=f"{key}_half",
                            format_func=lambda v: t(f"period_half_{v[1]}", lang, year=v[0]))
        return f"{y}-H{h}"
    if kind == "quarter":
        quarters = [(y, q) for y in range(today.year + 1, today.year - 4, -1) for q in (4, 3, 2, 1)]
        current = (today.year, (today.month - 1) // 3 + 1)
        y, q = c2.selectbox(t("period", lang), quarters, index=quarters.index(current),
                            key=f"{key}_quarter",
                            format_func=lambda v: t("period_quarter", lang, year=v[0], q=v[1]))
        return f"{y}-Q{q}"
    if kind == "month":
        months, y, m = [], today.year, today.month
        for _ in range(36):
            months.append(dt.date(y, m, 1))
            y, m = (y, m - 1) if m > 1 else (y - 1, 12)
        chosen = c2.selectbox(t("period", lang), months, key=f"{key}_month",
                              format_func=lambda d: dates.month(d, lang))
        return f"{chosen:%Y-%m}"
    if kind == "range":
        d1, d2 = c2.columns(2)
        start = d1.date_input(t("period_from", lang), value=today.replace(day=1), key=f"{key}_from",
                              format=dates.INPUT_FORMAT[lang])
        end = d2.date_input(t("period_to", lang), value=today, key=f"{key}_to",
                            format=dates.INPUT_FORMAT[lang])
        return f"{start.isoformat()}~{end.isoformat()}"  # the use case refuses an end before start
    name = c2.selectbox(t("period_cohort", lang), cohorts, key=f"{key}_cohort")
    return vocab.COHORT_PERIOD_PREFIX + name


def period_text(code: str) -> str:
    """A period's code as the reader says it ("2026년 하반기", "기수: 2026 봄 기수")."""
    import datetime as dt

    import vocab
    from dashboard import dates

    lang = state.lang()
    kind = vocab.period_kind(code)
    if kind == "half":
        return t(f"period_half_{code[-1]}", lang, year=int(code[:4]))
    if kind == "quarter":
        return t("period_quarter", lang, year=int(code[:4]), q=int(code[-1]))
    if kind == "month":
        return dates.month(dt.date(int(code[:4]), int(code[5:7]), 1), lang)
    if kind == "range":
        start, end = (dt.date.fromisoformat(d) for d in code.split("~"))
        return f"{dates.day(start, lang)} ~ {dates.day(end, lang)}"
    if kind == "cohort":
        return t("period_cohort_is", lang, name=code[len(vocab.COHORT_PERIOD_PREFIX):])
    return code  # a period stored before they had a form: as it was written
