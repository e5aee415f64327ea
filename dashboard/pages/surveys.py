"""The educator uploads the survey file a school returned for one of their deliveries."""

import streamlit as st

from dashboard import dates, state
from dashboard.components import service_errors
from dashboard.i18n import label, t
from prevention import service as prevention
from prevention.instruments import instrument_for

actor = state.require_page("delivery.record")
lang = state.lang()
st.title(t("ed_surveys", lang))
st.caption(t("ed_intro", lang))

with state.context(actor, "surveys: mine") as ctx:
    mine = prevention.my_deliveries(ctx)
waiting = mine[(mine["n_pre"] == 0) & (mine["n_post"] == 0)]
if waiting.empty:
    st.info(t("ed_all_imported", lang))
    st.stop()
names = {int(r.delivery_id): f"#{int(r.delivery_id)} {dates.day(r.delivered_on, lang)} {r.programme} "
         f"({label('pv_aud_', r.audience, lang)}, {int(r.present)})" for r in waiting.itertuples()}
delivery_id = st.selectbox(t("ed_choose_delivery", lang), list(names), format_func=names.get,
                           key="ed_sv_delivery")
audience = waiting.set_index("delivery_id").loc[delivery_id, "audience"]
inst = instrument_for(audience)
with st.expander(t("ed_template", lang)):
    st.caption(t("ed_template_help", lang))
    header = ["time"] + (["pair_code", "satisfaction"] if inst.kind == "self_report" else []) \
        + list(inst.item_ids)
    st.code(",".join(header), language=None)
    st.markdown(f"**{inst.title_ko if lang == 'ko' else inst.title_en}** ({inst.id}) - "
                f"{t('ed_items', lang)}:")
    st.markdown("\n".join(f"- {i.id}: {i.text_ko if lang == 'ko' else i.text_en}"
                          for i in inst.items))

with st.form("ed_survey_form", clear_on_submit=False):
    upload = st.file_uploader(t("ed_upload", lang), type=["csv"], key="ed_sv_file")
    go = st.form_submit_button(t("ed_import", lang), key="ed_import_btn")
if go and upload is not None:
    with service_errors(), state.context(actor, "surveys: import") as ctx:
        result = prevention.import_surveys(ctx, delivery_id=delivery_id, data=upload.getvalue(),
                                           file_name=upload.name)
        st.success(t("ed_imported", lang, pre=result.n_pre, post=result.n_post,
                     paired=t("ed_paired" if result.paired else "ed_unpaired", lang)))
