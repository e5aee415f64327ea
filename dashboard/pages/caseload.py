"""A counselor's caseload: what is due next for each young person, and what is done, at a glance."""

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from assessment.instruments import default_instruments
from dashboard import dates, state
from dashboard.components import service_errors
from dashboard.counselor import stage_label, status_label
from dashboard.i18n import t
from matrix import completion
from matrix import service as matrix_service
from matrix.stages import STAGES

# One colour per completion status, in the legend's order: grey to start, warm while being
# written, greens as the work moves on, a muted grey for skipped and red for overdue.
COLOURS = {
    "not_started": "#e8e8e8", "draft": "#f6c85f", "final": "#9fd8a4", "submitted": "#5bb974",
    "reviewed": "#2e8b57", "signed": "#1f5f3f", "skipped": "#b0b7c3", "overdue": "#d64541",
}

actor = state.require_page("participant.identify")
lang = state.lang()
st.title(t("caseload", lang))
today = None
overview = None
with service_errors(), state.context(actor, "caseload page") as ctx:
    today = ctx.today
    overview = matrix_service.caseload_overview(ctx, ctx.today)
if overview is None:
    st.stop()
people = overview.participants
if people.empty:
    st.info(t("no_caseload", lang))
    st.stop()

# --- next step for each participant ---------------------------------------------------------
st.subheader(t("co_cl_overview", lang))
late = int((people["overdue_steps"] > 0).sum())
if late:
    st.warning(t("co_cl_n_overdue", lang, n=late))
order = people.assign(_active=people["status"] != "active").sort_values(
    ["_active", "days_overdue", "next_due"], ascending=[True, False, True])


def _mark(row) -> str:
    if row.overdue_steps:
        return t("co_cl_overdue_mark", lang, n=row.overdue_steps, days=row.days_overdue)
    return ""


table = pd.DataFrame({
    t("study_code", lang): order["study_code"],
    t("status", lang): [t("status_" + s, lang) for s in order["status"]],
    t("co_cl_next_stage", lang): [stage_label(s, lang) if isinstance(s, str) else "" for s in order["next_stage"]],
    t("co_cl_next_due", lang): list(order["next_due"]),
    t("co_cl_overdue", lang): [_mark(r) for r in order.itertuples()],
    t("co_cl_last_session", lang): list(order["last_session"]),
    t("programme", lang): order["programme"],
    t("cohort", lang): order["cohort"],
    t("enrolled_on", lang): list(order["enrolled_on"]),
})
# Dates stay dates, so the columns sort by date (the reader's format is column_config's).
st.dataframe(table, hide_index=True, key="co_cl_table", column_config=dates.date_columns(
    [t(k, lang) for k in ("co_cl_next_due", "co_cl_last_session", "enrolled_on")], lang))

# Open one participant on the matrix page (the id stays on the server).
with st.form("co_cl_open_form"):
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    codes = list(order["study_code"])
    chosen = c1.selectbox(t("co_cl_open", lang), codes, key="co_cl_code")
    go_matrix = c2.form_submit_button(t("co_cl_open_matrix", lang))
if go_matrix and chosen:
    st.session_state["current_code"] = chosen
    st.switch_page("pages/matrix.py")

# --- completion matrix (REDCap's record status dashboard) -----------------------------------
st.subheader(t("co_cl_completion", lang))
show = st.segmented_control(t("co_cl_show", lang), ["active", "all"], default="active",
                            format_func=lambda v: t("co_cl_show_" + v, lang), key="co_cl_show")
cells = overview.cells
if show != "all":
    cells = cells[cells["participant_id"].isin(people.loc[people["status"] == "active", "participant_id"])]
if cells.empty:
    st.info(t("co_cl_none_shown", lang))
    st.stop()
insts = default_instruments()
# Self-reports first, the counselor's rating last, in each step.
inst_order = sorted(insts, key=lambda i: (insts[i].kind != "self_report", i))
columns = [(s, i) for s in STAGES for i in inst_order if s in insts[i].stages]
column_names = [f"{stage_label(s, lang, short=True)} · {i}" for s, i in columns]
rows = list(order.loc[order["participant_id"].isin(cells["participant_id"]), "study_code"])
code_of_status = {s: k for k, s in enumerate(completion.CELL_STATUSES)}
grid = (cells.assign(col=[f"{stage_label(s, lang, short=True)} · {i}"
                          for s, i in zip(cells["stage"], cells["instrument_id"], strict=True)],
                     z=cells["status"].map(code_of_status))
        .pivot_table(index="study_code", columns="col", values="z", aggfunc="first")
        .reindex(index=rows, columns=column_names))
labels = grid.map(lambda v: "" if pd.isna(v) else status_label(completion.CELL_STATUSES[int(v)], lang))
n = len(completion.CELL_STATUSES)
# A discrete colour scale: each status owns an equal band of z.
scale = []
for k, status in enumerate(completion.CELL_STATUSES):
    scale += [[k / n, COLOURS[status]], [(k + 1) / n, COLOURS[status]]]
fig = go.Figure(go.Heatmap(
    z=grid.values, x=column_names, y=rows, zmin=-0.5, zmax=n - 0.5, colorscale=scale,
    xgap=2, ygap=2, customdata=labels.values, showscale=False,
    hovertemplate="%{y}<br>%{x}<br>%{customdata}<extra></extra>"))
# The legend: one empty trace per status, drawn as a coloured square.
for status in completion.CELL_STATUSES:
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=status_label(status, lang),
                             marker={"symbol": "square", "size": 14, "color": COLOURS[status],
                                     "line": {"width": 1, "color": "#999"}}))
fig.update_layout(
    title=f"{t('co_cl_completion', lang)} · {dates.day(today, lang)}",
    xaxis_title=t("co_cl_axis_cells", lang), yaxis_title=t("study_code", lang),
    yaxis={"autorange": "reversed", "type": "category"}, xaxis={"side": "top", "type": "category"},
    height=max(360, 200 + 24 * len(rows)), margin={"t": 140},
    legend={"title": {"text": t("co_cl_legend", lang)}, "orientation": "h", "y": -0.02,
            "yanchor": "top", "x": 0})
st.plotly_chart(fig, key="co_cl_heatmap")
