"""The admin's audit log: entries with filters, the hash-chain check and the monthly access review."""


import datetime as dt

import pandas as pd
import streamlit as st

from db.context import local_today
from dashboard import dates, state
from dashboard.components import correct_or_erase, service_errors
from dashboard.i18n import label, t
from vocab import AUDIT_ACTIONS
from dashboard.messages import localise

from accounts import service as accounts

actor = state.require_page("audit.read")
lang = state.lang()
st.title(t("audit_log", lang))

if st.button(t("verify_chain", lang), key="verify"):
    with service_errors(), state.context(actor, "audit page: verify") as ctx:
        report = accounts.verify_audit(ctx)
        if report.ok:
            st.success(t("chain_ok", lang, n=report.rows_checked, points=report.checkpoints_checked))
        elif report.first_broken_id is None:
            st.error(t("chain_incomplete", lang, reason=localise(report.reason, lang)))
        else:
            st.error(t("chain_broken", lang, id=report.first_broken_id,
                       reason=localise(report.reason, lang)))

# Only the open tab runs: the month's access review reads every break-glass opening, denial and
# download, which need not be read while the admin filters the log (and the reverse).
log_tab, review_tab = state.lazy_tabs([t("audit_log", lang), t("access_review", lang)],
                                      key="au_tabs")
LIMIT = 300


def action_label(code: str) -> str:
    return label("au_act_", code, lang)


def table_label(name: object) -> str:
    return "" if name is None else label("au_tbl_", str(name), lang)


def moments(*names: str) -> dict:
    """The column_config of these moment columns (their values given by dates.times)."""
    return dates.moment_columns([t(n, lang) for n in names], lang)


if log_tab.open:
    with log_tab:
        today = local_today()
        with state.context(actor, "audit page: accounts") as ctx:
            names = [a.username for a in accounts.list_accounts(ctx)]
        c1, c2 = st.columns([2, 1])
        chosen = c1.multiselect(t("au_actions", lang), list(AUDIT_ACTIONS), format_func=action_label,
                                key="f_actions")
        everyone = t("au_all_accounts", lang)
        who = c2.selectbox(t("au_account", lang), [everyone, *names], key="f_actor")
        c3, c4, c5 = st.columns(3)
        since = c3.date_input(t("au_from", lang), value=today - dt.timedelta(days=30), max_value=today,
                              key="f_from", format=dates.INPUT_FORMAT[lang])
        until = c4.date_input(t("au_to", lang), value=today, max_value=today, key="f_to", format=dates.INPUT_FORMAT[lang])
        code = c5.text_input(t("au_study_code", lang), key="f_code").strip()
        entries = None
        with service_errors(), state.context(actor, "audit page") as ctx:
            entries = accounts.audit_entries(ctx, limit=LIMIT, actor=None if who == everyone else who,
                                             actions=chosen, start=since, end=until,
                                             study_code=code or None)
        if entries is not None and not entries:
            st.info(t("au_none", lang))
        elif entries:
            st.caption(t("au_shown", lang, n=len(entries), limit=LIMIT))
            st.caption(t("au_record_note", lang))
            st.dataframe(pd.DataFrame({
                t("au_at", lang): dates.times(e.at for e in entries),
                t("au_account", lang): [e.actor for e in entries],
                t("au_action", lang): [action_label(e.action) for e in entries],
                t("au_table", lang): [table_label(e.table_name) for e in entries],
                t("au_row", lang): [e.row_id or "" for e in entries],
                t("study_code", lang): [e.study_code or "" for e in entries],
                t("au_fields", lang): [", ".join(e.fields or ()) for e in entries],
                t("au_detail", lang): [e.detail or "" for e in entries],
            }), hide_index=True, key="au_table", column_config=moments("au_at"))
if review_tab.open:
    with review_tab:
        today = local_today()
        c1, c2 = st.columns(2)
        start = c1.date_input(t("month_start", lang), value=today.replace(day=1), key="rv_start", format=dates.INPUT_FORMAT[lang])
        end = c2.date_input(t("month_end", lang), value=today, key="rv_end", format=dates.INPUT_FORMAT[lang])
        review = None
        with service_errors(), state.context(actor, "audit page: access review") as ctx:
            review = accounts.access_review(ctx, start=start, end=end)

        def reason(value) -> str:
            return "" if pd.isna(value) else f"#{int(value)}"

        if review is not None:
            grants, events, downloads = review["break_glass"], review["events"], review["exports"]
            st.subheader(t("break_glass", lang))
            st.dataframe(pd.DataFrame({
                t("au_at", lang): dates.times(grants["granted_at"]),
                t("au_account", lang): grants["counselor"],
                t("study_code", lang): grants["study_code"].fillna(""),
                t("au_reason_id", lang): [reason(v) for v in grants["reason_id"]],
                t("au_expires_at", lang): dates.times(grants["expires_at"]),
            }), hide_index=True, key="rv_grants", column_config=moments("au_at", "au_expires_at"))
            st.subheader(t("denials_and_reids", lang))
            st.dataframe(pd.DataFrame({
                t("au_at", lang): dates.times(events["at"]),
                t("au_account", lang): events["actor"],
                t("au_action", lang): [action_label(a) for a in events["action"]],
                t("study_code", lang): events["study_code"].fillna(""),
                t("au_detail", lang): events["detail"].fillna(""),
                t("au_reason_id", lang): [reason(v) for v in events["reason_id"]],
            }), hide_index=True, key="rv_events", column_config=moments("au_at"))
            st.subheader(t("exports", lang))
            st.dataframe(pd.DataFrame({
                t("au_created_at", lang): dates.times(downloads["created_at"]),
                t("au_account", lang): downloads["account"],
                t("au_kind", lang): downloads["kind"],
                t("au_purpose", lang): downloads["purpose"],
                t("au_rows", lang): downloads["rows"],
            }), hide_index=True, key="rv_exports", column_config=moments("au_created_at"))
        if review is not None:
            st.subheader(t("rv_reasons", lang))
            st.caption(t("rv_reasons_intro", lang))
            kept = pd.concat([review["break_glass"]["reason_id"], review["events"]["reason_id"]]).dropna()
            ids = sorted({int(i) for i in kept})
            if not ids:
                st.info(t("rv_no_reasons", lang))
            else:
                reason_id = st.selectbox(t("rv_reason_id", lang), ids, key="rv_reason_id")
                # Decrypted on request only, and each opening is recorded by the use case.
                if st.button(t("rv_show_reason", lang), key="show_reason"):
                    with service_errors(), state.context(actor, "audit page: read a reason") as ctx:
                        shown = accounts.reason_for_review(ctx, reason_id)
                        if shown.erased:
                            st.warning(t("rv_reason_erased", lang, id=shown.id, who=shown.erased_by,
                                         at=shown.erased_at))
                        else:
                            st.info(t("rv_reason_text", lang, id=shown.id, who=shown.written_by,
                                      at=shown.written_at, text=shown.text))
                            if shown.corrected_at is not None:
                                st.caption(t("rv_reason_corrected", lang, who=shown.corrected_by,
                                             at=shown.corrected_at))
                correct_or_erase(actor, reason_id, key="rv", labels="rv_", task="audit page: a reason",
                                 correct=accounts.correct_reason, erase=accounts.erase_reason)
