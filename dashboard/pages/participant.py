"""A participant's record for their counselor: identity on request, sessions, recording a session."""


import pandas as pd
import plotly.express as px
import streamlit as st

from dashboard import dates, state
from dashboard.components import service_errors
from dashboard.counselor import caseload_codes, choose_participant
from dashboard.i18n import label, t
from casework import service as casework
from db.schema import ATTENDANCE, MODALITIES

TOPICS = ("consent", "gender_norms", "harm_to_victims", "online_conduct", "law_and_consequences", "family")

actor = state.require_page("participant.identify")
lang = state.lang()
st.title(t("participant_page", lang))

codes = caseload_codes(actor, "participant page")

with st.expander(t("break_glass", lang)):
    with st.form("break_glass_form"):
        code_in = st.text_input(t("study_code_input", lang), key="bg_code")
        reason_in = st.text_input(t("reason", lang), key="bg_reason")
        opened = st.form_submit_button(t("open", lang))
    if opened:
        with service_errors(), state.context(actor, "break-glass") as ctx:
            pid = casework.break_glass_by_code(ctx, code_in, reason=reason_in)
            st.session_state.setdefault("break_glass_codes", {})[code_in.strip()] = pid
            st.session_state["current_code"] = code_in.strip()
            st.rerun()

chosen = choose_participant(codes, "participant_code")
if chosen is None:
    st.stop()
code, pid = chosen
c1, c2 = st.columns(2)
c1.page_link("pages/matrix.py", label=t("co_matrix", lang), icon=":material/grid_on:")
c2.page_link("pages/instrument.py", label=t("co_instrument", lang), icon=":material/edit_note:")

if st.button(t("show_identity", lang), key="show_identity"):
    with service_errors(), state.context(actor, "participant page: identity") as ctx:
        ident = casework.participant_identity(ctx, pid)
        # Label and value, as a record card reads; a field never given is said so, not "None".
        st.dataframe(pd.DataFrame({
            t("pt_field", lang): [t("name", lang), t("birth_date", lang), t("contact", lang),
                                  t("guardian_contact", lang)],
            t("pt_value", lang): [v if v else t("pt_not_given", lang) for v in (
                ident.name, dates.day(ident.birth_date, lang) if ident.birth_date else None,
                ident.contact, ident.guardian_contact)],
        }), hide_index=True, key="identity_table")

st.subheader(t("sessions", lang))
sessions = []
with service_errors(), state.context(actor, "participant page: sessions") as ctx:
    sessions = casework.list_sessions(ctx, pid)
    if sessions:
        frame = pd.DataFrame([{
            t("session_date", lang): s.session_date, t("minutes", lang): s.minutes,
            t("modality", lang): t("mod_" + s.modality, lang),
            t("attendance", lang): t("att_" + s.attendance, lang),
            t("topics", lang): ", ".join(label("topic_", x, lang) for x in s.topics)} for s in sessions])
        fig = px.scatter(frame, x=t("session_date", lang), y=t("minutes", lang), color=t("attendance", lang),
                         title=t("session_timeline", lang))
        # Minutes from zero: a handful of 89-91 minute sessions is not a swing.
        fig.update_layout(xaxis_title=t("date_axis", lang), yaxis_title=t("minutes", lang),
                          yaxis={"range": [0, max(s.minutes for s in sessions) * 1.15]})
        dates.date_axes(fig, lang)
        st.plotly_chart(fig, key="timeline")
        st.dataframe(frame, hide_index=True, key="sessions_table",
                     column_config=dates.date_columns([t("session_date", lang)], lang))
    else:
        st.info(t("no_sessions", lang))

st.subheader(t("record_session", lang))
with st.form("record_session_form", clear_on_submit=False):
    c1, c2, c3, c4 = st.columns(4)
    date = c1.date_input(t("session_date", lang), value=ctx.today, max_value=ctx.today, key="rs_date", format=dates.INPUT_FORMAT[lang])
    minutes = c2.number_input(t("minutes", lang), min_value=1, max_value=480, value=50, key="rs_minutes")
    modality = c3.selectbox(t("modality", lang), MODALITIES, format_func=lambda m: t("mod_" + m, lang),
                            key="rs_modality")
    attendance = c4.selectbox(t("attendance", lang), ATTENDANCE, format_func=lambda m: t("att_" + m, lang),
                              key="rs_attendance")
    topics = st.multiselect(t("topics", lang), TOPICS, format_func=lambda x: t("topic_" + x, lang),
                            placeholder=t("choose", lang), key="rs_topics")
    notes = st.text_area(t("notes", lang), key="rs_notes")
    if st.session_state.get("rs_same_day") is not None:
        st.warning(t("rs_same_day_warning", lang, date=dates.day(st.session_state["rs_same_day"], lang)))
        st.checkbox(t("rs_same_day_confirm", lang), key="rs_same_day_ok")
    submitted = st.form_submit_button(t("save", lang))
same_day = submitted and any(s.session_date == date for s in sessions)
if same_day and not st.session_state.get("rs_same_day_ok"):
    # A second session on one day is rare and was made by accident (a saved form sent again):
    # the counselor says it is meant, and the form keeps what was typed meanwhile.
    st.session_state["rs_same_day"] = date
    st.rerun()
if submitted:
    # On an error the form keeps every value typed: the message says what to change.
    with service_errors(), state.context(actor, "participant page: record session") as ctx:
        casework.record_session(ctx, participant_id=pid, session_date=date, minutes=int(minutes),
                               modality=modality, attendance=attendance, topics=tuple(topics),
                               notes=notes or None)
        for key in ("rs_minutes", "rs_topics", "rs_notes", "rs_same_day_ok", "rs_same_day"):
            st.session_state.pop(key, None)  # saved: start the next record from an empty form
        st.toast(t("saved", lang))
        st.rerun()
