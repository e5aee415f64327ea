"""Give an instrument: one form per instrument with every item on its scale; save a draft or finalise."""

import streamlit as st

from assessment import service as assessment_service
from assessment.instruments import default_instruments
from dashboard import dates, state
from dashboard.components import service_errors
from dashboard.counselor import caseload_codes, choose_participant, stage_label, status_label
from dashboard.i18n import t
from dashboard.messages import localise
from errors import DscrError
from matrix import service as matrix_service
from matrix import stages

actor = state.require_page("assessment.record")
lang = state.lang()
st.title(t("co_instrument", lang))

codes = caseload_codes(actor, "instrument page")
chosen = choose_participant(codes, "co_in_code")
if chosen is None:
    st.stop()
code, pid = chosen

steps, sheets = None, None
with service_errors(), state.context(actor, "instrument page") as ctx:
    today = ctx.today
    steps = {v.stage: v for v in matrix_service.participant_steps(ctx, pid)}  # newest version last
    sheets = assessment_service.list_assessments(ctx, pid)
if steps is None or sheets is None:
    st.stop()
status_of = {s: (steps[s].status if s in steps else stages.NOT_STARTED) for s in stages.STAGES}

# Open the step being worked on: the first draft, else the first one not started.
default_stage = next((s for s in stages.STAGES if status_of[s] == stages.DRAFT),
                     next((s for s in stages.STAGES if status_of[s] == stages.NOT_STARTED), "planning"))
if st.session_state.get("co_in_stage") not in stages.STAGES or st.session_state.get("co_in_for") != code:
    st.session_state["co_in_stage"] = default_stage
    st.session_state["co_in_for"] = code
c1, c2 = st.columns(2)
# Statuses are shown beside the choices, not in them: a select box keeps the label it showed first.
stage = c1.selectbox(t("co_in_step", lang), stages.STAGES, key="co_in_stage",
                     format_func=lambda s: stage_label(s, lang))
c1.caption(" · ".join(f"{stage_label(s, lang, short=True)}: {status_label(status_of[s], lang)}"
                      for s in stages.STAGES))
insts = default_instruments()
here = sorted((i for i in insts.values() if stage in i.stages), key=lambda i: (i.kind != "self_report", i.id))
if not here:
    st.info(t("co_in_not_given", lang))
    st.stop()
sheet_of = {a.instrument_id: a for a in sheets if a.stage == stage}
inst_id = c2.selectbox(t("co_in_instrument", lang), [i.id for i in here], key="co_in_inst",
                       format_func=lambda i: f"{i} · {getattr(insts[i].title, lang)}")
c2.caption(" · ".join(f"{i.id}: " + (status_label(sheet_of[i.id].status, lang) if i.id in sheet_of
                                       else t("co_in_sheet_none", lang)) for i in here))
inst = insts[inst_id]
existing = sheet_of.get(inst_id)
item_key = {it.id: f"co_item_{inst.id}_{it.id}" for it in inst.items}
free_key = {f.id: f"co_free_{inst.id}_{f.id}" for f in inst.free_text_fields}


def load_form() -> None:
    """Put the stored answers (or an empty sheet) into the form; reading the notes is audited."""
    notes: dict[str, str] = {}
    if existing is not None and existing.has_notes:
        with service_errors(), state.context(actor, "instrument page: open notes") as ctx:
            notes = assessment_service.read_notes(ctx, existing.id)
    for item_id, key in item_key.items():
        st.session_state[key] = existing.responses.get(item_id) if existing is not None else None
    for field_id, key in free_key.items():
        st.session_state[key] = notes.get(field_id, "")
    st.session_state["co_in_notes"] = notes.get("notes", "")
    st.session_state["co_in_date"] = existing.administered_on if existing is not None else today
    # The version the counselor opened: a save against a newer one is refused with a Conflict.
    st.session_state["co_in_loaded"] = {"ident": ident, "version": existing.version if existing else None}


# The form is loaded once per participant, step and instrument; after a refused save it keeps
# what the counselor typed (the store is not read over it).
ident = (pid, stage, inst.id, steps[stage].step_version if stage in steps else 1)
loaded = st.session_state.get("co_in_loaded")
if loaded is None or loaded["ident"] != ident or st.session_state.pop("co_in_reload_now", False):
    load_form()
    loaded = st.session_state["co_in_loaded"]
if loaded["version"] is None:
    st.caption(t("co_in_new", lang))
elif existing is not None:
    st.caption(t("co_in_loaded", lang, version=loaded["version"], status=status_label(existing.status, lang)))

editable = status_of[stage] in (stages.DRAFT, stages.NOT_STARTED)
if not editable:
    st.info(t("co_in_read_only", lang, status=status_label(status_of[stage], lang)))
elif status_of[stage] == stages.NOT_STARTED:
    try:
        stages.apply_transition({s: status_of[s] for s in stages.STAGES}, stage, "start")
    except DscrError as exc:
        st.warning(t("co_in_gate", lang, why=localise(exc, lang)))
        editable = False

st.subheader(f"{inst.id} · {getattr(inst.title, lang)}")
if inst.description is not None:
    st.caption(getattr(inst.description, lang))
points = list(range(inst.scale.min, inst.scale.max + 1))
with st.form(f"co_in_form_{inst.id}", clear_on_submit=False):
    for n, item in enumerate(inst.items, start=1):
        anchors = item.anchors or inst.scale.labels
        names = {p: f"{p} · {getattr(anchors[p - inst.scale.min], lang)}" for p in points}
        st.radio(f"{n}. {getattr(item.text, lang)}", points, key=item_key[item.id], format_func=names.get,
                 horizontal=not item.anchors, disabled=not editable)
    for field in inst.free_text_fields:
        st.text_area(getattr(field.label, lang), key=free_key[field.id], disabled=not editable,
                     help=getattr(field.hint, lang) if field.hint else None)
    c1, c2 = st.columns([1, 3])
    given_on = c1.date_input(t("co_in_date", lang), key="co_in_date", max_value=today, disabled=not editable, format=dates.INPUT_FORMAT[lang])
    notes = c2.text_area(t("co_in_notes", lang), key="co_in_notes", disabled=not editable, height=68)
    b1, b2, _ = st.columns([1, 1, 3])
    save = b1.form_submit_button(t("co_in_save", lang), disabled=not editable)
    finalise = b2.form_submit_button(t("co_in_finalise", lang), type="primary", disabled=not editable)
answered = sum(st.session_state.get(k) is not None for k in item_key.values())
st.caption(t("co_in_answered", lang, n=answered, total=len(inst.items)))
message = st.container()

if save or finalise:
    responses = {i: st.session_state.get(k) for i, k in item_key.items()
                 if st.session_state.get(k) is not None}
    responses.update({f: st.session_state.get(k) for f, k in free_key.items() if st.session_state.get(k)})
    saved_id = None
    with service_errors(message), state.context(actor, "instrument page: save") as ctx:
        saved_id = assessment_service.record_draft(
            ctx, participant_id=pid, stage=stage, instrument_id=inst.id, responses=responses,
            administered_on=given_on, notes=notes or None, expected_version=loaded["version"])
    if saved_id is not None:
        with state.context(actor, "instrument page: saved") as ctx:
            version = next(a.version for a in assessment_service.list_assessments(ctx, pid, stage=stage)
                           if a.id == saved_id)
        st.session_state["co_in_loaded"] = {"ident": ident, "version": version}
        done = not finalise
        if finalise:
            with state.context(actor, "instrument page: finalise") as ctx:
                try:
                    assessment_service.finalise(ctx, saved_id, version)
                    done = True
                except DscrError as exc:
                    message.error(f"{t('co_in_saved_not_final', lang)} {localise(exc, lang)}")
        if done:
            st.toast(t("co_in_finalised" if finalise else "co_in_saved", lang))
            st.session_state["co_in_reload_now"] = True
            st.rerun()

if st.button(t("co_in_reload", lang), key="co_in_reload"):
    st.session_state["co_in_reload_now"] = True
    st.rerun()
