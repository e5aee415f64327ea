"""The educator records the classes they taught and sees each one's survey summary."""

import pandas as pd
import streamlit as st

import vocab
from dashboard import dates, state
from db.context import local_today
from dashboard.components import num, service_errors
from dashboard.i18n import label, t
from prevention import service as prevention

actor = state.require_page("delivery.record")
lang = state.lang()
st.title(t("ed_deliveries", lang))
st.caption(t("ed_intro", lang))


with state.context(actor, "deliveries: programmes") as ctx:
    programmes = prevention.list_prevention_programmes(ctx)
if programmes.empty:
    st.info(t("ed_no_programmes", lang))
    st.stop()
names = {int(r.programme_id): f"{r.name} v{r.version} ({label('pv_fmt_', r.format, lang)})"
         for r in programmes.itertuples()}
audiences_of = {int(r.programme_id): list(r.audiences) for r in programmes.itertuples()}

st.subheader(t("ed_new_delivery", lang))
programme_id = st.selectbox(t("pv_col_programme", lang), list(names), format_func=names.get,
                            key="ed_programme")
with st.form("ed_delivery_form", clear_on_submit=False):
    c1, c2 = st.columns(2)
    delivered_on = c1.date_input(t("pv_col_date", lang), key="ed_date",
                                 max_value=local_today(), format=dates.INPUT_FORMAT[lang])
    audience = c2.selectbox(t("pv_col_audience", lang), audiences_of[programme_id],
                            format_func=lambda a: label("pv_aud_", a, lang), key="ed_audience")
    c3, c4, c5 = st.columns(3)
    kind = c3.selectbox(t("pv_col_institution", lang), vocab.INSTITUTION_KINDS,
                        format_func=lambda k: label("pv_inst_", k, lang), key="ed_kind")
    district = c4.selectbox(t("pv_col_district", lang), vocab.SEOUL_DISTRICTS,
                            format_func=lambda d: label("pv_dist_", d, lang), key="ed_district")
    present = c5.number_input(t("pv_col_present", lang), min_value=1, max_value=500, value=20,
                              step=1, key="ed_present")
    save = st.form_submit_button(t("ed_record", lang), key="ed_record_btn")
if save:
    with service_errors(), state.context(actor, "deliveries: record") as ctx:
        new_id = prevention.record_delivery(ctx, programme_id=programme_id,
                                            delivered_on=delivered_on, audience=audience,
                                            institution_kind=kind, district=district,
                                            present=int(present))
        st.success(t("ed_recorded", lang, id=new_id))

with state.context(actor, "deliveries: mine") as ctx:
    mine = prevention.my_deliveries(ctx)
if mine.empty:
    st.info(t("ed_none", lang))
    st.stop()
st.dataframe(pd.DataFrame([{
    "#": int(r.delivery_id), t("pv_col_date", lang): r.delivered_on,
    t("pv_col_programme", lang): r.programme, t("pv_col_audience", lang): label("pv_aud_", r.audience, lang),
    t("pv_col_institution", lang): label("pv_inst_", r.institution_kind, lang),
    t("pv_col_district", lang): label("pv_dist_", r.district, lang),
    t("pv_col_present", lang): int(r.present),
    t("pv_col_sheets", lang): f"{int(r.n_pre)}/{int(r.n_post)}",
    t("pv_col_pre", lang): num(r.mean_pre, 1), t("pv_col_post", lang): num(r.mean_post, 1),
    t("pv_col_change", lang): num(r.change, 1),
    t("pv_col_satisfaction", lang): num(r.satisfaction, 1)} for r in mine.itertuples()]),
    hide_index=True, key="ed_mine", column_config=dates.date_columns([t("pv_col_date", lang)], lang))
