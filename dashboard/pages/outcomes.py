"""The committee's programme outcomes: step means with CIs, paired change, effect sizes, mixed models.

Aggregates only, each through small-cell suppression in the use case; no study code on this page.
"""


import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import vocab
from dashboard import state
from dashboard.components import download, num, service_errors
from dashboard.i18n import TEXT, label, t
from exports import service as exports
from matrix import service as matrix

actor = state.require_page("outcomes.read")
lang = state.lang()
st.title(t("cm_outcomes", lang))
st.caption(t("cm_outcomes_intro", lang))


def dom(code: str) -> str:
    return label("cm_dom_", code, lang)


def step(code: str) -> str:
    return label("cm_step_", code, lang)


def grp(value: object) -> str:
    return label("cm_grp_", str(value), lang)


def pval(value: object) -> str:
    text = num(value, 3)
    return "<0.001" if text and float(value) < 0.001 else text


def ci(lo: object, hi: object) -> str:
    a, b = num(lo), num(hi)
    return f"[{a}, {b}]" if a and b else ""


def share(value: object) -> str:
    text = num(None if value is None else float(value) * 100, 1)
    return f"{text}%" if text else ""


def effect(value: object, name: object) -> str:
    text = num(value)
    return f"{text} ({t('cm_es_' + str(name), lang)})" if text and name else text


options = ["none", *matrix.GROUPINGS]
by_key = st.selectbox(t("cm_group_by", lang), options, format_func=lambda b: t("cm_by_" + b, lang),
                      key=state.keep("cm_by"))
by = None if by_key == "none" else by_key

# The mixed models take seconds to minutes on a large programme: fitted when asked, per session.
fit_models = st.toggle(t("cm_fit_models", lang), key=state.keep("cm_fit_models"))
view = None
with service_errors(), state.context(actor, "committee outcomes") as ctx:
    view = state.memo(ctx, ("committee_outcomes", by, fit_models),
                      lambda: matrix.committee_outcomes(ctx, by=by, models=fit_models))
if view is None:
    st.stop()

st.info(t("cm_suppression_note", lang, threshold=view.threshold))
st.caption(t("cm_effect_note", lang))
if view.table.empty:
    st.info(t("cm_no_outcomes", lang))
    st.stop()

domains = sorted(view.table["domain"].unique())
group_col = t("cm_col_group", lang)
# One tab per domain; only the open one is drawn (by cohort, each holds a chart of dozens of
# lines and two long tables).
tabs = state.lazy_tabs([dom(d) for d in domains], key="cm_domain_tabs")
for tab, domain in zip(tabs, domains, strict=True):
    if not tab.open:
        continue
    with tab:
        means = view.step_means[view.step_means["domain"] == domain]
        fig = go.Figure()
        groups = [(None, means)] if by is None else list(means.groupby(by, sort=False))
        plotted = 0
        for name, part in groups:
            shown = part[part["mean"].notna()]
            plotted += len(shown)
            fig.add_trace(go.Scatter(
                x=[step(s) for s in shown["step"]], y=shown["mean"].astype(float),
                mode="markers+lines", name=t("cm_by_none", lang) if name is None else grp(name),
                error_y={"type": "data", "symmetric": False,
                         "array": (shown["ci_upper"].astype(float) - shown["mean"].astype(float)).tolist(),
                         "arrayminus": (shown["mean"].astype(float) - shown["ci_lower"].astype(float)).tolist()},
                customdata=shown["n"].astype(str), hovertemplate="%{x}: %{y:.2f} (n=%{customdata})"))
        fig.update_layout(title=t("cm_means_title", lang, domain=dom(domain)),
                          xaxis_title=t("cm_axis_step", lang), yaxis_title=t("cm_axis_score", lang),
                          showlegend=by is not None, height=380, margin={"t": 60})
        fig.update_xaxes(categoryorder="array", categoryarray=[step(s) for s in vocab.STEPS])
        if not plotted:
            fig.add_annotation(text=t("cm_chart_empty", lang), showarrow=False, xref="paper",
                               yref="paper", x=0.5, y=0.5)
        st.plotly_chart(fig, key=f"cm_chart_{domain}")

        st.markdown(f"**{t('cm_step_means', lang)}**")
        st.dataframe(pd.DataFrame([{
            **({group_col: grp(r[by])} if by else {}),
            t("cm_col_step", lang): step(r["step"]), t("cm_col_n", lang): str(r["n"]),
            t("cm_col_mean", lang): num(r["mean"]), t("cm_col_sd", lang): num(r["sd"]),
            t("cm_col_ci", lang): ci(r["ci_lower"], r["ci_upper"])} for _, r in means.iterrows()]),
            hide_index=True, key=f"cm_means_{domain}")

        st.markdown(f"**{t('cm_paired_change', lang)}**")
        change = view.table[view.table["domain"] == domain]
        st.dataframe(pd.DataFrame([{
            **({group_col: grp(r[by])} if by else {}),
            t("cm_col_pair", lang): f"{step(r['from_step'])} → {step(r['to_step'])}",
            t("cm_col_n", lang): str(r["n"]),
            t("cm_col_mean_pre", lang): num(r["mean_pre"]), t("cm_col_mean_post", lang): num(r["mean_post"]),
            t("cm_col_mean_diff", lang): num(r["mean_diff"]), t("cm_col_ci", lang): ci(r["ci_lower"], r["ci_upper"]),
            t("cm_col_t", lang): num(r["t"]), t("cm_col_p", lang): pval(r["p"]),
            t("cm_col_wilcoxon_p", lang): pval(r["wilcoxon_p"]),
            t("cm_col_d_z", lang): (effect(r["d_z"], r["d_z_label"]) + " "
                                    + ci(r["d_z_ci_lower"], r["d_z_ci_upper"])).strip(),
            t("cm_col_d_av", lang): effect(r["d_av"], r["d_av_label"]),
            t("cm_col_hedges_g", lang): num(r["hedges_g"]),
            t("cm_col_share_improved", lang): share(r["share_improved"]),
            t("cm_col_share_deteriorated", lang): share(r["share_deteriorated"]),
        } for _, r in change.iterrows()]), hide_index=True, key=f"cm_change_{domain}")

        st.markdown(f"**{t('cm_model', lang)}**")
        fitted = view.models[view.models["domain"] == domain]
        if not fit_models:
            st.caption(t("cm_models_on_request", lang))
        elif fitted.empty:
            st.caption(f"{t('cm_model_none', lang)}: {view.model_notes.get(domain, '')}")
        else:
            st.caption(t("cm_model_n", lang, n=int(fitted["n_participants"].iloc[0])))
            if not bool(fitted["converged"].iloc[0]):
                st.warning(t("cm_model_not_converged", lang))
            st.dataframe(pd.DataFrame([{
                t("cm_col_term", lang): label("cm_term_", r["term"], lang),
                t("cm_col_coef", lang): num(r["coef"]), t("cm_col_se", lang): num(r["se"]),
                t("cm_col_ci", lang): ci(r["ci_lower"], r["ci_upper"]),
                t("cm_col_p_model", lang): pval(r["p"]),
            } for _, r in fitted.iterrows()]), hide_index=True, key=f"cm_model_{domain}")

st.subheader(t("cm_export", lang))
c1, c2 = st.columns(2)
with c1:
    st.markdown(f"**{t('cm_export_csv', lang)}**")

    readable = st.checkbox(t("cm_csv_korean", lang), key=state.keep("cm_csv_korean"))

    def make_csv(purpose: str) -> exports.Export:
        words = {}
        if readable:
            words = {"headers": {**{k[len("cm_csv_"):]: t(k, lang) for k in TEXT
                                    if k.startswith("cm_csv_") and k not in ("cm_csv_korean", "cm_csv_rounded")},
                                 **({by: group_col} if by else {})},
                     "values": {k.split("_", 2)[2]: t(k, lang) for k in TEXT
                                if k.startswith(("cm_dom_", "cm_step_", "cm_grp_"))}}
        with state.context(actor, "committee outcomes: CSV export") as ctx:
            return exports.outcomes_table(ctx, by=by, purpose=purpose,
                                          rounded_suffix=t("cm_csv_rounded", lang), **words)

    download("download_csv", f"cm_csv_{by_key}", make_csv)

with c2:
    st.markdown(f"**{t('cm_export_report', lang)}**")
    st.caption(t("cm_report_print_hint", lang))
    with st.form("cm_report_form"):
        purpose = st.text_input(t("purpose", lang), key="cm_report_purpose")
        go_report = st.form_submit_button(t("prepare_download", lang))
    if go_report:
        # The report speaks the user's language: its fixed words and every coded value.
        words = {"title": t("cm_report_title", lang), "generated_on": t("cm_report_generated_on", lang),
                 "grouping": t("cm_group_by", lang), "grouping_none": t("cm_by_none", lang),
                 "suppression_note": TEXT["cm_suppression_note"][lang],  # {threshold} filled there
                 "effect_note": t("cm_effect_note", lang), "step_means": t("cm_step_means", lang),
                 "paired_change": t("cm_paired_change", lang), "model": t("cm_model", lang),
                 "model_none": t("cm_model_none", lang), "group": group_col,
                 "footer": t("cm_report_footer", lang), "step": t("cm_col_step", lang),
                 "pair": t("cm_col_pair", lang), "ci": t("cm_col_ci", lang)}
        for col in ("n", "mean", "mean_pre", "mean_post", "mean_diff", "t", "p", "wilcoxon_p", "d_z",
                    "d_av", "hedges_g", "share_improved", "share_deteriorated", "term", "coef", "se", "p_model"):
            words[col] = t("cm_col_" + col, lang)
        for key in TEXT:
            for prefix in ("cm_dom_", "cm_step_", "cm_grp_", "cm_term_", "cm_by_", "cm_es_"):
                if key.startswith(prefix):
                    words[key[len(prefix):]] = t(key, lang)
        with service_errors(), state.context(actor, "committee outcomes: report") as ctx:
            st.session_state[f"cm_report_file_{by_key}"] = exports.outcomes_report(
                ctx, by=by, purpose=purpose, labels=words)
    report = st.session_state.get(f"cm_report_file_{by_key}")
    if report:
        st.download_button(t("cm_download_report", lang), data=report.data,
                           file_name=report.file_name, mime=report.media_type, key="cm_report_btn")
