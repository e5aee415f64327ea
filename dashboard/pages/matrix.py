"""One young person's three-step matrix: steps and their actions, scores, change, goals, risk."""

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
import streamlit as st

from assessment.instruments import DOMAIN_LABELS, get_instrument
from dashboard import dates, state
from dashboard.components import ask_to_confirm, confirmation, service_errors
from dashboard.counselor import caseload_codes, choose_participant, stage_label, status_label
from dashboard.i18n import label, t
from dashboard.messages import localise
from db import access
from matrix import service as matrix_service
from matrix import stages
from models import service as model_service

# Actions that lock, undo or close a step: confirmed in a dialog before they are taken (starting
# a step only opens it for rating).
CONFIRMED = tuple(a for a in stages.ACTIONS if a != "start")

actor = state.require_page("assessment.read")
lang = state.lang()
st.title(t("co_matrix", lang))

if not access.is_allowed(actor.role, "assessment.record"):
    st.caption(t("sv_review_mode", lang))

codes = caseload_codes(actor, "matrix page")
chosen = choose_participant(codes, "co_mx_code")
if chosen is None:
    st.stop()
code, pid = chosen

matrix = None
with service_errors(), state.context(actor, "matrix page") as ctx:
    today = ctx.today
    matrix = matrix_service.participant_matrix(ctx, pid)
if matrix is None:
    st.stop()


CHANGE_COLOURS = {"start": "#ffffff", "recovered": "#1f5f3f", "improved": "#5bb974",
                  "unchanged": "#b0b7c3", "deteriorated": "#d64541"}
CHANGE_NAMES = {k: (t("co_mx_first_score", lang) if k == "start" else t("co_ch_" + k, lang))
                for k in CHANGE_COLOURS}


def domain_label(domain: str, kind: str = "self_report") -> str:
    ko, en = DOMAIN_LABELS.get(domain, (domain, domain))
    text = ko if lang == "ko" else en
    return f"{text} {t('co_mx_rating_suffix', lang)}" if kind == "counselor_rating" else text


# --- steps ------------------------------------------------------------------------------------
st.subheader(t("co_mx_steps", lang))
steps = matrix.steps.set_index("stage")
status_of = {s: (steps.at[s, "status"] if s in steps.index else stages.NOT_STARTED) for s in stages.STAGES}
due = [{"participant": pid, "stage": s, "status": status_of[s], "due_on": steps.at[s, "due_date"]}
       for s in stages.STAGES if s in steps.index and pd.notna(steps.at[s, "due_date"])]
late = stages.overdue(pd.DataFrame(due), today) if due else pd.DataFrame(columns=["stage", "days_overdue"])
late_days = dict(zip(late["stage"], late["days_overdue"], strict=True))
st.dataframe(pd.DataFrame([{
    t("co_mx_step", lang): stage_label(s, lang),
    t("status", lang): status_label(status_of[s], lang),
    t("co_mx_version", lang): str(int(steps.at[s, "step_version"])) if s in steps.index else "",
    t("co_mx_due", lang): (steps.at[s, "due_date"]
                           if s in steps.index and pd.notna(steps.at[s, "due_date"]) else None),
    t("co_cl_overdue", lang): (t("co_cl_overdue_mark", lang, n=1, days=late_days[s]) if s in late_days else ""),
    t("co_mx_skip_reason", lang): (label("co_skip_", steps.at[s, "skip_reason"], lang)
                                   if s in steps.index and steps.at[s, "skip_reason"] else ""),
} for s in stages.STAGES]), hide_index=True, key="co_mx_steps_table",
    column_config=dates.date_columns([t("co_mx_due", lang)], lang))


def take_step(step: dict) -> None:
    with state.context(actor, f"matrix page: {step['action']} {step['stage']}") as ctx:
        view = matrix_service.step_action(ctx, participant_id=step["pid"], stage=step["stage"],
                                          action=step["action"], reason=step["reason"],
                                          expected_version=step["version"])
    st.toast(t("co_mx_done", lang, stage=stage_label(step["stage"], lang),
               status=status_label(view.status, lang)))
    st.session_state.pop("co_mx_act_reason", None)


# --- step actions -----------------------------------------------------------------------------
st.subheader(t("co_mx_actions", lang))
c1, c2 = st.columns(2)
# The status is in the table above, not in the choice: a select box keeps the label it showed first.
act_stage = c1.selectbox(t("co_mx_step", lang), stages.STAGES, key="co_mx_act_stage",
                         format_func=lambda s: stage_label(s, lang))
possible = [a for a, (sources, _to) in stages.TRANSITIONS.items()
            if status_of[act_stage] in sources
            and access.is_allowed(actor.role, matrix_service.STEP_PERMISSIONS[a])]
if not possible:
    st.caption(t("co_mx_no_action", lang))
else:
    action = c2.selectbox(t("co_mx_action", lang), possible, key="co_mx_act_action",
                          format_func=lambda a: t("co_act_" + a, lang))
    with st.form("co_mx_act_form"):
        reason = None
        if action == "skip":
            reason = st.selectbox(t("co_mx_reason", lang), stages.SKIP_REASONS, key="co_mx_act_skip",
                                  format_func=lambda r: t("co_skip_" + r, lang))
        elif action in stages.REASON_REQUIRED:
            reason = st.text_input(t("co_mx_reason", lang), key="co_mx_act_reason")
        take = st.form_submit_button(t("co_act_" + action, lang))
    if take:
        version = int(steps.at[act_stage, "version"]) if act_stage in steps.index else None
        step = dict(pid=pid, stage=act_stage, action=action, reason=reason, version=version)
        if action in CONFIRMED:
            shown_reason = (label("co_skip_", reason, lang) if action == "skip" else reason) or ""
            ask_to_confirm("co_mx_act", t("co_mx_confirm_what", lang, code=code,
                                          stage=stage_label(act_stage, lang),
                                          action=t("co_act_" + action, lang),
                                          status=status_label(stages.TRANSITIONS[action][1], lang),
                                          reason=shown_reason or "-"), **step)
        else:
            with service_errors():
                take_step(step)
                st.rerun()


confirmation("co_mx_act", take_step)

# --- the matrix as a heatmap: steps x domains ---------------------------------------------------
st.subheader(t("co_mx_heatmap", lang))
cells = matrix.cells
if cells.empty:
    st.info(t("co_mx_no_scores", lang))
else:
    # Colour by the place of the score in its instrument's range, so that a summed scale and a
    # 1-5 mean read alike; the number shown is the score itself.
    def share(row) -> float:
        lo, hi = get_instrument(row.instrument_id, int(row.instrument_version)).score_range(row.domain)
        return 100 * (row.score - lo) / (hi - lo)

    shown = cells.assign(
        col=[domain_label(d, k) for d, k in zip(cells["domain"], cells["kind"], strict=True)],
        share=[share(r) for r in cells.itertuples()],
        row=[stage_label(s, lang, short=True) for s in cells["stage"]])
    col_order = list(dict.fromkeys(shown.sort_values("kind", ascending=False)["col"]))
    row_order = [stage_label(s, lang, short=True) for s in stages.STAGES]
    z = shown.pivot_table(index="row", columns="col", values="share", aggfunc="first").reindex(
        index=row_order, columns=col_order)
    text = shown.pivot_table(index="row", columns="col", values="score", aggfunc="first").reindex(
        index=row_order, columns=col_order).map(lambda v: "" if pd.isna(v) else f"{v:.1f}")
    fig = go.Figure(go.Heatmap(
        z=z.values, x=col_order, y=row_order, text=text.values, texttemplate="%{text}",
        zmin=0, zmax=100, colorscale="Blues", xgap=2, ygap=2,
        colorbar={"title": {"text": t("co_mx_share", lang)}},
        hovertemplate="%{y} · %{x}<br>" + t("co_mx_score", lang) + " %{text}<extra></extra>"))
    fig.update_layout(title=f"{t('co_mx_heatmap', lang)} · {code}", xaxis_title=t("co_mx_domain", lang),
                      yaxis_title=t("co_mx_step", lang), yaxis={"autorange": "reversed"}, height=360)
    st.plotly_chart(fig, key="co_mx_heatmap")

    # --- change per domain, with the RCI class of each consecutive pair ------------------------
    st.subheader(t("co_mx_change", lang))
    change = matrix.change
    consecutive = change[change["from_step"].map(stages.STAGES.index) + 1
                         == change["to_step"].map(stages.STAGES.index)]
    cls = {(r.domain, r.to_step): r.change for r in consecutive.itertuples()}
    # The conclusion point says what the programme changed: the planning -> conclusion class, as
    # the table's row of that pair reports it (not the last step's alone).
    overall = change[(change["from_step"] == stages.STAGES[0]) & (change["to_step"] == stages.STAGES[-1])]
    cls.update({(r.domain, r.to_step): r.change for r in overall.itertuples()})
    # One small panel per domain, each on its instrument's whole score range (a zoomed axis draws
    # 4.33 -> 3.92 -> 4.42 as a deep V); each point after the first is coloured by the Reliable
    # Change class that reaches it, and the legend names the classes.
    n_cols = 3
    n_rows = -(-len(col_order) // n_cols)
    chart = make_subplots(rows=n_rows, cols=n_cols, subplot_titles=col_order, vertical_spacing=0.18)
    legend_done = set()
    for k, col in enumerate(col_order):
        part = shown[shown["col"] == col].assign(order=lambda f: f["stage"].map(stages.STAGES.index))
        part = part.sort_values("order")
        where = {"row": k // n_cols + 1, "col": k % n_cols + 1}
        chart.add_trace(go.Scatter(x=part["row"], y=part["score"], mode="lines", showlegend=False,
                                   line={"color": "#8a9bb0"}, hoverinfo="skip"), **where)
        for stage, x, y, domain in zip(part["stage"], part["row"], part["score"], part["domain"], strict=True):
            klass = cls.get((domain, stage), "start")
            chart.add_trace(go.Scatter(
                x=[x], y=[y], mode="markers", name=CHANGE_NAMES[klass], legendgroup=klass,
                showlegend=klass not in legend_done,
                marker={"size": 11, "color": CHANGE_COLOURS[klass], "line": {"width": 1, "color": "#333"}},
                hovertemplate=f"{col}<br>%{{x}}: %{{y:.1f}}<br>{CHANGE_NAMES[klass]}<extra></extra>"), **where)
            legend_done.add(klass)
        chart.update_xaxes(categoryorder="array", categoryarray=row_order, **where)
        first = part.iloc[0]
        lo, hi = get_instrument(first.instrument_id, int(first.instrument_version)).score_range(first.domain)
        pad = (hi - lo) * 0.05
        chart.update_yaxes(range=[lo - pad, hi + pad], **where)
    chart.update_xaxes(title_text=t("co_mx_step", lang), row=n_rows)
    chart.update_yaxes(title_text=t("co_mx_score", lang), col=1)
    chart.update_layout(title=f"{t('co_mx_change', lang)} · {code}", height=300 * n_rows + 120,
                        legend={"title": {"text": t("co_mx_class", lang)}, "orientation": "h",
                                "y": -0.12, "yanchor": "top", "x": 0})
    st.plotly_chart(chart, key="co_mx_change_chart")
    if change.empty:
        st.caption(t("co_mx_change_none", lang))
    else:
        kind_of = dict(zip(cells["domain"], cells["kind"], strict=False))
        st.dataframe(pd.DataFrame({
            t("co_mx_domain", lang): [domain_label(d, kind_of.get(d, "self_report")) for d in change["domain"]],
            t("co_mx_from", lang): [stage_label(s, lang, short=True) for s in change["from_step"]],
            t("co_mx_to", lang): [stage_label(s, lang, short=True) for s in change["to_step"]],
            t("co_mx_pre", lang): change["pre"].round(2),
            t("co_mx_post", lang): change["post"].round(2),
            "RCI": change["rci"].round(2),
            t("co_mx_class", lang): [t("co_ch_" + c, lang) for c in change["change"]],
        }), hide_index=True, key="co_mx_change_table")

# --- goals and their reviews ----------------------------------------------------------------------
st.subheader(t("co_mx_goals", lang))
goals, reviews = matrix.goals, matrix.goal_reviews
if goals.empty:
    st.caption(t("co_mx_no_goals", lang))
else:
    progress = {(r.goal_id, r.stage): r.progress for r in reviews.itertuples()}
    st.dataframe(pd.DataFrame({
        t("co_mx_goal", lang): goals["text"],
        t("co_mx_set_on", lang): goals["set_on"],
        **{stage_label(s, lang, short=True): [progress.get((g, s)) for g in goals["goal_id"]]
           for s in ("midterm", "conclusion")},
    }), hide_index=True, key="co_mx_goals_table",
        column_config=dates.date_columns([t("co_mx_set_on", lang)], lang))

# A supervisor reads and reviews the matrix; goals are the counselor's to set and review.
edits = access.is_allowed(actor.role, "assessment.record")
if edits and status_of["planning"] == stages.DRAFT:
    with st.form("co_mx_goal_form"):
        goal_text = st.text_area(t("co_mx_goal_text", lang), key="co_mx_goal_text")
        set_it = st.form_submit_button(t("co_mx_set_goal", lang))
    if set_it:
        with service_errors(), state.context(actor, "matrix page: set goal") as ctx:
            matrix_service.set_goal(ctx, participant_id=pid, text=goal_text, set_on=ctx.today)
            del st.session_state["co_mx_goal_text"]
            st.toast(t("saved", lang))
            st.rerun()
elif edits:
    st.caption(t("co_mx_goal_when", lang))

review_stages = [s for s in ("midterm", "conclusion") if edits and status_of[s] == stages.DRAFT]
if not goals.empty and review_stages:
    goal_names = dict(zip(goals["goal_id"], goals["text"], strict=True))
    with st.form("co_mx_review_form"):
        c1, c2 = st.columns(2)
        goal_id = c1.selectbox(t("co_mx_goal", lang), list(goal_names), format_func=goal_names.get,
                               key="co_mx_rv_goal")
        rv_stage = c2.selectbox(t("co_mx_step", lang), review_stages, key="co_mx_rv_stage",
                                format_func=lambda s: stage_label(s, lang))
        rv_progress = st.select_slider(t("co_mx_progress", lang), options=[1, 2, 3, 4, 5], value=3,
                                       key="co_mx_rv_progress")
        rv_note = st.text_input(t("co_mx_note", lang), key="co_mx_rv_note")
        review = st.form_submit_button(t("co_mx_review_goal", lang))
    if review:
        current = reviews[(reviews["goal_id"] == goal_id) & (reviews["stage"] == rv_stage)]
        expected = int(current["version"].iloc[0]) if not current.empty else None
        with service_errors(), state.context(actor, "matrix page: review goal") as ctx:
            matrix_service.review_goal(ctx, goal_id=int(goal_id), stage=rv_stage, progress=int(rv_progress),
                                       note=rv_note or None, expected_version=expected)
            st.toast(t("saved", lang))
            st.rerun()
elif edits and not goals.empty:
    st.caption(t("co_mx_review_when", lang))

# --- recidivism risk ---------------------------------------------------------------------------------
if access.is_allowed(actor.role, "model.read"):
    st.subheader(t("co_risk", lang))
if access.is_allowed(actor.role, "model.read") and st.toggle(t("co_risk_show", lang), key="co_risk_show"):
    with service_errors(), state.context(actor, "matrix page: risk") as ctx:
        # Only the newest approved model of the landmark this young person reached, or none.
        shown = model_service.current_risk(ctx, pid)
        if shown.prediction is None:
            st.info(localise(shown.note, lang))
        else:
            p = shown.prediction
            c1, c2 = st.columns([1, 2])
            c1.metric(t("co_risk_value", lang, days=p.horizon_days), f"{p.risk:.1%}")
            c1.caption(f"{t('co_risk_model', lang)}: {p.model_label}")
            c1.caption(t("co_risk_landmark", lang, landmark=t("co_risk_landmark_" + p.landmark, lang)))
            c1.caption(t("co_risk_approved", lang, who=p.approved_by,
                         at=dates.moment(p.approved_at, lang)))
            auc = p.metrics.get("auc") or {}
            if auc.get("estimate") is not None:
                c1.caption(t("co_risk_auc", lang, est=f"{auc['estimate']:.2f}",
                             lo=f"{auc['ci_lower']:.2f}" if auc.get("ci_lower") is not None else "?",
                             hi=f"{auc['ci_upper']:.2f}" if auc.get("ci_upper") is not None else "?"))
            c1.caption(t("co_risk_caution", lang))
            top = p.contributions.head(5).iloc[::-1]
            names = [label("co_feat_", f, lang) for f in top["feature"]]
            bar = go.Figure(go.Bar(x=top["contribution"], y=names, orientation="h",
                                   marker_color=["#d64541" if v > 0 else "#2e8b57" for v in top["contribution"]],
                                   text=[str(v) for v in top["value"]], textposition="auto"))
            bar.update_layout(title=t("co_risk_contrib", lang), xaxis_title=t("co_risk_contribution", lang),
                              yaxis_title=t("co_risk_feature", lang), height=320)
            c2.plotly_chart(bar, key="co_risk_bar")
            if p.warnings:
                with st.expander(t("co_risk_warnings", lang, n=len(p.warnings))):
                    for w in p.warnings:
                        st.caption(localise(w, lang))
