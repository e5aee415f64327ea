"""The analyst's recidivism page: Kaplan-Meier by group, cumulative incidence by type, the Cox table,
and matrix change and reoffending (the time-varying Cox model per reliable improvement)."""

import math

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import state
from dashboard.components import service_errors
from dashboard.i18n import t
from dashboard.messages import localise
from dashboard.text_analyst import compared_label, covariate_label, covariate_unit, value_label
from errors import ValidationError
from models import service as ms
from models.survival import unbounded_covariates

GROUPINGS = (None, "programme", "completed", "age_band", "offence_group", "sex")
COVARIATES = ("age_at_referral", "prior_offences", "sessions_attended", "completed",
              *(f"offence_{k}" for k in ("illegal_filming", "non_consensual_distribution",
                                         "possession_or_viewing", "sextortion_or_coercion",
                                         "synthetic_sexual_imagery", "grooming")),
              *(f"change_to_last_{d}" for d in ms.DOMAINS))


def fmt(x: float, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return "∞" if x == math.inf else f"{x:.{digits}f}"


def warn_unbounded(summary: pd.DataFrame) -> None:
    """Say which hazard ratios the data cannot bound (quasi-separation), in the reader's words."""
    unbounded = unbounded_covariates(summary)
    if unbounded:
        st.warning(t("an_cox_unbounded", lang,
                     covariates=", ".join(covariate_label(c, lang) for c in unbounded)))


def fmt_p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def relabel(fig: go.Figure, names: dict[str, str]) -> None:
    """Group names in the legend and the number-at-risk rows, in the user's language."""
    for trace in fig.data:
        if trace.mode == "text" and trace.y is not None:
            trace.y = [names.get(str(v), str(v)) for v in trace.y]
        elif trace.name is not None:
            head, _, tail = trace.name.partition(" ")
            if trace.name in names:
                trace.name = names[trace.name]
            elif tail.endswith("CI") and head in names:
                trace.name = f"{names[head]} {tail}"


actor = state.require_page("recidivism.read")
lang = state.lang()
st.title(t("an_recidivism", lang))
st.caption(t("an_pseudonymised_note", lang))

frame = None
with service_errors(), state.context(actor, "recidivism page: analysis frame") as ctx:
    # Read once per session and data version. The survival curves need no matrix scores (reading
    # those is most of the time): only the Cox tab reads the whole frame, when it is opened.
    frame = state.memo(ctx, "analysis_frame_light", lambda: ms.analysis_frame(ctx, matrix=False))
if frame is None:
    st.stop()

# Only the open tab runs (a stateful st.tabs): the Cox model is fitted when its tab is opened.
km_tab, cif_tab, cox_tab, change_tab = state.lazy_tabs(
    [t("an_km_title", lang), t("an_cif_header", lang), t("an_cox_header", lang),
     t("an_change_header", lang)], key="an_tabs")

if km_tab.open:
    with km_tab:
        by = st.selectbox(t("an_km_by", lang), GROUPINGS, key=state.keep("an_km_by"),
                          format_func=lambda g: t("an_group_" + (g or "none"), lang))
        with service_errors(), state.context(actor, "recidivism page: Kaplan-Meier") as ctx:
            km = state.memo(ctx, ("km", by), lambda: ms.km(ctx, by=by, frame=frame))
            groups = km.groups or []
            names = {str(g): value_label(by, g, lang) for g in groups} | {"all": t("an_all", lang)}
            fig = km.plot(time_unit="months", title=t("an_km_title", lang))
            relabel(fig, names)
            fig.update_yaxes(title_text=t("an_km_y", lang), row=1, col=1)
            fig.update_yaxes(title_text=t("an_at_risk", lang), row=2, col=1)
            fig.update_xaxes(title_text=t("an_months_axis", lang), row=2, col=1)
            fig.update_layout(height=560, legend_title_text=t("an_group_" + by, lang) if by else None)
            st.plotly_chart(fig, key="an_km_chart")
            st.caption(t("an_ci_band_note", lang))
            if by is not None:
                if km.logrank is not None:
                    st.markdown(t("an_logrank", lang, stat=f"{km.logrank.statistic:.2f}",
                                  df=km.logrank.df, p=fmt_p(km.logrank.p)))
                else:
                    st.info(t("an_logrank_none", lang))
                medians = km.median
                st.dataframe(pd.DataFrame({
                    t("an_group", lang): [names[str(g)] for g in medians.index],
                    t("an_median", lang): [t("an_not_reached", lang) if math.isinf(v) else f"{v:.0f}"
                                           for v in medians]}), hide_index=True)

if cif_tab.open:
    with cif_tab:
        st.info(t("an_cif_explain", lang))
        with service_errors(), state.context(actor, "recidivism page: cumulative incidence") as ctx:
            cif = state.memo(ctx, "cif", lambda: ms.cumulative_incidence_by_type(ctx, frame=frame))
            codes = {code: value_label("event_type", name, lang)
                     for name, code in ms.EVENT_TYPE_CODES.items()}
            fig = cif.plot(time_unit="months", title=t("an_cif_header", lang), labels=codes)
            fig.update_layout(xaxis_title=t("an_months_axis", lang), yaxis_title=t("an_cif_y", lang),
                              yaxis_tickformat=".0%", height=460)
            st.plotly_chart(fig, key="an_cif_chart")

if cox_tab.open:
    with cox_tab:
        covariates = st.multiselect(t("an_cox_covariates", lang), COVARIATES,
                                    key=state.keep("an_cox_covariates", ["completed"]),
                                    format_func=lambda c: covariate_label(c, lang),
                                    placeholder=t("choose", lang))
        if any(c.startswith("change_") for c in covariates):
            st.caption(t("an_complete_cases_note", lang))
        if not covariates:
            st.info(t("an_cox_choose", lang))
        else:
            with service_errors(), state.context(actor, "recidivism page: Cox") as ctx:
                # The whole frame (with the matrix scores) is read only for a model of changes.
                if any(c.startswith("change_") for c in covariates):
                    frame = state.memo(ctx, "analysis_frame", lambda: ms.analysis_frame(ctx))
                try:
                    cox = state.memo(ctx, ("cox", tuple(covariates)),
                                     lambda: ms.cox_fit(ctx, covariates, complete_cases=True, frame=frame))
                except ValidationError as exc:
                    if exc.code != "models.event_covariate_least_needed":
                        raise
                    # The reader's choice asks more of the data than it has: say what to change.
                    st.warning(t("an_cox_too_few", lang, **exc.params))
                    cox = None
                if cox is not None:
                    summary = cox.summary
                    labels = [covariate_label(c, lang) for c in summary.index]
                    c1, c2, c3 = st.columns(3)
                    c1.metric(t("an_n_used", lang), cox.n)
                    c2.metric(t("an_n_events", lang), cox.n_events)
                    c3.metric(t("an_concordance", lang), f"{cox.concordance:.3f}")
                    lr = cox.log_likelihood_ratio_test
                    st.caption(t("an_lr_test", lang, stat=f"{lr.statistic:.2f}", df=lr.df, p=fmt_p(lr.p)))
                    warn_unbounded(summary)
                    forest = cox.plot(labels={c: compared_label(c, lang) for c in summary.index},
                                      title=t("an_forest_title", lang))
                    forest.update_traces(name=t("an_hr", lang))
                    forest.update_layout(xaxis_title=t("an_hr_axis", lang))
                    st.plotly_chart(forest, key="an_forest_chart")
                    st.caption(t("an_forest_note", lang))
                    st.dataframe(pd.DataFrame({
                        t("an_covariate", lang): labels,
                        t("an_hr_compare", lang): [covariate_unit(c, lang) for c in summary.index],
                        t("an_coef", lang): summary["coef"].map(fmt).to_numpy(),
                        t("an_se", lang): summary["se"].map(fmt).to_numpy(),
                        t("an_hr", lang): summary["hazard_ratio"].map(fmt).to_numpy(),
                        t("an_ci_lower", lang): summary["hr_ci_lower"].map(fmt).to_numpy(),
                        t("an_ci_upper", lang): summary["hr_ci_upper"].map(fmt).to_numpy(),
                        t("an_z", lang): summary["z"].map(lambda v: fmt(v, 2)).to_numpy(),
                        t("an_p", lang): summary["p"].map(fmt_p).to_numpy(),
                    }), hide_index=True, key="an_cox_table")
                    st.markdown(f"**{t('an_ph_test', lang)}**")
                    ph = cox.ph_test()
                    st.dataframe(pd.DataFrame({
                        t("an_covariate", lang): [(t("an_ph_global", lang) if c == "GLOBAL" else covariate_label(c, lang))
                                                  for c in ph.index],
                        t("an_statistic", lang): ph["statistic"].map(lambda v: fmt(v, 2)).to_numpy(),
                        t("an_df", lang): ph["df"].to_numpy(),
                        t("an_p", lang): ph["p"].map(lambda v: "—" if math.isnan(v) else fmt_p(v)).to_numpy(),
                    }), hide_index=True, key="an_ph_table")
                    if (ph["p"] < 0.05).any():
                        st.warning(t("an_ph_violated", lang))


if change_tab.open:
    with change_tab:
        # The caveat first: the table is an association, never the effect of improving.
        st.info(t("an_change_intro", lang))
        with service_errors(), state.context(actor, "recidivism page: change and reoffending") as ctx:
            try:
                result = state.memo(ctx, "change_cox", lambda: ms.change_on_recidivism(ctx))
            except ValidationError as exc:
                if exc.code != "models.event_covariate_least_needed":
                    raise
                # Not a mistake of the reader's: the programme has too few events so far.
                st.info(t("an_change_too_few", lang, **exc.params))
                st.stop()  # the last part of the page
            st.warning(localise(result.caveat, lang), icon=":material/info:")
            for note in result.warnings:
                st.warning(localise(note, lang))
            c1, c2, c3, c4 = st.columns(4)
            c1.metric(t("an_n_used", lang), result.n_ids)
            c2.metric(t("an_n_events", lang), result.n_events)
            c3.metric(t("an_epv", lang), f"{result.epv:.1f}")
            c4.metric(t("an_change_dropped", lang), result.dropped)
            table = result.table()
            labels = [covariate_label(c, lang) for c in table["covariate"]]
            warn_unbounded(result.summary)
            forest = result.plot(labels={c: compared_label(c, lang) for c in table["covariate"]},
                                 title=t("an_change_forest_title", lang))
            forest.update_traces(name=t("an_hr", lang))
            forest.update_layout(xaxis_title=t("an_hr_axis", lang))
            st.plotly_chart(forest, key="an_change_chart")
            st.dataframe(pd.DataFrame({
                t("an_covariate", lang): labels,
                t("an_hr", lang): table["hazard_ratio"].map(fmt).to_numpy(),
                t("an_ci_lower", lang): table["hr_ci_lower"].map(fmt).to_numpy(),
                t("an_ci_upper", lang): table["hr_ci_upper"].map(fmt).to_numpy(),
                t("an_p", lang): table["p"].map(fmt_p).to_numpy(),
                t("an_change_ph_p", lang): table["ph_p"].map(
                    lambda v: "—" if math.isnan(v) else fmt_p(v)).to_numpy(),
            }), hide_index=True, key="an_change_table")
            glob = result.ph_test.loc["GLOBAL"]
            st.caption(t("an_change_ph_global", lang, stat=f"{glob['statistic']:.2f}",
                         df=int(glob["df"]), p=fmt_p(glob["p"])))
            st.caption(t("an_change_units", lang, **{
                d: fmt(v, 2) for d, v in (("gs", result.reliable_change["gender_sensitivity"]),
                                          ("ge", result.reliable_change["gender_equality"]),
                                          ("dsc", result.reliable_change[
                                              "digital_sex_crime_understanding"]))}))
