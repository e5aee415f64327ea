"""The committee reads the effect of prevention education by audience, satisfaction apart, and the printable report."""

import pandas as pd
import streamlit as st

import vocab
from dashboard import state
from dashboard.components import download, period_picker, service_errors
from dashboard.components import num as shared_num
from dashboard.i18n import TEXT, label, t
from dashboard.messages import localise
from exports import service as exports
from prevention import service as prevention

actor = state.require_page("prevention.effects")
lang = state.lang()
st.title(t("pv_effects", lang))
st.caption(t("pv_intro", lang))


def num(value: object, digits: int = 1) -> str:
    return shared_num(value, digits)  # this page's figures are POMP points: one decimal


def code_label(column: str, value: object) -> str:
    prefix = {"audience": "pv_aud_", "format": "pv_fmt_"}.get(column)
    return label(prefix, str(value), lang) if prefix else str(value)


by = st.selectbox(t("pv_group_by", lang), list(prevention.GROUPINGS),
                  format_func=lambda b: t("pv_by_" + b, lang), key="pv_by")
view = None
with service_errors(), state.context(actor, "prevention effects") as ctx:
    # A mixed model per audience: fitted once per grouping until the data change (state.memo),
    # not again on every click of the page.
    view = state.memo(ctx, ("prevention_effects", by), lambda: prevention.prevention_effects(ctx, by=by))
if view is None:
    st.stop()
if view.table.empty:
    st.info(t("pv_no_data", lang))
    st.stop()
cols = ["audience", "format"] if by == "audience_format" else [by]

st.subheader(t("pv_change_title", lang))
st.dataframe(pd.DataFrame([{
    **{t("pv_col_" + c, lang): code_label(c, r[c]) for c in cols},
    t("pv_col_n", lang): str(r["n"]), t("pv_col_classes", lang): r["n_classes"],
    t("pv_col_pre", lang): num(r["mean_pre"]), t("pv_col_post", lang): num(r["mean_post"]),
    t("pv_col_change", lang): num(r["change"]),
    t("pv_col_ci", lang): (f"[{num(r['ci_lower'])}, {num(r['ci_upper'])}]"
                           if num(r["ci_lower"]) else ""),
    t("pv_col_p", lang): num(r["p"], 3)} for _, r in view.table.iterrows()]),
    hide_index=True, key="pv_change_table")
if by in ("audience", "format"):
    prefix = "pv_aud_" if by == "audience" else "pv_fmt_"
    names = {code: label(prefix, code, lang) for code in (*vocab.AUDIENCES, *vocab.EDUCATION_FORMATS)}
    fig = view.forest(labels=names, x_title=t("pv_forest_axis", lang))
    fig.update_layout(title=t("pv_change_title", lang))
    st.plotly_chart(fig, key="pv_forest")
st.info(t("pv_suppression_note", lang, threshold=view.threshold))

st.subheader(t("pv_model_title", lang))
if view.model is None:
    st.info(localise(view.note, lang))
else:
    st.markdown(f"**{localise(view.verdict, lang)}**")
    st.dataframe(pd.DataFrame([{
        t("pv_col_audience", lang): code_label("audience", r.audience),
        t("pv_col_change", lang): num(r.change),
        t("pv_col_ci", lang): f"[{num(r.ci_lower)}, {num(r.ci_upper)}]"}
        for r in view.model.time_effects.itertuples()]), hide_index=True, key="pv_model_table")

st.subheader(t("pv_satisfaction_title", lang))
st.dataframe(pd.DataFrame([{
    **{t("pv_col_" + c, lang): code_label(c, r[c]) for c in cols},
    t("pv_col_n", lang): str(r["n"]), t("pv_col_classes", lang): r["n_classes"],
    t("pv_col_satisfaction", lang): num(r["mean"], 2),
    t("pv_col_ci", lang): (f"[{num(r['ci_lower'], 2)}, {num(r['ci_upper'], 2)}]"
                           if num(r["ci_lower"]) else "")} for _, r in view.satisfaction.iterrows()]),
    hide_index=True, key="pv_satisfaction_table")

st.subheader(t("pv_compare_title", lang))
with state.context(actor, "prevention effects: programmes") as ctx:
    programmes = prevention.list_prevention_programmes(ctx)
tailored = programmes[programmes["tailored_from_id"].notna()]
if tailored.empty:
    st.info(t("pv_no_tailored", lang))
else:
    choices = {int(r.programme_id): f"{r.name} v{r.version}" for r in tailored.itertuples()}
    c1, c2 = st.columns(2)
    pick = c1.selectbox(t("pv_compare_choose", lang), list(choices), format_func=choices.get,
                        key="pv_cmp_programme")
    auds = tailored.set_index("programme_id").loc[pick, "audiences"]
    audience = c2.selectbox(t("pv_col_audience", lang), list(auds),
                            format_func=lambda a: label("pv_aud_", a, lang), key="pv_cmp_audience")
    with service_errors(), state.context(actor, "prevention effects: compare") as ctx:
        row = state.memo(ctx, ("compare_tailored", pick, audience),
                         lambda: prevention.compare_tailored(ctx, programme_id=pick,
                                                             audience=audience)).iloc[0]
        st.dataframe(pd.DataFrame([{
            t("pv_col_programme", lang): row["programme"], t("pv_col_origin", lang): row["origin"],
            t("pv_col_n", lang): str(row["n"]),
            t("pv_col_classes", lang): f"{row['n_classes']} / {row['n_classes_origin']}",
            t("pv_col_change", lang): f"{num(row['change'])} / {num(row['change_origin'])}",
            t("pv_col_difference", lang): num(row["difference"]),
            t("pv_col_ci", lang): (f"[{num(row['ci_lower'])}, {num(row['ci_upper'])}]"
                                   if num(row["ci_lower"]) else ""),
            t("pv_col_p", lang): num(row["p"], 3)}]), hide_index=True, key="pv_cmp_table")

st.subheader(t("pv_report", lang))
st.markdown(f"**{t('pv_col_period', lang)}**")
period = period_picker("pv_report_period")
values = {k[len(p):]: v[lang] for p in ("pv_aud_", "pv_fmt_", "pv_by_")
          for k, v in TEXT.items() if k.startswith(p)}


def make_report(purpose: str):
    with state.context(actor, "prevention effects: report") as ctx:
        return exports.prevention_report(ctx, by=by, period=period, purpose=purpose,
                                         labels={"title": t("pv_report", lang)}, values=values)


download("pv_download_report", f"pv_report_{by}", make_report)
