"""The committee signs off conclusion steps by cohort, seeing counts only, never who is in a cohort."""

import datetime as dt

import pandas as pd
import streamlit as st

from dashboard import state
from dashboard.components import ask_to_confirm, confirmation, correct_or_erase, service_errors
from dashboard.i18n import label, t
from matrix import service as matrix

actor = state.require_page("conclusion.signoff")
lang = state.lang()
st.title(t("cm_signoff", lang))
st.caption(t("cm_signoff_intro", lang))
sign_tab, past_tab = st.tabs([t("cm_tab_sign", lang), t("cm_tab_past", lang)])


def past_decisions() -> None:
    """The committee's past decisions, decrypted only while the member asks (each read is logged)."""
    if not st.toggle(t("cm_show_past", lang), value=False, key="cm_so_show_past"):
        return
    decisions = None
    with service_errors(), state.context(actor, "conclusion sign-off: past decisions") as ctx:
        decisions = matrix.signoff_decisions(ctx)
    if decisions is None:
        return
    if not decisions:
        st.info(t("cm_no_past", lang))
        return
    st.dataframe(pd.DataFrame({
        t("cm_dec_id", lang): [d.id for d in decisions],
        t("cm_dec_cohort", lang): [label("cm_grp_", d.cohort, lang) for d in decisions],
        t("cm_dec_written_by", lang): [d.written_by for d in decisions],
        t("cm_dec_written_at", lang): [d.written_at for d in decisions],
        t("cm_dec_text", lang): [d.text if d.text is not None
                                 else t("cm_dec_erased", lang, who=d.erased_by, at=d.erased_at)
                                 for d in decisions],
        t("cm_dec_corrected", lang): [d.corrected_at for d in decisions],
    }), hide_index=True, key="cm_so_past")
    open_ones = [d.id for d in decisions if d.text is not None]
    if not open_ones:
        return
    chosen = st.selectbox(t("cm_dec_choose", lang), open_ones, key="cm_so_past_id")
    correct_or_erase(actor, chosen, key="cm_so", labels="cm_dec_",
                     task="conclusion sign-off: a decision",
                     correct=matrix.correct_signoff_decision, erase=matrix.erase_signoff_decision)


# The past decisions first: the sign-off tab below stops the script where nothing awaits.
with past_tab:
    past_decisions()
with sign_tab:

    # What the member saw is what they sign: steps reviewed after the counts were last shown wait.
    seen_before = st.session_state.get("cm_so_seen_at")
    counts = None
    with service_errors(), state.context(actor, "conclusion sign-off") as ctx:
        counts = matrix.conclusions_awaiting_signoff(ctx)
    if counts is None:
        st.stop()
    st.session_state["cm_so_seen_at"] = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    if counts.empty:
        st.info(t("cm_no_cohorts", lang))
        st.stop()

    done = st.session_state.pop("cm_so_done", None)
    if done:
        st.success(t("cm_signed_ok", lang, cohort=done))

    st.info(t("cm_suppression_note", lang, threshold=state.runtime().settings.suppression_threshold))
    pending = (counts["awaiting_review"].astype(str) != "0") | (counts["awaiting_signoff"].astype(str) != "0")
    every = st.toggle(t("cm_show_every_cohort", lang), value=False, key="cm_so_every")
    shown = (counts if every else counts[pending | (counts["cohort"] == "Total")]).astype(str)
    shown["cohort"] = shown["cohort"].map(lambda c: label("cm_grp_", c, lang))
    st.dataframe(shown.rename(columns={c: t("cm_col_" + c, lang) for c in shown.columns}),
                 hide_index=True, key="cm_so_counts")

    waiting = [c for c, n in zip(counts["cohort"], counts["awaiting_signoff"], strict=True)
               if c != "Total" and str(n) != "0"]
    st.subheader(t("cm_signoff_form", lang))
    if not waiting:
        st.info(t("cm_nothing_awaiting", lang))
        st.stop()
    with st.form("cm_signoff_form", clear_on_submit=False):
        cohort = st.selectbox(t("cm_choose_cohort", lang), waiting, key="cm_so_cohort")
        decision = st.text_area(t("cm_decision", lang), key="cm_so_decision")
        sign = st.form_submit_button(t("cm_sign", lang))
    if sign:
        n = next(str(v) for c, v in zip(counts["cohort"], counts["awaiting_signoff"], strict=True)
                 if c == cohort)
        ask_to_confirm("cm_so", t("cm_confirm_signoff", lang, cohort=cohort, n=n), cohort=cohort,
                       decision=decision, as_of=seen_before or st.session_state["cm_so_seen_at"])

    def sign_off(pending: dict) -> None:
        with state.context(actor, "conclusion sign-off: sign") as ctx:
            matrix.sign_off_cohort(ctx, pending["cohort"], as_of=pending["as_of"],
                                   decision=pending["decision"])
        st.session_state.pop("cm_so_decision", None)  # the next sign-off starts from an empty form
        st.session_state["cm_so_done"] = pending["cohort"]

    confirmation("cm_so", sign_off)
