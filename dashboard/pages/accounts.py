"""The admin's accounts page: accounts and roles, adding and disabling, open sessions."""

import streamlit as st

from dashboard import state
from dashboard.components import service_errors
from dashboard.i18n import t
from accounts import service as accounts_service
from db.schema import ROLES

actor = state.require_page("account.manage")
lang = state.lang()
st.title(t("accounts", lang))

with state.context(actor, "accounts page") as ctx:
    accounts = accounts_service.list_accounts(ctx)
st.dataframe([{t("username", lang): a.username, t("display_name", lang): a.display_name,
               t("role", lang): t("role_" + a.role, lang), t("active", lang): a.active,
               t("locked", lang): a.locked} for a in accounts], hide_index=True)

st.subheader(t("add_account", lang))
with st.form("add_account_form"):
    c1, c2, c3 = st.columns(3)
    username = c1.text_input(t("username", lang), key="aa_username")
    display = c2.text_input(t("display_name", lang), key="aa_display")
    role = c3.selectbox(t("role", lang), ROLES, format_func=lambda r: t("role_" + r, lang), key="aa_role")
    password = st.text_input(t("password", lang), type="password", key="aa_password")
    add = st.form_submit_button(t("save", lang))
if add:
    with service_errors(), state.context(actor, "accounts page: add") as ctx:
        accounts_service.add_account(ctx, username=username, role=role, password=password, display_name=display)
        st.toast(t("saved", lang))
        st.rerun()

st.subheader(t("disable", lang))
others = [a.username for a in accounts if a.active and a.username != actor.username]
with st.form("disable_form"):
    who = st.selectbox(t("username", lang), others, key="dis_user")
    go = st.form_submit_button(t("disable", lang))
if go and who:
    with service_errors(), state.context(actor, "accounts page: disable") as ctx:
        accounts_service.disable_account(ctx, who)
        st.toast(t("saved", lang))
        st.rerun()

st.subheader(t("open_sessions", lang))
with state.context(actor, "accounts page: sessions") as ctx:
    sessions = accounts_service.open_login_sessions(ctx)
st.dataframe(sessions.drop(columns=["id"]), hide_index=True)
if not sessions.empty:
    labels = {int(r.id): f"{r.username} · {r.last_seen_at:%Y-%m-%d %H:%M}" for r in sessions.itertuples()}
    with st.form("end_session_form"):
        sid = st.selectbox(t("end_session", lang), list(labels), format_func=labels.get, key="end_sid")
        end = st.form_submit_button(t("end_session", lang))
    if end:
        with service_errors(), state.context(actor, "accounts page: end session") as ctx:
            accounts_service.end_login_session_by_id(ctx, sid)
            st.rerun()
