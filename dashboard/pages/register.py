"""Intake: a counselor (for their own caseload) or an admin (for any counselor) registers a young
person. The name, birth date and contacts are encrypted apart from the research record, which is
kept under a study code; the intake reference is turned into that code and not kept."""

import datetime as dt

import streamlit as st

from casework import service as casework
from dashboard import dates, state
from dashboard.components import service_errors
from dashboard.i18n import label, t
from vocab import OFFENCE_TYPES, REFERRAL_SOURCES, SEXES

actor = state.require_page("participant.create")
lang = state.lang()
st.title(t("rg_title", lang))
st.caption(t("rg_intro", lang))

with state.context(actor, "register page: choices") as ctx:
    cohorts, counselors = casework.intake_choices(ctx)
    today = ctx.today
if cohorts.empty:
    st.info(t("rg_no_cohorts", lang))
    st.stop()
cohort_names = {int(r.cohort_id): f"{r.programme} · {r.cohort} ({dates.day(r.start_date, lang)}~)"
                for r in cohorts.itertuples()}
is_counselor = actor.role == "counselor"
if not is_counselor and not counselors:
    st.warning(t("rg_no_counselors", lang))

KEYS = ("rg_ref", "rg_name", "rg_birth", "rg_sex", "rg_cohort", "rg_enrolled", "rg_contact",
        "rg_guardian", "rg_prior", "rg_case", "rg_offences", "rg_offence_date", "rg_referral_date",
        "rg_source", "rg_counselor")
fmt = dates.INPUT_FORMAT[lang]

with st.form("register_form", clear_on_submit=False):
    st.markdown(f"**{t('rg_identity', lang)}**")
    c1, c2 = st.columns(2)
    intake_ref = c1.text_input(t("rg_ref", lang), key="rg_ref", help=t("rg_ref_help", lang))
    name = c2.text_input(t("rg_name", lang), key="rg_name")
    c1, c2, c3 = st.columns(3)
    birth = c1.date_input(t("rg_birth", lang), value=None, min_value=dt.date(today.year - 25, 1, 1),
                          max_value=today, key="rg_birth", format=fmt)
    sex = c2.selectbox(t("rg_sex", lang), SEXES, format_func=lambda v: label("an_sex_", v, lang),
                       key="rg_sex")
    contact = c3.text_input(t("rg_contact", lang), key="rg_contact")
    guardian = st.text_input(t("rg_guardian", lang), key="rg_guardian")

    st.markdown(f"**{t('rg_programme', lang)}**")
    c1, c2, c3 = st.columns([2, 1, 1])
    cohort_id = c1.selectbox(t("rg_cohort", lang), list(cohort_names), format_func=cohort_names.get,
                             key="rg_cohort")
    enrolled = c2.date_input(t("rg_enrolled", lang), value=today, max_value=today,
                             key="rg_enrolled", format=fmt)
    if is_counselor:
        counselor_id = None  # the counselor who registers is the one assigned
        c3.text_input(t("rg_counselor", lang), value=actor.username, disabled=True)
    else:
        names = dict(counselors)
        counselor_id = c3.selectbox(t("rg_counselor", lang), list(names), format_func=names.get,
                                    index=None, placeholder=t("choose", lang), key="rg_counselor")

    st.markdown(f"**{t('rg_case', lang)}**")
    c1, c2 = st.columns(2)
    case_ref = c1.text_input(t("rg_case_ref", lang), key="rg_case")
    source = c2.selectbox(t("rg_source", lang), REFERRAL_SOURCES,
                          format_func=lambda v: t("rg_src_" + v, lang), key="rg_source")
    offences = st.multiselect(t("rg_offences", lang), OFFENCE_TYPES,
                              format_func=lambda v: label("an_off_", v, lang),
                              placeholder=t("choose", lang), key="rg_offences")
    c1, c2, c3 = st.columns(3)
    offence_date = c1.date_input(t("rg_offence_date", lang), value=None, max_value=today,
                                 key="rg_offence_date", format=fmt)
    referral_date = c2.date_input(t("rg_referral_date", lang), value=None, max_value=today,
                                  key="rg_referral_date", format=fmt)
    prior = c3.number_input(t("rg_prior", lang), min_value=0, max_value=50, value=0, step=1,
                            key="rg_prior")
    submitted = st.form_submit_button(t("rg_submit", lang))


def age_on(born: dt.date, on: dt.date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


if submitted:
    # What the form itself can tell, said next to the form; everything typed stays.
    missing = [t(key, lang) for key, value in (("rg_ref", intake_ref.strip()), ("rg_name", name.strip()),
                                               ("rg_birth", birth)) if not value]
    if not is_counselor and counselor_id is None:
        missing.append(t("rg_counselor", lang))
    if missing:
        st.error(t("rg_missing", lang, fields=", ".join(missing)))
    else:
        referred = referral_date or enrolled
        with service_errors(), state.context(actor, "register page: register") as ctx:
            code = casework.enrol(ctx, casework.NewParticipant(
                intake_ref=intake_ref.strip(), name=name.strip(), birth_date=birth, sex=sex,
                cohort_id=int(cohort_id), enrolled_on=enrolled,
                age_at_referral=age_on(birth, referred), contact=contact.strip() or None,
                guardian_contact=guardian.strip() or None, prior_offences=int(prior),
                case_ref=case_ref.strip() or None, offence_types=tuple(offences),
                offence_date=offence_date, referral_date=referral_date, referral_source=source),
                counselor_id=counselor_id)
            for key in KEYS:
                st.session_state.pop(key, None)  # registered: the next intake starts empty
            st.session_state["rg_done"] = code
            st.rerun()

if st.session_state.get("rg_done"):
    st.success(t("rg_done", lang, code=st.session_state["rg_done"]))
    st.toast(t("rg_done", lang, code=st.session_state.pop("rg_done")))
