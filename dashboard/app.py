"""The dashboard: log-in, then the pages each role may use (and only those)."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboard import state, uploads
from dashboard.i18n import LANGUAGES, t
from dashboard.messages import localise
from dashboard.navigation import pages_for
from accounts import service as accounts
from errors import DscrError


def _language_chosen() -> None:
    st.session_state["lang"] = st.session_state["lang_select"]


def language_switch() -> None:
    # A callback, not st.rerun(): the language is set before the page runs again, so the same page
    # is drawn once, in the new language, with what was chosen on it (see state.keep).
    codes = list(LANGUAGES)
    current = state.lang()
    st.sidebar.selectbox(t("language", current), codes, index=codes.index(current),
                         format_func=LANGUAGES.get, key="lang_select", on_change=_language_chosen)


def login_page() -> None:
    lang = state.lang()
    st.title(t("app_title", lang))
    if st.session_state.pop("ended", False):
        st.info(t("session_ended", lang))
    st.subheader(t("privacy_title", lang))
    st.markdown(t("privacy_notice", lang))
    with st.form("login"):
        username = st.text_input(t("username", lang), key="login_username")
        password = st.text_input(t("password", lang), type="password", key="login_password")
        ack = st.checkbox(t("privacy_ack", lang), key="login_ack")
        submitted = st.form_submit_button(t("login", lang))
    if submitted:
        if not ack:
            st.error(t("privacy_required", lang))
            return
        try:
            actor = accounts.authenticate(state.runtime(), username.strip(), password)
        except accounts.LoginFailed:
            st.error(t("login_failed", lang))
            return
        except DscrError as exc:
            st.error(localise(exc, state.lang()))
            return
        st.session_state["token"] = accounts.start_login_session(state.runtime(), actor)
        st.rerun()


def main() -> None:
    st.set_page_config(page_title="dscr", page_icon=":material/shield_person:", layout="wide")
    if "lang" not in st.session_state:
        st.session_state["lang"] = "ko"
    language_switch()
    actor = state.current_actor()
    run = get_script_run_ctx()
    if run is not None:  # the upload route asks dashboard.uploads (dashboard/serve.py)
        uploads.note_session(run.session_id, actor is not None)
    if actor is None:
        state.forget()
        st.navigation([st.Page(login_page, title=t("login", state.lang()), url_path="login")],
                      position="hidden").run()
        return
    lang = state.lang()
    st.sidebar.caption(f"{t('signed_in_as', lang)}: **{actor.username}** ({t('role_' + actor.role, lang)})")
    if st.sidebar.button(t("logout", lang), key="logout"):
        accounts.end_login_session(state.runtime(), st.session_state.pop("token"))
        state.forget()
        st.rerun()
    if st.sidebar.button(t("logout_everywhere", lang), key="logout_all"):
        accounts.end_login_session(state.runtime(), st.session_state.pop("token"), everywhere=True)
        state.forget()
        st.rerun()
    st.navigation(pages_for(actor.role, lang)).run()


# Streamlit runs this file as "__main__"; a scan's spawned hashing processes import it again as
# "__mp_main__" (multiprocessing re-imports the main script), and must not run the app there.
if __name__ == "__main__":
    main()
