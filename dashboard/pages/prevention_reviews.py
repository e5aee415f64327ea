"""The committee rates prevention programmes, records recommendations, and links the tailored versions that answer them."""


import pandas as pd
import streamlit as st

import vocab
from dashboard import state
from dashboard.components import num, period_picker, period_text, service_errors
from dashboard.i18n import label, t
from dashboard.messages import localise
from prevention import service as prevention

actor = state.require_page("prevention.review")
lang = state.lang()
st.title(t("pv_reviews", lang))
SCORES = (1, 2, 3, 4, 5)


def ind(code: str) -> str:
    return label("cm_ind_", code, lang)


def programmes_now() -> pd.DataFrame:
    with state.context(actor, "prevention reviews: programmes") as ctx:
        return prevention.list_prevention_programmes(ctx)


programmes = programmes_now()
st.subheader(t("pv_programmes", lang))
st.dataframe(pd.DataFrame([{
    "#": int(r.programme_id), t("pv_name", lang): r.name, t("pv_col_version", lang): int(r.version),
    t("pv_col_format", lang): label("pv_fmt_", r.format, lang),
    t("pv_col_audiences", lang): ", ".join(label("pv_aud_", a, lang) for a in r.audiences),
    t("pv_col_tailored_from", lang): r.tailored_from or ""} for r in programmes.itertuples()]),
    hide_index=True, key="pv_programmes_table")
names = {int(r.programme_id): f"{r.name} v{r.version}" for r in programmes.itertuples()}

rate_tab, rec_tab, version_tab = st.tabs([t("pv_rate", lang), t("pv_recommendations", lang),
                                          t("pv_new_version", lang)])

with rate_tab:
    st.markdown(f"**{t('pv_col_period', lang)}**")
    period = period_picker("pv_rv_period")
    if names:
        programme_id = st.selectbox(t("pv_col_programme", lang), list(names),
                                    format_func=names.get, key="pv_rv_programme")
        with st.form("pv_review_form", clear_on_submit=False):
            for i in prevention.REVIEW_INDICATORS:
                st.radio(ind(i), SCORES, horizontal=True, index=None, key=f"pv_rv_{i}",
                         help=t("cm_ind_help_" + i, lang))
            comment = st.text_area(t("cm_comment", lang), key="pv_rv_comment")
            save = st.form_submit_button(t("pv_save_ratings", lang), key="pv_save_btn")
        if save:
            missing = [i for i in prevention.REVIEW_INDICATORS
                       if st.session_state.get(f"pv_rv_{i}") is None]
            for i in missing:
                st.error(t("cm_rating_missing", lang, indicator=ind(i)))
            if not missing:
                with service_errors(), state.context(actor, "prevention reviews: record") as ctx:
                    for i in prevention.REVIEW_INDICATORS:
                        prevention.record_prevention_review(
                            ctx, programme_id=programme_id, indicator=i,
                            score=int(st.session_state[f"pv_rv_{i}"]), period=period,
                            comment=comment or None)
                    st.success(t("pv_ratings_saved", lang))
    summary = None
    with service_errors(), state.context(actor, "prevention reviews: summary") as ctx:
        summary = prevention.prevention_review_summary(ctx, period=period)
    if summary is not None:
        st.markdown(f"**{t('pv_summary', lang)}**")
        st.dataframe(pd.DataFrame([{
            t("pv_col_programme", lang): r["programme"], t("cm_col_indicator", lang): ind(r["indicator"]),
            t("cm_col_mean", lang): num(r["mean"]), t("cm_col_sd", lang): num(r["sd"]),
            t("cm_col_n_raters", lang): int(r["n_raters"])} for _, r in summary.programmes.iterrows()]),
            hide_index=True, key="pv_rv_summary")
        st.markdown(f"**{t('pv_agreement', lang)}**")
        if summary.agreement.empty:
            st.info(t("cm_no_agreement", lang, why=localise(summary.note, lang) or "-"))
        else:
            st.dataframe(pd.DataFrame([{
                t("cm_col_indicator", lang): ind(r["indicator"]), t("cm_col_type", lang): r["type"],
                t("cm_col_icc", lang): num(r["icc"]),
                t("cm_col_ci", lang): f"[{num(r['ci_lower'])}, {num(r['ci_upper'])}]",
                t("cm_col_n_programmes", lang): int(r["n_programmes"]),
                t("cm_col_n_raters", lang): int(r["n_raters"])}
                for _, r in summary.agreement.iterrows()]), hide_index=True, key="pv_rv_agreement")

with rec_tab:
    if names:
        # The period is chosen outside the form: its second list follows the first at once.
        st.markdown(f"**{t('pv_col_period', lang)}**")
        rec_period = period_picker("pv_rec_period")
        with st.form("pv_rec_form", clear_on_submit=False):
            rec_programme = st.selectbox(t("pv_col_programme", lang), list(names),
                                         format_func=names.get, key="pv_rec_programme")
            c2, c3 = st.columns(2)
            rec_audience = c2.selectbox(t("pv_col_audience", lang), [None, *vocab.AUDIENCES],
                                        format_func=lambda a: t("pv_any", lang) if a is None
                                        else label("pv_aud_", a, lang), key="pv_rec_audience")
            rec_format = c3.selectbox(t("pv_col_format", lang), [None, *vocab.EDUCATION_FORMATS],
                                      format_func=lambda f: t("pv_any", lang) if f is None
                                      else label("pv_fmt_", f, lang), key="pv_rec_format")
            rec_text = st.text_area(t("pv_col_text", lang), key="pv_rec_text")
            go = st.form_submit_button(t("pv_recommend", lang), key="pv_recommend_btn")
        if go:
            with service_errors(), state.context(actor, "prevention reviews: recommend") as ctx:
                prevention.record_recommendation(ctx, programme_id=rec_programme,
                                                 period=rec_period, text=rec_text,
                                                 audience=rec_audience, format=rec_format)
                st.success(t("pv_recommended", lang))
    with state.context(actor, "prevention reviews: recommendations") as ctx:
        recs = prevention.list_recommendations(ctx)
    st.dataframe(pd.DataFrame([{
        "#": int(r.recommendation_id), t("pv_col_period", lang): period_text(r.period),
        t("pv_col_programme", lang): r.programme, t("pv_col_text", lang): r.text,
        t("pv_col_audience", lang): label("pv_aud_", r.audience, lang) if r.audience else "",
        t("pv_col_format", lang): label("pv_fmt_", r.format, lang) if r.format else "",
        t("pv_col_answered_by", lang): r.answered_by or ""} for r in recs.itertuples()]),
        hide_index=True, key="pv_recs_table")
    open_recs = {int(r.recommendation_id): f"#{int(r.recommendation_id)} {r.text[:40]}"
                 for r in recs.itertuples() if pd.isna(r.answered_by_id)}
    if open_recs and names:
        st.markdown(f"**{t('pv_answer', lang)}**")
        with st.form("pv_answer_form"):
            rec_id = st.selectbox(t("pv_recommendations", lang), list(open_recs),
                                  format_func=open_recs.get, key="pv_ans_rec")
            answer = st.selectbox(t("pv_col_answered_by", lang), list(names),
                                  format_func=names.get, key="pv_ans_programme")
            link = st.form_submit_button(t("pv_answer_save", lang), key="pv_answer_btn")
        if link:
            with service_errors(), state.context(actor, "prevention reviews: answer") as ctx:
                prevention.answer_recommendation(ctx, recommendation_id=rec_id,
                                                 programme_id=answer)
                st.success(t("pv_answered", lang))

with version_tab:
    with st.form("pv_version_form", clear_on_submit=False):
        new_name = st.text_input(t("pv_name", lang), key="pv_new_name")
        c1, c2, c3 = st.columns(3)
        new_format = c1.selectbox(t("pv_col_format", lang), vocab.EDUCATION_FORMATS,
                                  format_func=lambda f: label("pv_fmt_", f, lang), key="pv_new_format")
        new_version = c2.number_input(t("pv_col_version", lang), min_value=1, value=1, step=1,
                                      key="pv_new_version")
        origin = c3.selectbox(t("pv_col_tailored_from", lang), [None, *names],
                              format_func=lambda p: t("pv_none_original", lang) if p is None
                              else names[p], key="pv_new_origin")
        new_audiences = st.multiselect(t("pv_col_audiences", lang), vocab.AUDIENCES,
                                       format_func=lambda a: label("pv_aud_", a, lang),
                                       key="pv_new_audiences")
        add = st.form_submit_button(t("pv_add", lang), key="pv_add_btn")
    if add:
        with service_errors(), state.context(actor, "prevention reviews: add version") as ctx:
            new_id = prevention.add_prevention_programme(
                ctx, name=new_name, audiences=new_audiences, format=new_format,
                version=int(new_version), tailored_from_id=origin)
            st.success(t("pv_added", lang, id=new_id))
