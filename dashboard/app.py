"""The dashboard: log-in, then the pages each role may use (and only those)."""

from __future__ import annotations

import sys
import urllib.parse
from pathlib import Path

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboard import chrome, state, uploads, weblogin
from dashboard.i18n import LANGUAGES, t
from dashboard.navigation import pages_for
from accounts import service as accounts


def _language_chosen() -> None:
    st.session_state["lang"] = st.session_state["lang_select"]


def language_switch() -> None:
    # A callback, not st.rerun(): the language is set before the page runs again, so the same page
    # is drawn once, in the new language, with what was chosen on it (see state.keep).
    codes = list(LANGUAGES)
    current = state.lang()
    # The container's key tells the browser the page's language (dashboard/chrome.py).
    with st.sidebar.container(key=chrome.marker(current)):
        st.selectbox(t("language", current), codes, index=codes.index(current),
                     format_func=LANGUAGES.get, key="lang_select", on_change=_language_chosen)


def login_needed_page() -> None:
    """What a browser without a live log-in sees: the way to the log-in form (dashboard/weblogin.py).

    The form is a page of its own, outside Streamlit, because only an HTTP response can give the
    browser the HttpOnly cookie that the log-in lives in.
    """
    lang = state.lang()
    st.title(t("app_title", lang))
    if st.session_state.pop("ended", False):
        st.info(t("session_ended", lang))
    url = st.context.url or ""
    here = urllib.parse.urlsplit(url)
    target = weblogin.safe_next(urllib.parse.urlunsplit(("", "", here.path or "/", here.query, "")))
    link = f"{weblogin.LOGIN_PATH}?{urllib.parse.urlencode({'lang': lang, 'next': target})}"
    st.markdown(f"{t('login_needed', lang)} [{t('login', lang)}]({link})")


def main() -> None:
    st.set_page_config(page_title="dscr", page_icon=":material/shield_person:", layout="wide")
    if "lang" not in st.session_state:
        st.session_state["lang"] = "ko"
    language_switch()
    actor = state.current_actor()
    run = get_script_run_ctx()
    if run is not None:  # the upload route asks dashboard.uploads (dashboard/serve.py)
        uploads.note_session(run.session_id, state.browser_token() if actor else None)
    if actor is None:
        st.navigation([st.Page(login_needed_page, title=t("login", state.lang()), url_path="login")],
                      position="hidden").run()
        return
    lang = state.lang()
    st.sidebar.caption(f"{t('signed_in_as', lang)}: **{actor.username}** ({t('role_' + actor.role, lang)})")
    for key, everywhere in (("logout", False), ("logout_all", True)):
        if st.sidebar.button(t("logout_everywhere" if everywhere else "logout", lang), key=key):
            # Ended in the store: every tab of this browser holding the cookie (and, everywhere,
            # every browser of this account) is logged out at its next run.
            accounts.end_login_session(state.runtime(), state.browser_token(), everywhere=everywhere)
            if run is not None:
                uploads.note_session(run.session_id, None)
            state.forget()
            st.rerun()
    st.navigation(pages_for(actor.role, lang)).run()


# Streamlit runs this file as "__main__"; a scan's spawned hashing processes import it again as
# "__mp_main__" (multiprocessing re-imports the main script), and must not run the app there.
if __name__ == "__main__":
    main()
