"""The admin's accounts page: accounts and roles, adding and disabling, open sessions."""

import pandas as pd
import streamlit as st

from casework import service as casework
from dashboard import dates, state
from db.context import local_today
from dashboard.components import ask_to_confirm, confirmation, find_codes, paged, service_errors
from dashboard.i18n import t
from accounts import service as accounts_service
from db.schema import ROLES

actor = state.require_page("account.manage")
lang = state.lang()
st.title(t("accounts", lang))

with state.context(actor, "accounts page") as ctx:
    accounts = accounts_service.list_accounts(ctx)
st.dataframe([{t("username", lang): a.username, t("display_name", lang): a.display_name,
               t("role", lang): t("role_" + a.role, lang),
               t("active", lang): t("ac_yes" if a.active else "ac_no", lang),
               t("locked", lang): t("ac_yes" if a.locked else "ac_no", lang)} for a in accounts],
             hide_index=True)

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

st.subheader(t("ac_role_change", lang))
others_all = [a.username for a in accounts if a.username != actor.username]
role_of = {a.username: a.role for a in accounts}
with st.form("role_form"):
    c1, c2 = st.columns(2)
    whose = c1.selectbox(t("username", lang), others_all, key="ac_role_user",
                         format_func=lambda u: f"{u} ({t('role_' + role_of[u], lang)})")
    new_role = c2.selectbox(t("role", lang), ROLES, format_func=lambda r: t("role_" + r, lang),
                            key="ac_role_new")
    change = st.form_submit_button(t("ac_role_change", lang))
if change and whose:
    ask_to_confirm("ac_role", t("ac_role_confirm", lang, name=whose, old=t("role_" + role_of[whose], lang),
                                new=t("role_" + new_role, lang)), whose=whose, role=new_role)


def change_role(pending: dict) -> None:
    with state.context(actor, "accounts page: role") as ctx:
        accounts_service.change_role(ctx, pending["whose"], pending["role"])
    st.toast(t("ac_role_changed", lang, name=pending["whose"], role=t("role_" + pending["role"], lang)))


confirmation("ac_role", change_role)

st.subheader(t("ac_reset", lang))
st.caption(t("ac_reset_help", lang))
with st.form("reset_form"):
    whom = st.selectbox(t("username", lang), others_all, key="ac_reset_user")
    reset = st.form_submit_button(t("ac_reset", lang))
if reset and whom:
    ask_to_confirm("ac_reset", t("ac_reset_confirm", lang, name=whom), whom=whom)


def reset_password(pending: dict) -> None:
    with state.context(actor, "accounts page: reset") as ctx:
        one_time = accounts_service.reset_password(ctx, pending["whom"])
    # Shown once, in the next run only (the one the dialog's rerun starts), which takes it out of
    # session state again: it is never stored, logged or shown twice.
    st.session_state["ac_reset_shown"] = (pending["whom"], one_time)


confirmation("ac_reset", reset_password)
shown_once = st.session_state.pop("ac_reset_shown", None)
if shown_once:
    st.success(t("ac_reset_done", lang, name=shown_once[0]))
    st.code(shown_once[1], language=None)

st.subheader(t("disable", lang))
others = [a.username for a in accounts if a.active and a.username != actor.username]
with st.form("disable_form"):
    who = st.selectbox(t("username", lang), others, key="dis_user")
    go = st.form_submit_button(t("disable", lang))
if go and who:
    ask_to_confirm("ac_disable", t("ac_disable_confirm", lang, name=who), who=who)


def disable(pending: dict) -> None:
    with state.context(actor, "accounts page: disable") as ctx:
        accounts_service.disable_account(ctx, pending["who"])
    st.toast(t("saved", lang))


confirmation("ac_disable", disable)

st.subheader(t("open_sessions", lang))
with state.context(actor, "accounts page: sessions") as ctx:
    sessions = accounts_service.open_login_sessions(ctx)
st.dataframe(pd.DataFrame({
    t("au_account", lang): sessions["username"],
    t("au_created_at", lang): dates.times(sessions["created_at"]),
    t("ac_last_seen", lang): dates.times(sessions["last_seen_at"]),
    t("au_expires_at", lang): dates.times(sessions["expires_at"]),
}), hide_index=True, key="ac_sessions", column_config=dates.moment_columns(
    [t(k, lang) for k in ("au_created_at", "ac_last_seen", "au_expires_at")], lang))
if not sessions.empty:
    labels = {int(r.id): f"{r.username} · {dates.moment(r.last_seen_at, lang)}"
              for r in sessions.itertuples()}
    with st.form("end_session_form"):
        sid = st.selectbox(t("end_session", lang), list(labels), format_func=labels.get, key="end_sid")
        end = st.form_submit_button(t("end_session", lang))
    if end:
        with service_errors(), state.context(actor, "accounts page: end session") as ctx:
            accounts_service.end_login_session_by_id(ctx, sid)
            st.rerun()

# --- caseloads: who counsels whom, and transfers ----------------------------------------------
st.subheader(t("ac_caseloads", lang))
assignments = None
with service_errors(), state.context(actor, "accounts page: caseloads") as ctx:
    assignments = casework.current_assignments(ctx)
if assignments is not None:
    # Found by code or by counselor, a page at a time: at 10,000 participants the whole table and
    # a selectbox of every code were 684 KiB sent on every click.
    f1, f2 = st.columns(2)
    codes = [c for c, _, _ in assignments]
    found = set(find_codes(codes, "ac_cl_find", limit=len(codes), where=f1))
    names = sorted({n for _, n, _ in assignments if n})
    everyone, nobody = "\0all", "\0none"  # never a username
    whose = f2.selectbox(t("ac_counselor", lang), [everyone, nobody, *names], key="ac_cl_whose",
                         format_func=lambda n: {everyone: t("ac_all_counselors", lang),
                                                nobody: t("ac_unassigned", lang)}.get(n, n))
    rows = [(c, n, d) for c, n, d in assignments
            if c in found and (whose == everyone or (n or nobody) == whose)]
    caseload = paged(pd.DataFrame({
        t("study_code", lang): [c for c, _, _ in rows],
        t("ac_counselor", lang): [n or t("ac_unassigned", lang) for _, n, _ in rows],
        t("ac_since", lang): [d for _, _, d in rows],  # dates, so the column sorts
    }), "ac_caseload")
    st.dataframe(caseload, hide_index=True, key="ac_caseload_table",
                 column_config=dates.date_columns([t("ac_since", lang)], lang))
    counselors = [a.username for a in accounts if a.role == "counselor" and a.active]
    if caseload.empty:
        st.info(t("ac_no_caseload_match", lang))
    st.caption(t("ac_transfer_from_shown", lang))
    with st.form("transfer_form"):
        c1, c2, c3 = st.columns(3)
        code = c1.selectbox(t("study_code", lang), caseload[t("study_code", lang)].tolist(),
                            key="ac_tr_code")
        to = c2.selectbox(t("ac_transfer_to", lang), counselors, key="ac_tr_to")
        on = c3.date_input(t("ac_transfer_on", lang), value=local_today(), key="ac_tr_on", format=dates.INPUT_FORMAT[lang])
        why = st.text_input(t("ac_transfer_reason", lang), key="ac_tr_reason")
        move = st.form_submit_button(t("ac_transfer", lang))
    if move and code and to:
        ask_to_confirm("ac_transfer", t("ac_transfer_confirm", lang, code=code, name=to,
                                        on=dates.day(on, lang), reason=why or "-"),
                       code=code, to=to, on=on, why=why)

    def transfer(pending: dict) -> None:
        with state.context(actor, "accounts page: transfer") as ctx:
            casework.transfer_participant(ctx, pending["code"], to_counselor=pending["to"],
                                          on=pending["on"], reason=pending["why"])
        st.toast(t("ac_transferred", lang, code=pending["code"], name=pending["to"]))
        st.session_state.pop("ac_tr_reason", None)

    confirmation("ac_transfer", transfer)
