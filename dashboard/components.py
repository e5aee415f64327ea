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


def download(label_key: str, key: str, make: Callable[[str], bytes], file_name: str) -> None:
    """Ask for the purpose, record the export through the use case, then offer the file."""
    lang = state.lang()
    with st.form(f"dl_{key}"):
        purpose = st.text_input(t("purpose", lang), key=f"purpose_{key}")
        go = st.form_submit_button(t("prepare_download", lang))
    if go:
        with service_errors():
            st.session_state[f"file_{key}"] = make(purpose)
    data = st.session_state.get(f"file_{key}")
    if data:
        st.download_button(t(label_key, lang), data=data, file_name=file_name, mime="text/csv",
                           key=f"btn_{key}")


def table(frame: pd.DataFrame, labels: dict[str, str] | None = None) -> None:
    lang = state.lang()
    shown = frame.rename(columns={c: t(k, lang) for c, k in (labels or {}).items()})
    st.dataframe(shown, hide_index=True)
