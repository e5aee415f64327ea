"""A counselor's caseload: the young people assigned to them, and nobody else."""

import pandas as pd
import streamlit as st

from dashboard import state
from dashboard.i18n import t
from db import service
from errors import DscrError

actor = state.require_page("participant.identify")
lang = state.lang()
st.title(t("caseload", lang))
try:
    with state.context(actor, "caseload page") as ctx:
        rows = service.my_caseload(ctx)
except DscrError as exc:
    st.error(str(exc))
    rows = None
if rows is not None and not rows:
    st.info(t("no_caseload", lang))
elif rows:
    st.dataframe(pd.DataFrame([{
        t("study_code", lang): r.study_code, t("programme", lang): r.programme,
        t("cohort", lang): r.cohort, t("enrolled_on", lang): r.enrolled_on.isoformat(),
        t("status", lang): t("status_" + r.status, lang)} for r in rows]), hide_index=True)
