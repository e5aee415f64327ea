"""Cohort explorer and follow-up: the pseudonymised analysis frame, its export, and recording
follow-up windows, reoffences and decisions on proposals from detection."""

import datetime as dt

import pandas as pd
import streamlit as st

from db.context import local_today
from dashboard import dates, state
from dashboard.components import download, find_codes, paged, service_errors
from dashboard.i18n import t
from dashboard.text_analyst import value_label
from db import access
from exports import service as exports
from db.schema import RECIDIVISM_SOURCES, RECIDIVISM_TYPES
from errors import ValidationError
from models import service as ms

FILTERS = ("programme", "cohort", "age_band", "offence_group", "completed")
SHOWN = ("study_code", "programme", "cohort", "sex", "age_band", "offence_group", "completed",
         "sessions_attended", "follow_up_start", "follow_up_end", "duration", "event",
         "first_event_type")
COLUMN_KEYS = {"study_code": "study_code", "programme": "programme", "cohort": "cohort",
               "sex": "an_group_sex", "age_band": "an_group_age_band",
               "offence_group": "an_group_offence_group", "completed": "an_group_completed",
               "sessions_attended": "an_col_sessions_attended",
               "follow_up_start": "an_col_follow_up_start", "follow_up_end": "an_col_follow_up_end",
               "duration": "an_col_duration", "event": "an_col_event",
               "first_event_type": "an_col_first_event_type", "status": "status",
               "ended_on": "an_col_ended_on", "events_recorded": "an_col_events_recorded"}
MANUAL_SOURCES = tuple(s for s in RECIDIVISM_SOURCES if s != "detection_flag")


def shown(frame: pd.DataFrame, columns) -> pd.DataFrame:
    """Columns renamed and coded values labelled in the user's language (display only)."""
    out = frame[list(columns)].copy()
    for col in ("sex", "age_band", "offence_group", "completed", "first_event_type", "status"):
        if col in out:
            # Label each distinct value once: thousands of rows share a handful of codes.
            names = {v: value_label(col, v, lang) for v in out[col].dropna().unique()}
            out[col] = out[col].map(names).astype(object).where(out[col].notna(), None)
    return out.rename(columns={c: t(COLUMN_KEYS[c], lang) for c in out.columns})


actor = state.require_page("recidivism.read")
lang = state.lang()
st.title(t("an_cohort", lang))
st.caption(t("an_pseudonymised_note", lang))

# ------------------------------------------------------------------ the analysis frame
frame = None
with service_errors(), state.context(actor, "cohort page: frame") as ctx:
    # The rows shown need no matrix scores; the export reads the whole frame when asked for.
    frame = state.memo(ctx, "analysis_frame_light", lambda: ms.analysis_frame(ctx, matrix=False))

if frame is not None:
    st.subheader(t("an_filters", lang))
    chosen: dict[str, list] = {}
    cols = st.columns(len(FILTERS))
    for col, name in zip(cols, FILTERS, strict=True):
        options = sorted(frame[name].dropna().unique().tolist(), key=str)
        chosen[name] = col.multiselect(t("an_group_" + name, lang), options,
                                       key=state.keep(f"an_f_{name}"),
                                       format_func=lambda v, n=name: value_label(n, v, lang),
                                       placeholder=t("an_f_all", lang))
    keep = pd.Series(True, index=frame.index)
    for name, values in chosen.items():
        if values:
            keep &= frame[name].isin(values)
    rows = frame[keep]

    c1, c2, c3, c4 = st.columns(4)
    c1.metric(t("an_count_participants", lang), len(rows))
    c2.metric(t("an_count_events", lang), int(rows["event"].sum()))
    c3.metric(t("an_count_completed", lang), int(rows["completed"].sum()))
    c4.metric(t("an_count_not_completed", lang), int(len(rows) - rows["completed"].sum()))

    st.subheader(t("an_frame_table", lang))
    if rows.empty:
        st.info(t("an_no_rows", lang))
    else:
        st.dataframe(paged(shown(rows, SHOWN), "an_frame"), hide_index=True, key="an_frame_table",
                     column_config=dates.date_columns(
                         [t(COLUMN_KEYS[c], lang) for c in ("follow_up_start", "follow_up_end")], lang))

    if access.is_allowed(actor.role, "export.pseudonymised"):
        st.subheader(t("an_export", lang))
        st.caption(t("an_export_note", lang))
        filters = {k: [str(v) for v in vals] for k, vals in chosen.items() if vals}
        # A file prepared for other filters is not offered for these.
        if st.session_state.get("an_frame_filters") != filters:
            st.session_state.pop("file_an_frame", None)
            st.session_state["an_frame_filters"] = filters

        def make(purpose: str) -> exports.Export:
            with state.context(actor, "cohort page: export") as ctx:
                return exports.cohort_rows(ctx, purpose=purpose,
                                           study_codes=list(rows["study_code"]), filters=filters)

        download("an_download", "an_frame", make)

# ------------------------------------------------------------------ follow-up windows and events
st.divider()
with state.context(actor, "cohort page: follow-up register") as ctx:
    register = ms.follow_up_register(ctx)
# Record ids stay on the server: the browser only ever sees study codes.
ids = dict(zip(register["study_code"], register["participant_id"], strict=True))
by_code = register.set_index("study_code")


def window_defaults(code: str) -> None:
    """A newly chosen study code starts the form from its window (or its programme end)."""
    row = by_code.loc[code]
    start = row["follow_up_start"] if pd.notna(row["follow_up_start"]) else row["ended_on"]
    st.session_state["an_fu_start"] = start
    st.session_state["an_fu_end"] = (row["follow_up_end"] if pd.notna(row["follow_up_end"])
                                     else local_today())
    st.session_state["an_fu_defaults_for"] = code


def follow_up_form() -> None:
    codes = find_codes(list(by_code.index), "an_fu_find")
    if not codes:
        st.info(t("an_no_code_found", lang))
        return
    code = st.selectbox(t("study_code", lang), codes, key="an_fu_code")
    # A code newly chosen, or brought in by a search, starts from its own window.
    if st.session_state.get("an_fu_defaults_for") != code:
        window_defaults(code)
    row = by_code.loc[code]
    if pd.notna(row["follow_up_start"]):
        st.caption(t("an_fu_current", lang, start=row["follow_up_start"], end=row["follow_up_end"]))
    else:
        st.caption(t("an_fu_none", lang, ended=row["ended_on"]))
    with st.form("an_followup_form"):
        c1, c2 = st.columns(2)
        start = c1.date_input(t("an_fu_start", lang), min_value=dt.date(2000, 1, 1),
                              key="an_fu_start", format=dates.INPUT_FORMAT[lang])
        end = c2.date_input(t("an_fu_end", lang), min_value=dt.date(2000, 1, 1), key="an_fu_end",
                            format=dates.INPUT_FORMAT[lang])
        save_fu = st.form_submit_button(t("save", lang))
    if save_fu:
        with service_errors(), state.context(actor, "cohort page: record follow-up") as ctx:
            ms.record_follow_up(ctx, participant_id=int(ids[code]), start_date=start,
                                end_date=end)
            st.toast(t("saved", lang))
            st.rerun()


def event_form(windowed: list[str]) -> None:
    windowed = find_codes(windowed, "an_ev_find")
    if not windowed:
        st.info(t("an_no_code_found", lang))
        return
    with st.form("an_event_form"):
        c1, c2, c3, c4 = st.columns(4)
        ev_code = c1.selectbox(t("study_code", lang), windowed, key="an_ev_code")
        ev_date = c2.date_input(t("an_event_date", lang), min_value=dt.date(2000, 1, 1),
                                key="an_ev_date", format=dates.INPUT_FORMAT[lang])
        ev_type = c3.selectbox(t("an_event_type", lang), RECIDIVISM_TYPES, key="an_ev_type",
                               format_func=lambda v: value_label("event_type", v, lang))
        ev_source = c4.selectbox(t("an_event_source", lang), MANUAL_SOURCES, key="an_ev_source",
                                 format_func=lambda v: value_label("source", v, lang))
        save_ev = st.form_submit_button(t("save", lang))
    if save_ev:
        # On an error (a date outside the window) the form keeps what was typed.
        with service_errors(), state.context(actor, "cohort page: record event") as ctx:
            ms.record_event(ctx, participant_id=int(ids[ev_code]), event_date=ev_date,
                            event_type=ev_type, source=ev_source)
            st.toast(t("saved", lang))
            st.rerun()


st.subheader(t("an_followup_header", lang))
st.caption(t("an_followup_help", lang))
if register.empty:
    st.info(t("an_fu_none_ended", lang))
else:
    follow_up_form()

st.subheader(t("an_event_header", lang))
windowed = by_code.index[by_code["follow_up_start"].notna()].tolist()
if not windowed:
    st.info(t("an_no_windows", lang))
else:
    event_form(windowed)

# ------------------------------------------------------------------ proposals from detection
st.subheader(t("an_proposals_header", lang))
st.caption(t("an_proposals_help", lang))
with state.context(actor, "cohort page: proposals") as ctx:
    proposals = ms.list_event_proposals(ctx, status=None)
pending = {p.id: p for p in proposals if p.status == "proposed"}
if not pending:
    st.info(t("an_no_proposals", lang))
else:
    # What each proposal is: the participant, the event date proposed, the detection case and
    # flag it comes from, and whether the date falls inside the follow-up window.
    st.dataframe(pd.DataFrame({
        t("study_code", lang): [p.study_code for p in pending.values()],
        t("an_pr_date", lang): [p.proposed_date for p in pending.values()],
        t("an_pr_case", lang): [p.case_ref or "" for p in pending.values()],
        t("an_pr_flag", lang): [f"#{p.flag_id}" for p in pending.values()],
        t("an_pr_window_end", lang): [p.follow_up_end for p in pending.values()],
        t("an_pr_inside", lang): [t("an_pr_after_window" if p.follow_up_end and p.proposed_date > p.follow_up_end
                                    else "an_pr_in_window" if p.follow_up_end else "an_pr_no_window", lang)
                                  for p in pending.values()],
    }), hide_index=True, key="an_pr_table", column_config=dates.date_columns(
        [t("an_pr_date", lang), t("an_pr_window_end", lang)], lang))
    with st.form("an_proposal_form"):
        pid = st.selectbox(t("an_proposal", lang), list(pending), key="an_pr_choice",
                           format_func=lambda i: f"{pending[i].study_code} · "
                                                 f"{dates.day(pending[i].proposed_date, lang)} · "
                                                 f"{pending[i].case_ref or ''} · #{pending[i].flag_id}")
        c1, c2 = st.columns(2)
        decision = c1.radio(t("an_decision", lang), ("accept", "reject"), key="an_pr_decision",
                            format_func=lambda d: t("an_" + d, lang), horizontal=True)
        pr_type = c2.selectbox(t("an_event_type", lang), RECIDIVISM_TYPES, key="an_pr_type",
                               format_func=lambda v: value_label("event_type", v, lang))
        c3, c4 = st.columns(2)
        extend = c3.checkbox(t("an_pr_extend", lang), key="an_pr_extend")
        extend_to = c4.date_input(t("an_pr_extend_to", lang), value=local_today(),
                                  max_value=local_today(), key="an_pr_extend_to", format=dates.INPUT_FORMAT[lang])
        reason = st.text_input(t("an_pr_reason", lang), key="an_pr_reason")
        decide = st.form_submit_button(t("an_decide", lang))
    if decide:
        with service_errors(), state.context(actor, "cohort page: decide proposal") as ctx:
            if pid not in pending:
                raise ValidationError("dashboard.choose_proposal_decide",
                                      "Choose a proposal to decide.")
            accept = decision == "accept"
            ms.decide_event_proposal(ctx, proposal_id=pid, accept=accept,
                                     reason=reason or None, event_type=pr_type,
                                     extend_window_to=extend_to if accept and extend else None)
            for key in ("an_pr_reason", "an_pr_extend"):
                st.session_state.pop(key, None)
            chosen = pending[pid]
            st.toast(t("an_pr_accepted" if accept else "an_pr_rejected", lang,
                       code=chosen.study_code, date=dates.day(chosen.proposed_date, lang)))
            st.rerun()
decided = [p for p in proposals if p.status != "proposed"]
if decided:
    with st.expander(t("an_decided", lang)):
        st.dataframe(pd.DataFrame({
            t("study_code", lang): [p.study_code for p in decided],
            t("an_proposed_date", lang): [p.proposed_date for p in decided],
            t("status", lang): [t("an_prop_status_" + p.status, lang) for p in decided],
            t("reason", lang): [p.reason or "" for p in decided],
        }), hide_index=True, key="an_decided_table",
            column_config=dates.date_columns([t("an_proposed_date", lang)], lang))
