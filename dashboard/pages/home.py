"""Home: the start of each role's day, what is waiting for it, with the way to each piece of work.

Each section is shown to the roles whose policy allows the use cases it reads (db.access), so the
home page and the menu agree: a counselor's overdue steps, this week's sessions and open drafts; a
supervisor's steps to review and countersign; the committee's sign-offs and programme reviews; the
analyst's follow-ups and event proposals; the reviewer's flags and late takedowns; the admin's
access review and locked accounts.
"""

import datetime as dt

import pandas as pd
import streamlit as st

from accounts import service as accounts_service
from assessment import service as assessments
from casework import service as casework
from dashboard import dates, state
from dashboard.components import period_text, service_errors
from dashboard.counselor import stage_label
from dashboard.i18n import t
from db import access
from db.schema import utcnow
from detection import service as detection
from detection import takedowns as takedown_states
from matrix import service as matrix_service
from models import service as models_service

actor = state.require_page(None)
lang = state.lang()
role = actor.role
st.title(t("home", lang))
st.write(t("welcome", lang, name=actor.username))
today = None
with service_errors(), state.context(actor, "home page") as ctx:
    today = ctx.today
if today is None:
    st.stop()
st.caption(t("hm_today", lang, date=dates.day(today, lang), weekday=t(f"weekday_{today.weekday()}", lang)))
shown = 0


def allowed(*actions: str) -> bool:
    return all(access.is_allowed(role, a) for a in actions)


def section(title_key: str, **kwargs) -> None:
    global shown
    shown += 1
    st.subheader(t(title_key, lang, **kwargs))


# --- counselor ------------------------------------------------------------------------------
if allowed("participant.identify", "assessment.record", "session.read"):
    overview = week = drafts = None
    week_start = today - dt.timedelta(days=today.weekday())
    week_end = week_start + dt.timedelta(days=6)
    with service_errors(), state.context(actor, "home: caseload") as ctx:
        overview = matrix_service.caseload_overview(ctx, today)
        week = casework.sessions_between(ctx, week_start, week_end)
        drafts = assessments.open_drafts(ctx)
    if overview is not None:
        section("hm_overdue")
        late = overview.participants[overview.participants["overdue_steps"] > 0]
        if late.empty:
            st.success(t("hm_overdue_none", lang))
        else:
            late = late.sort_values("days_overdue", ascending=False)
            st.dataframe(pd.DataFrame({
                t("study_code", lang): late["study_code"],
                t("co_cl_next_stage", lang): [stage_label(s, lang, short=True) if isinstance(s, str) else ""
                                              for s in late["next_stage"]],
                t("hm_due_on", lang): list(late["next_due"]),
                t("hm_days_overdue", lang): late["days_overdue"].astype(int),
            }), hide_index=True, key="hm_overdue_table",
                column_config=dates.date_columns([t("hm_due_on", lang)], lang))
            st.page_link("pages/caseload.py", label=t("caseload", lang), icon=":material/list:")

        section("hm_week_sessions", start=dates.day(week_start, lang), end=dates.day(week_end, lang))
        if week is None or week.empty:
            st.info(t("hm_week_sessions_none", lang))
        else:
            st.dataframe(pd.DataFrame({
                t("hm_session_date", lang): list(week["session_date"]),
                t("study_code", lang): week["study_code"],
                t("hm_minutes", lang): week["minutes"].astype(int),
            }), hide_index=True, key="hm_week_table",
                column_config=dates.date_columns([t("hm_session_date", lang)], lang))

        section("hm_drafts")
        if not drafts:
            st.success(t("hm_drafts_none", lang))
        else:
            st.dataframe(pd.DataFrame({
                t("study_code", lang): [code for code, _ in drafts],
                t("co_mx_step", lang): [stage_label(a.stage, lang, short=True) for _, a in drafts],
                t("hm_instrument", lang): [a.instrument_id for _, a in drafts],
                t("hm_administered_on", lang): [a.administered_on for _, a in drafts],
            }), hide_index=True, key="hm_drafts_table",
                column_config=dates.date_columns([t("hm_administered_on", lang)], lang))
            st.page_link("pages/instrument.py", label=t("co_instrument", lang), icon=":material/edit_note:")

# --- steps to review or countersign (a supervisor; a counselor reviewing a colleague's) ------
if allowed("step.review", "assessment.read"):
    waiting = None
    with service_errors(), state.context(actor, "home: steps awaiting") as ctx:
        waiting = matrix_service.steps_awaiting(ctx)
    if waiting is not None and (role == "supervisor" or not waiting.empty):
        section("hm_awaiting")
        if waiting.empty:
            st.success(t("hm_awaiting_none", lang))
        else:
            st.dataframe(pd.DataFrame({
                t("study_code", lang): waiting["study_code"],
                t("co_mx_step", lang): [stage_label(s, lang, short=True) for s in waiting["stage"]],
                t("hm_waiting_for", lang): [t("hm_wait_" + w, lang) for w in waiting["waiting_for"]],
                t("hm_submitted_at", lang): dates.times(waiting["submitted_at"]),
            }), hide_index=True, key="hm_awaiting_table",
                column_config=dates.moment_columns([t("hm_submitted_at", lang)], lang))
            st.page_link("pages/matrix.py", label=t("co_matrix", lang), icon=":material/grid_on:")

# --- committee ------------------------------------------------------------------------------
if allowed("conclusion.signoff", "outcomes.read"):
    pending = None
    with service_errors(), state.context(actor, "home: sign-offs") as ctx:
        pending = matrix_service.conclusions_awaiting_signoff(ctx)
    if pending is not None:
        section("hm_signoffs")
        rows = pending[pending["cohort"] != "Total"]
        total = pending[pending["cohort"] == "Total"]["awaiting_signoff"]
        # Counts come suppressed ("<10", "x"): the cohorts with something waiting are those not 0.
        cohorts = int((rows["awaiting_signoff"].astype(str) != "0").sum())
        n = str(total.iloc[0]) if len(total) else "0"
        if n == "0":
            st.success(t("hm_signoffs_none", lang))
        else:
            st.warning(t("hm_signoffs_n", lang, n=n, cohorts=cohorts))
            st.page_link("pages/signoff.py", label=t("cm_signoff", lang), icon=":material/verified:")

if allowed("review.record"):
    period = f"{today.year}-H{1 if today.month <= 6 else 2}"  # the reviews page's periods
    programmes = mine = None
    with service_errors(), state.context(actor, "home: programme reviews") as ctx:
        programmes = matrix_service.review_programmes(ctx)
        mine = matrix_service.my_programme_reviews(ctx, period=period)
    if programmes is not None and mine is not None:
        section("hm_reviews", period=period_text(period))
        rated = set(mine["programme_id"])
        left = [str(name) for pid, name in zip(programmes.iloc[:, 0], programmes.iloc[:, 1],
                                               strict=True) if pid not in rated]
        if left:
            st.warning(t("hm_reviews_left", lang, names=", ".join(left)))
            st.page_link("pages/reviews.py", label=t("cm_reviews", lang), icon=":material/rate_review:")
        else:
            st.success(t("hm_reviews_done", lang))

# --- analyst --------------------------------------------------------------------------------
if allowed("recidivism.read", "followup.record"):
    register = proposals = None
    with service_errors(), state.context(actor, "home: follow-up") as ctx:
        register = models_service.follow_up_register(ctx)
        proposals = models_service.list_event_proposals(ctx)
    if register is not None:
        section("hm_follow_ups")
        no_window = int(register["follow_up_end"].isna().sum())
        ends = pd.to_datetime(register["follow_up_end"], errors="coerce")
        soon = int(((ends >= pd.Timestamp(today)) & (ends <= pd.Timestamp(today + dt.timedelta(days=30)))).sum())
        if no_window:
            st.warning(t("hm_no_window", lang, n=no_window))
        if soon:
            st.info(t("hm_window_ending", lang, n=soon))
        if not no_window and not soon:
            st.success(t("hm_follow_ups_none", lang))
        else:
            st.page_link("pages/recidivism.py", label=t("an_recidivism", lang), icon=":material/timeline:")
    if proposals is not None:
        section("hm_proposals")
        if not proposals:
            st.success(t("hm_proposals_none", lang))
        else:
            st.dataframe(pd.DataFrame({
                t("study_code", lang): [p.study_code for p in proposals],
                t("hm_proposed_on", lang): [p.proposed_date for p in proposals],
                t("hm_flag", lang): [f"#{p.flag_id}" for p in proposals],
            }), hide_index=True, key="hm_proposals_table",
                column_config=dates.date_columns([t("hm_proposed_on", lang)], lang))
            st.page_link("pages/recidivism.py", label=t("an_recidivism", lang), icon=":material/timeline:")

# --- detection reviewer ---------------------------------------------------------------------
if allowed("flag.review"):
    queue = late = None
    now = utcnow()
    with service_errors(), state.context(actor, "home: flags") as ctx:
        queue = detection.review_queue(ctx)
        late = detection.takedowns_past_deadline(ctx, now)
    if queue is not None:
        section("hm_flags")
        if not queue:
            st.success(t("hm_flags_none", lang))
        else:
            oldest = min(f.created_at for f in queue)
            st.warning(t("hm_flags_n", lang, n=len(queue), oldest=dates.moment(oldest, lang)))
            st.page_link("pages/review.py", label=t("rv_review", lang), icon=":material/fact_check:")
    if late is not None:
        section("hm_takedowns", hours=int(takedown_states.RESPONSE_WINDOW.total_seconds() // 3600))
        if not late:
            st.success(t("hm_takedowns_none", lang))
        else:
            st.dataframe(pd.DataFrame({
                t("hm_flag", lang): [f"#{v.flag_id}" for v, _ in late],
                t("hm_platform", lang): [v.platform for v, _ in late],
                t("hm_takedown_status", lang): [t("rv_td_" + v.status, lang) for v, _ in late],
                t("hm_since", lang): dates.times(v.updated_at or v.requested_at for v, _ in late),
                t("hm_late_by", lang): [t("hm_hours", lang, n=int(over.total_seconds() // 3600))
                                        for _, over in late],
            }), hide_index=True, key="hm_takedowns_table",
                column_config=dates.moment_columns([t("hm_since", lang)], lang))
            st.page_link("pages/review.py", label=t("rv_review", lang), icon=":material/fact_check:")

# --- prevention educator --------------------------------------------------------------------
if allowed("delivery.record", "delivery.read"):
    from prevention import service as prevention

    mine = None
    with service_errors(), state.context(actor, "home: deliveries") as ctx:
        mine = prevention.my_deliveries(ctx)
    if mine is not None:
        section("hm_surveys_waiting")
        waiting = mine[mine["n_pre"] + mine["n_post"] == 0]
        if mine.empty:
            st.info(t("hm_no_deliveries", lang))
        elif waiting.empty:
            st.success(t("hm_surveys_none", lang))
        else:
            st.dataframe(pd.DataFrame({
                t("hm_delivered_on", lang): list(waiting["delivered_on"]),
                t("hm_programme", lang): waiting["programme"],
                t("hm_audience", lang): [t("pv_aud_" + a, lang) for a in waiting["audience"]],
                t("hm_present", lang): waiting["present"].astype(int),
            }), hide_index=True, key="hm_surveys_table",
                column_config=dates.date_columns([t("hm_delivered_on", lang)], lang))
            st.page_link("pages/surveys.py", label=t("ed_surveys", lang), icon=":material/upload_file:")

# --- admin ----------------------------------------------------------------------------------
if allowed("audit.read", "account.manage"):
    review = locked = None
    with service_errors(), state.context(actor, "home: admin") as ctx:
        review = accounts_service.access_review_status(ctx)
        locked = accounts_service.locked_accounts(ctx)
    if review is not None:
        section("hm_access_review")
        month = dates.month(review.due_month, lang)
        if review.done:
            st.success(t("hm_access_review_done", lang, month=month))
        else:
            st.warning(t("hm_access_review_due", lang, month=month))
            c1, c2 = st.columns(2)
            c1.page_link("pages/audit.py", label=t("access_review", lang), icon=":material/policy:")
            if c2.button(t("hm_mark_reviewed", lang, month=month), key="hm_mark_reviewed"):
                with service_errors(), state.context(actor, "home: access review done") as ctx:
                    accounts_service.mark_access_reviewed(ctx, review.due_month)
                    st.toast(t("saved", lang))
                    st.rerun()
    if locked is not None:
        section("hm_locked")
        if not locked:
            st.success(t("hm_locked_none", lang))
        for a in locked:
            c1, c2 = st.columns([3, 1], vertical_alignment="center")
            c1.write(f"{a.username} ({t('role_' + a.role, lang)})")
            if c2.button(t("hm_unlock", lang), key=f"hm_unlock_{a.username}"):
                with service_errors(), state.context(actor, "home: unlock") as ctx:
                    accounts_service.unlock_account(ctx, a.username)
                    st.toast(t("hm_unlocked", lang, name=a.username))
                    st.rerun()

if not shown:
    st.info(t("hm_nothing", lang))
