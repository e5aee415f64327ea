"""Small pieces every page uses: service errors shown in place, downloads that state their purpose."""

from __future__ import annotations

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


def table(frame: pd.DataFrame, labels: dict[str, str] | None = None) -> None:
    lang = state.lang()
    shown = frame.rename(columns={c: t(k, lang) for c, k in (labels or {}).items()})
    st.dataframe(shown, hide_index=True)
