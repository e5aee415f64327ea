"""The admin's audit log: recent entries and the hash-chain check."""

import pandas as pd
import streamlit as st

from dashboard import state
from dashboard.i18n import t
from db import service
from errors import DscrError

actor = state.require_page("audit.read")
lang = state.lang()
st.title(t("audit_log", lang))
try:
    if st.button(t("verify_chain", lang), key="verify"):
        with state.context(actor, "audit page verify") as ctx:
            report = service.verify_audit(ctx)
        if report.ok:
            st.success(t("chain_ok", lang, n=report.rows_checked))
        else:
            st.error(t("chain_broken", lang, id=report.first_broken_id, reason=report.reason))
    with state.context(actor, "audit page") as ctx:
        entries = service.audit_entries(ctx, limit=200)
    st.dataframe(pd.DataFrame([e.__dict__ for e in entries]), hide_index=True)
except DscrError as exc:
    st.error(str(exc))
