"""Risk models: fit one (analysts), list the stored ones, read a model card with its plots, and
approve (committee, admin: never the fitter) or withdraw it."""

import datetime as dt
import math

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import vocab

from dashboard import dates, state
from dashboard.components import ask_to_confirm, confirmation, service_errors
from dashboard.i18n import TEXT, t
from dashboard.messages import localise
from dashboard.text_analyst import covariate_label, value_label
from db import access
from models import approval
from models import service as ms
from models.risk import DEFAULT_HORIZON, RISK_MODELS

FAIRNESS_GROUPS = ("programme", "age_band", "offence_group", "sex")
GROUP_METRICS = ("auc", "fpr", "fnr", "ppv")


def fmt(x, digits: int = 3) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def with_ci(est, lo, hi, digits: int = 3) -> str:
    if est is None or (isinstance(est, float) and math.isnan(est)):
        return "—"
    return f"{fmt(est, digits)} ({fmt(lo, digits)}–{fmt(hi, digits)})"


def model_name(name: str) -> str:
    key = "an_model_" + name
    return t(key, lang) if key in TEXT else name


actor = state.require_page("model.card")
lang = state.lang()


def _code(value: object) -> str:
    return f"`{value}`"


def warning_text(message) -> str:
    """A card's warning in the reader's language, its subgroup named by label (not `age_band`)."""
    params = getattr(message, "params", None)
    if params and "label" in params and "level" in params and f"an_group_{params['label']}" in TEXT:
        message = message.with_params(label=t(f"an_group_{params['label']}", lang),
                                      level=value_label(params["label"], params["level"], lang))
    return localise(message, lang)


def card_settings(card) -> str:
    """The card's settings as a list a reader can scan: Korean names, each value as recorded.
    Parameter names are scikit-learn's and values are shown as code; the censoring text is
    shown above it in the reader's language, so it is not repeated here."""
    v = card.validation_settings
    lines = []
    names = {"n_splits": "an_set_splits", "n_repeats": "an_set_repeats",
             "n_bootstrap": "an_set_bootstrap", "random_state": "an_set_seed", "ci": "an_set_ci"}
    for key, text_key in names.items():
        if key in v:
            lines.append(f"- {t(text_key, lang)}: {_code(v[key])}")
    if "ci_method" in v:
        lines.append(f"- {t('an_set_ci_method', lang)}")
    params = ", ".join(f"{_code(k)} = {_code(p)}" for k, p in sorted(card.model_params.items()))
    lines.append(f"- {t('an_set_params', lang)}: {params}")
    lines.append(f"- {t('an_set_code_version', lang)}: {_code(card.code_version)}")
    lines.append(f"- {t('an_set_fingerprint', lang)}: {_code(card.data_fingerprint)}")
    lines.append(f"- {t('an_set_created', lang)}: {dates.day(dt.date.fromisoformat(card.created[:10]), lang)}")
    return "\n".join(lines)

st.title(t("an_models", lang))

# ------------------------------------------------------------------ fit a model (analysts only)
if access.is_allowed(actor.role, "model.fit"):
    st.subheader(t("an_fit_header", lang))
    with st.form("an_fit_form"):
        c1, c2 = st.columns(2)
        model = c1.selectbox(t("an_fit_model", lang), sorted(RISK_MODELS, key=lambda n: (n != "logistic", n)), key="an_fit_model",
                             format_func=model_name)
        horizon = c2.number_input(t("an_horizon", lang), min_value=30, max_value=3650,
                                  value=int(DEFAULT_HORIZON), step=30, key="an_fit_horizon")
        landmark = st.radio(t("an_landmark", lang), vocab.LANDMARKS, horizontal=True,
                            key="an_fit_landmark", format_func=lambda m: t("an_landmark_" + m, lang),
                            help=t("an_landmark_help", lang))
        with st.expander(t("an_validation_settings", lang)):
            d1, d2, d3 = st.columns(3)
            n_splits = d1.number_input(t("an_n_splits", lang), min_value=2, max_value=10, value=5,
                                       key="an_fit_splits")
            n_repeats = d2.number_input(t("an_n_repeats", lang), min_value=1, max_value=50,
                                        value=10, key="an_fit_repeats")
            n_bootstrap = d3.number_input(t("an_n_bootstrap", lang), min_value=20, max_value=2000,
                                          value=200, step=10, key="an_fit_bootstrap")
        fit = st.form_submit_button(t("an_fit", lang))
    if fit:
        with service_errors(), st.spinner(t("an_fitting", lang)), \
                state.context(actor, "models page: fit") as ctx:
            new_id = ms.fit_risk_model(ctx, model=model, horizon=int(horizon), landmark=landmark,
                                       n_splits=int(n_splits), n_repeats=int(n_repeats),
                                       n_bootstrap=int(n_bootstrap))
            st.session_state["an_model_choice"] = new_id
            st.toast(t("an_fitted", lang, id=new_id))
            st.rerun()

# ------------------------------------------------------------------ the stored models
st.subheader(t("an_stored_models", lang))
with state.context(actor, "models page: list") as ctx:
    models = ms.list_models(ctx)
if not models:
    st.info(t("an_no_models", lang))
    st.stop()
st.dataframe(pd.DataFrame({
    t("an_model_label", lang): [f"{model_name(m.name)} #{m.id}" for m in models],
    t("an_horizon", lang): [m.horizon_days for m in models],
    t("an_landmark", lang): [t("an_landmark_" + m.landmark, lang) for m in models],
    t("an_status", lang): [t("an_status_" + m.status, lang) for m in models],
    t("an_approved_by", lang): [m.approved_by or "—" for m in models],
    t("an_created", lang): dates.times(m.created_at for m in models),
    t("an_created_by", lang): [m.created_by for m in models],
    t("an_participants", lang): [m.n for m in models],
    t("an_events", lang): [m.events for m in models],
    t("an_auc_ci", lang): [with_ci(m.auc, m.auc_ci_lower, m.auc_ci_upper) for m in models],
    t("an_eo", lang): [fmt(m.eo_ratio, 2) for m in models],
    t("an_warnings_n", lang): [m.warnings for m in models],
}), hide_index=True, key="an_models_table",
    column_config=dates.moment_columns([t("an_created", lang)], lang))

by_id = {m.id: m for m in models}
if st.session_state.get("an_model_choice") not in by_id:
    st.session_state["an_model_choice"] = models[0].id
chosen = st.selectbox(t("an_choose_model", lang), list(by_id), key="an_model_choice",
                      format_func=lambda i: f"{model_name(by_id[i].name)} #{i} "
                                            f"({by_id[i].horizon_days} · {dates.day(by_id[i].created_at, lang)}"
                                            f" · {t('an_status_' + by_id[i].status, lang)})")
info = by_id[chosen]

# ------------------------------------------------------------------ the card
with state.context(actor, "models page: card") as ctx:
    card = ms.get_card(ctx, chosen)
    calibration = ms.model_calibration(ctx, chosen)

st.header(f"{t('an_card', lang)}: {model_name(card.model_name)} #{chosen}")
st.markdown(f"**{t('an_status', lang)}:** {t('an_status_' + info.status, lang)} · "
            f"**{t('an_landmark', lang)}:** {t('an_landmark_' + info.landmark, lang)}")
if info.approved_at is not None:
    st.caption(t("an_approved_line", lang, who=info.approved_by,
                 at=dates.moment(info.approved_at, lang), reason=info.approval_reason))
if info.withdrawn_at is not None:
    st.caption(t("an_withdrawn_line", lang, who=info.withdrawn_by,
                 at=dates.moment(info.withdrawn_at, lang), reason=info.withdrawal_reason))
if card.warnings:
    # Every warning is on the page: the first ones in the box, the rest (often one per small
    # subgroup) one click away, so the box stays readable.
    first, rest = card.warnings[:3], card.warnings[3:]
    st.warning(f"**{t('an_card_warnings', lang)} ({len(card.warnings)})**\n\n"
               + "\n".join(f"- {warning_text(w)}" for w in first), icon=":material/warning:")
    if rest:
        with st.expander(t("an_more_warnings", lang, n=len(rest)), expanded=False):
            st.markdown("\n".join(f"- {warning_text(w)}" for w in rest))
st.markdown(f"**{t('an_data_window', lang)}:** {card.data_window[0]} – {card.data_window[1]}")
c2, c3, c4, c5 = st.columns(4)
c2.metric(t("an_participants", lang), card.n)
c3.metric(t("an_events", lang), card.events)
c4.metric(t("an_censored", lang), card.censored)
c5.metric(t("an_epv", lang), fmt(card.epv, 1))
if card.epv is not None and card.epv < 10:
    st.warning(t("an_epv_warning", lang, epv=fmt(card.epv, 1)))

st.subheader(t("an_metrics", lang))
metrics = card.metrics_table
st.dataframe(pd.DataFrame({
    t("an_metric", lang): [t("an_m_" + m, lang) if "an_m_" + m in TEXT else m
                           for m in metrics.index],
    t("an_estimate", lang): metrics["estimate"].map(fmt).to_numpy(),
    t("an_ci_lower", lang): metrics["ci_lower"].map(fmt).to_numpy(),
    t("an_ci_upper", lang): metrics["ci_upper"].map(fmt).to_numpy(),
}), hide_index=True, key="an_metrics_table")

if calibration is None:
    st.info(t("an_cal_missing", lang))
else:
    fig = calibration.plot()
    fig.data[0].name = t("an_cal_perfect", lang)
    fig.data[1].name = t("an_cal_observed", lang)
    fig.data[1].hovertemplate = t("an_cal_hover", lang)
    fig.update_layout(title=t("an_calibration_title", lang), template="plotly_white",
                      xaxis_title=t("an_cal_x", lang, h=f"{card.horizon:g}"),
                      yaxis_title=t("an_cal_y", lang), height=460)
    st.plotly_chart(fig, key="an_calibration_chart")

st.subheader(t("an_fairness", lang))
if card.threshold is not None:
    st.caption(t("an_threshold", lang, cut=f"{card.threshold:.1%}") + " "
               + t("an_fairness_n_note", lang))
groups_available = [g for g in FAIRNESS_GROUPS if g in card.subgroups]
if groups_available:
    by = st.selectbox(t("an_fairness_by", lang), groups_available, key="an_fairness_by",
                      format_func=lambda g: t("an_group_" + g, lang))
    rows = card.subgroups[by]
    names = [value_label(by, g, lang) for g in rows]
    st.dataframe(pd.DataFrame({
        t("an_group", lang): names,
        # Text: a count the reader may not see is "<10" or "x" (models.service.get_card).
        t("an_participants", lang): [str(r["n"]) for r in rows.values()],
        t("an_events", lang): ["—" if r["events"] is None else str(r["events"])
                               for r in rows.values()],
        t("an_base_rate", lang): [with_ci(r["base_rate"], r["base_rate_ci_lower"],
                                          r["base_rate_ci_upper"]) for r in rows.values()],
        **{t("an_" + m, lang): [with_ci(r[m], r[m + "_ci_lower"], r[m + "_ci_upper"])
                                for r in rows.values()] for m in GROUP_METRICS},
    }), hide_index=True, key="an_fairness_table")
    fig = go.Figure()
    for m in GROUP_METRICS:
        est = [r[m] for r in rows.values()]
        lo = [r[m + "_ci_lower"] for r in rows.values()]
        hi = [r[m + "_ci_upper"] for r in rows.values()]
        fig.add_trace(go.Scatter(
            x=names, y=est, mode="markers", name=t("an_" + m, lang), marker={"size": 10},
            error_y={"type": "data", "symmetric": False,
                     "array": [None if h is None or e is None else h - e for e, h in zip(est, hi)],
                     "arrayminus": [None if lo_ is None or e is None else e - lo_
                                    for e, lo_ in zip(est, lo)]}))
    fig.update_layout(title=t("an_subgroup_title", lang), template="plotly_white",
                      scattermode="group", xaxis_title=t("an_group_" + by, lang),
                      yaxis_title=t("an_value_axis", lang), yaxis_range=[0, 1.02], height=440)
    st.plotly_chart(fig, key="an_subgroup_chart")

st.subheader(t("an_censoring", lang))
st.markdown(localise(card.censoring, lang))
with st.expander(t("an_explanation", lang)):
    st.markdown(localise(card.explanation, lang))
with st.expander(t("an_card_details", lang)):
    st.markdown(f"**{t('an_features', lang)}:** "
                + ", ".join(covariate_label(f, lang) for f in card.features))
    st.markdown(card_settings(card))

# ------------------------------------------------------------------ approval and withdrawal
# Below the card, so that whoever decides has it on the page; the use cases check everything again.
if info.status == vocab.MODEL_DRAFT and access.is_allowed(actor.role, "model.approve"):
    st.subheader(t("an_approve_header", lang))
    if info.blockers:
        st.error(t("an_approve_blocked", lang) + "\n\n"
                 + "\n".join(f"- {localise(b, lang)}" for b in info.blockers))
    else:
        keys = approval.warning_keys(card.warnings)
        with st.form("an_approve_form"):
            st.caption(t("an_approve_ack_note", lang))
            ticked = [key for key, w in zip(keys, card.warnings, strict=True)
                      if st.checkbox(warning_text(w), key=f"an_ack_{key}")]
            reason = st.text_area(t("an_approve_reason", lang), key="an_approve_reason")
            go_ahead = st.form_submit_button(t("an_approve", lang))
        if go_ahead:
            with service_errors(), state.context(actor, "models page: approve") as ctx:
                ms.approve_model(ctx, model_id=chosen, reason=reason, acknowledged=ticked)
                st.toast(t("an_approved", lang, id=chosen))
                st.rerun()
if info.status != vocab.MODEL_WITHDRAWN and access.is_allowed(actor.role, "model.withdraw"):
    with st.expander(t("an_withdraw_header", lang)):
        with st.form("an_withdraw_form"):
            reason = st.text_area(t("an_withdraw_reason", lang), key="an_withdraw_reason")
            withdraw = st.form_submit_button(t("an_withdraw", lang))
        if withdraw:
            ask_to_confirm("an_withdraw", t("an_withdraw_confirm", lang, id=chosen),
                           model_id=chosen, reason=reason)

    def withdraw_model(pending: dict) -> None:
        with state.context(actor, "models page: withdraw") as ctx:
            ms.withdraw_model(ctx, model_id=pending["model_id"], reason=pending["reason"])
        st.toast(t("an_withdrawn", lang, id=pending["model_id"]))

    confirmation("an_withdraw", withdraw_model)
