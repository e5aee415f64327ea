"""Home: who is signed in and what the role may do."""

import streamlit as st

from dashboard import state
from dashboard.i18n import t

actor = state.require_page(None)
lang = state.lang()
st.title(t("app_title", lang))
st.write(t("welcome", lang, name=actor.username))
st.caption(t("pages_coming", lang))
