"""The admin's audit log: entries with filters, the hash-chain check and the monthly access review."""


import pandas as pd
import streamlit as st

from db.context import local_today
from dashboard import state
from dashboard.components import correct_or_erase, service_errors
from dashboard.i18n import t
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

log_tab, review_tab = st.tabs([t("audit_log", lang), t("access_review", lang)])
with log_tab:
    c1, c2 = st.columns(2)
    who = c1.text_input(t("filter_actor", lang), key="f_actor")
    what = c2.text_input(t("filter_action", lang), key="f_action")
    with service_errors(), state.context(actor, "audit page") as ctx:
        entries = accounts.audit_entries(ctx, limit=300, actor=who or None, action=what or None)
        st.dataframe(pd.DataFrame([e.__dict__ for e in entries]), hide_index=True)
with review_tab:
    today = local_today()
    c1, c2 = st.columns(2)
    start = c1.date_input(t("month_start", lang), value=today.replace(day=1), key="rv_start")
    end = c2.date_input(t("month_end", lang), value=today, key="rv_end")
    review = None
    with service_errors(), state.context(actor, "audit page: access review") as ctx:
        review = accounts.access_review(ctx, start=start, end=end)
        st.subheader(t("break_glass", lang))
        st.dataframe(review["break_glass"], hide_index=True)
        st.subheader(t("denials_and_reids", lang))
        st.dataframe(review["events"], hide_index=True)
        st.subheader(t("exports", lang))
        st.dataframe(review["exports"], hide_index=True)
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
