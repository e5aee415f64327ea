"""The committee rates programmes on the four gender-sensitivity indicators and sees the summary."""

import math

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import state
from dashboard.components import num, period_picker, service_errors
from dashboard.i18n import label, t
from dashboard.messages import localise
from matrix import service as matrix

actor = state.require_page("review.record")
lang = state.lang()
st.title(t("cm_reviews", lang))
st.caption(t("cm_reviews_intro", lang))
SCORES = (1, 2, 3, 4, 5)


def ind(code: str) -> str:
    return label("cm_ind_", code, lang)


def bound(value: object) -> str:
    """A CI bound; an infinite one (pingouin's F-based interval with few programmes) in words."""
    if value is not None and isinstance(value, (int, float)) and math.isinf(value):
        return t("cm_ci_unbounded", lang)
    return num(value)


def icc_reading(icc: object, lower: object) -> str:
    """What an ICC says, in words: below zero or with no lower bound, agreement cannot be claimed;
    otherwise Koo & Li's (2016) bands (poor < 0.5 <= moderate < 0.75 <= good < 0.9 <= excellent)."""
    if not num(icc):
        return t("cm_icc_none", lang)
    icc = round(float(icc), 2)  # banded as shown: a printed 0.50 is never "below 0.5"
    if icc < 0:
        return t("cm_icc_negative", lang)
    band = ("poor" if icc < 0.5 else "moderate" if icc < 0.75 else "good" if icc < 0.9
            else "excellent")
    text = t("cm_icc_" + band, lang)
    if lower is None or not num(lower) or math.isinf(float(lower)) or float(lower) < 0:
        text += ", " + t("cm_icc_wide", lang)
    return text


with st.expander(t("cm_rubric", lang), expanded=True):
    st.markdown(t("cm_rubric_text", lang))
    st.markdown("\n".join(f"- **{ind(i)}**: {t('cm_ind_help_' + i, lang)}"
                          for i in matrix.REVIEW_INDICATORS))

with state.context(actor, "programme reviews") as ctx:
    programmes = matrix.review_programmes(ctx)
if programmes.empty:
    st.info(t("cm_no_programmes", lang))
    st.stop()
names = dict(zip(programmes["programme_id"].astype(int), programmes["programme"], strict=True))

programme_id = st.selectbox(t("cm_choose_programme", lang), list(names), format_func=names.get,
                            key="cm_rv_programme")
with state.context(actor, "programme reviews: cohorts") as ctx:
    cohorts = matrix.review_cohorts(ctx, programme_id)
st.markdown(f"**{t('cm_period', lang)}**")
period = period_picker("cm_rv_period", cohorts=cohorts)

# Show the member's own earlier ratings for this programme and period, so a re-rating starts from
# them (loaded once per choice; what the member types afterwards is kept across reruns).
if st.session_state.get("cm_rv_loaded") != (programme_id, period):
    mine = pd.DataFrame(columns=["programme_id", "indicator", "score", "comment"])
    if period:
        with service_errors(), state.context(actor, "programme reviews: mine") as ctx:
            mine = matrix.my_programme_reviews(ctx, period=period)
    mine = mine[mine["programme_id"] == programme_id]
    earlier = dict(zip(mine["indicator"], mine["score"], strict=True))
    for i in matrix.REVIEW_INDICATORS:
        st.session_state[f"cm_rv_{i}"] = int(earlier[i]) if i in earlier else None
    comments = [c for c in mine["comment"] if c]
    st.session_state["cm_rv_comment"] = comments[0] if comments else ""
    st.session_state["cm_rv_loaded"] = (programme_id, period)

with st.form("cm_review_form", clear_on_submit=False):
    for i in matrix.REVIEW_INDICATORS:
        st.radio(ind(i), SCORES, horizontal=True, key=f"cm_rv_{i}", help=t("cm_ind_help_" + i, lang))
    comment = st.text_area(t("cm_comment", lang), key="cm_rv_comment")
    save = st.form_submit_button(t("cm_save_ratings", lang))
if save:
    missing = [i for i in matrix.REVIEW_INDICATORS if st.session_state.get(f"cm_rv_{i}") is None]
    if missing:
        for i in missing:
            st.error(t("cm_rating_missing", lang, indicator=ind(i)))
    else:
        saved = False
        with service_errors(), state.context(actor, "programme reviews: record") as ctx:
            for i in matrix.REVIEW_INDICATORS:
                matrix.record_programme_review(ctx, programme_id=programme_id, indicator=i,
                                               score=int(st.session_state[f"cm_rv_{i}"]),
                                               period=period, comment=comment or None)
            saved = True
        if saved:
            st.success(t("cm_ratings_saved", lang))

st.subheader(t("cm_summary", lang))
summary = None
with service_errors(), state.context(actor, "programme reviews: summary") as ctx:
    summary = matrix.programme_review_summary(ctx, period=period or None)
if summary is None:
    st.stop()
progs = summary.programmes
if not progs.empty:
    fig = go.Figure()
    for code in matrix.REVIEW_INDICATORS:
        part = progs[progs["indicator"] == code]
        fig.add_trace(go.Bar(x=part["programme"], y=part["mean"], name=ind(code),
                             error_y={"type": "data", "array": part["sd"].fillna(0).tolist()}))
    fig.update_layout(title=t("cm_summary_chart", lang), barmode="group",
                      xaxis_title=t("cm_col_programme", lang), yaxis_title=t("cm_axis_rating", lang),
                      yaxis_range=[0, 5.5], height=380)
    st.plotly_chart(fig, key="cm_rv_chart")
    st.dataframe(pd.DataFrame([{
        t("cm_col_programme", lang): r["programme"], t("cm_col_indicator", lang): ind(r["indicator"]),
        t("cm_col_mean", lang): num(r["mean"]), t("cm_col_sd", lang): num(r["sd"]),
        t("cm_col_min", lang): num(r["min"], 0), t("cm_col_max", lang): num(r["max"], 0),
        t("cm_col_n_raters", lang): int(r["n_raters"])} for _, r in progs.iterrows()]),
        hide_index=True, key="cm_rv_summary")

st.subheader(t("cm_agreement", lang))
st.caption(t("cm_agreement_note", lang))
if summary.agreement.empty:
    st.info(t("cm_no_agreement", lang, why=localise(summary.note, lang) or "-"))
else:
    st.dataframe(pd.DataFrame([{
        t("cm_col_indicator", lang): ind(r["indicator"]), t("cm_col_type", lang): r["type"],
        t("cm_col_icc", lang): num(r["icc"]), t("cm_col_ci", lang): (f"[{bound(r['ci_lower'])}, {bound(r['ci_upper'])}]"
                               if num(r["icc"]) else ""),
        t("cm_col_icc_reading", lang): icc_reading(r["icc"], r["ci_lower"]),
        t("cm_col_p_f", lang): num(r["p"], 3), t("cm_col_n_programmes", lang): int(r["n_programmes"]),
        t("cm_col_n_raters", lang): int(r["n_raters"])} for _, r in summary.agreement.iterrows()]),
        hide_index=True, key="cm_rv_agreement")
