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


def table(frame: pd.DataFrame, labels: dict[str, str] | None = None) -> None:
    lang = state.lang()
    shown = frame.rename(columns={c: t(k, lang) for c, k in (labels or {}).items()})
    st.dataframe(shown, hide_index=True)
