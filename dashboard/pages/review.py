"""The detection reviewer's queue: confirm or reject each flag with a reason; track takedown requests."""

import pandas as pd
import streamlit as st

from dashboard import dates, state
from dashboard.i18n import label, t
from dashboard.messages import localise
from detection import service, takedowns
from errors import DscrError, PermissionDenied

SHOWN = 25  # flags shown at once, oldest first

actor = state.require_page("flag.review")
lang = state.lang()
st.title(t("rv_review", lang))
st.caption(t("rv_no_content", lang))


def _when(at) -> str:
    return dates.moment(at, lang)


def _attempt(task: str, action) -> str | None:
    """Run a use case from a button's callback; the error message, or None when it worked."""
    try:
        with state.context(actor, task) as ctx:
            action(ctx)
    except PermissionDenied:
        return t("access_denied", lang)
    except DscrError as exc:
        return localise(exc, state.lang())
    return None


# The buttons' callbacks run before the page is drawn again, with the version of the flag or the
# request as the reviewer saw it: a change made by someone else meanwhile comes back as Conflict.
def _review(flag_id: int, version: int, decision: str) -> None:
    outcome = {}

    def act(ctx):
        outcome["r"] = service.review_flag(ctx, flag_id, decision=decision, expected_version=version,
                                           reason=st.session_state.get(f"rv_reason_{flag_id}", ""))

    error = _attempt("review page: review flag", act)
    if error is not None:
        st.session_state.setdefault("rv_flag_errors", {})[flag_id] = error
        return
    r = outcome["r"]
    done = [t("rv_confirmed", lang, id=r.takedown_id) if r.status == "confirmed" else t("rv_rejected", lang)]
    if r.event_proposal_id is not None:
        done.append(t("rv_proposed", lang))
    st.session_state["rv_review_done"] = done


def _update_takedown(takedown_id: int, version: int) -> None:
    platform = st.session_state.get(f"rv_td_platform_{takedown_id}", "").strip()

    def act(ctx):
        service.update_takedown(ctx, takedown_id, status=st.session_state[f"rv_td_next_{takedown_id}_{lang}"],
                                expected_version=version, platform=platform or None,
                                note=st.session_state.get(f"rv_td_note_{takedown_id}") or None)

    error = _attempt("review page: update takedown", act)
    if error is not None:
        st.session_state["rv_td_error"] = error
        return
    st.session_state["rv_review_done"] = [t("saved", lang)]
    st.session_state[f"rv_td_note_{takedown_id}"] = ""


for message in st.session_state.pop("rv_review_done", []):
    st.success(message)

with state.context(actor, "review page") as ctx:
    pending = service.review_queue(ctx)
    confirmed = {f.id: f for f in service.review_queue(ctx, status="confirmed")}
    requests = service.takedowns(ctx)

# Messages of the last click, shown once beside the flag they concern.
errors = st.session_state.pop("rv_flag_errors", {})
# A flag someone else reviewed has left the queue: its message is shown above the queue.
for flag_id in [i for i in errors if i not in {f.id for f in pending}]:
    st.error(errors.pop(flag_id))

st.button(t("rv_reload", lang), key="rv_reload")  # a rerun reads the queue again
if not pending:
    st.info(t("rv_queue_empty", lang))
else:
    st.subheader(t("rv_pending", lang, n=len(pending)))


def _evidence(flag) -> list[tuple[str, str]]:
    rows = [(t("rv_item", lang), flag.item_path), (t("rv_scan", lang), str(flag.scan_id)),
            (t("rv_flagged_at", lang), _when(flag.created_at))]
    if flag.frames and "inliers" in flag.frames[0]:
        rows.append((t("rv_inlier_count", lang), str(flag.frames[0]["inliers"])))
    else:
        rows.append((t("rv_distance", lang), t("rv_bits", lang, n=flag.distance)))
        if flag.frames:
            rows.append((t("rv_frames", lang), ", ".join(
                (f"{f['time']:.1f}s" if f.get("time") is not None else f"#{f.get('frame')}")
                + f" ({f.get('algorithm', '')}, {t('rv_bits', lang, n=f.get('distance', ''))})"
                for f in flag.frames)))
    return rows


for flag in pending[:SHOWN]:
    with st.container(border=True):
        st.markdown("**" + t("rv_flag_title", lang, n=flag.id, case=flag.case, alg=flag.algorithm) + "**")
        for col, (name, value) in zip(st.columns([3, 1, 2, 2, 3][:len(_evidence(flag))]), _evidence(flag),
                                      strict=True):
            col.caption(name)
            col.text(value)
        if flag.source_platform:
            # A crawled item: where the crawler found it, what its takedown request will name.
            st.caption(t("rv_found_on", lang, platform=flag.source_platform, url=flag.source_url,
                         when=_when(flag.first_seen)))
        with st.form(f"rv_flag_form_{flag.id}"):
            st.text_input(t("rv_review_reason", lang), key=f"rv_reason_{flag.id}")
            c1, c2, _ = st.columns([1, 1, 3])
            with c1:
                st.form_submit_button(t("rv_confirm", lang), type="primary", key=f"rv_confirm_{flag.id}",
                                      on_click=_review, args=(flag.id, flag.version, "confirm"))
            with c2:
                st.form_submit_button(t("rv_reject", lang), key=f"rv_reject_{flag.id}",
                                      on_click=_review, args=(flag.id, flag.version, "reject"))
        if flag.id in errors:
            st.error(errors[flag.id])
if len(pending) > SHOWN:
    st.caption(f"{SHOWN} / {len(pending)}")

st.subheader(t("rv_takedowns", lang))
if not requests:
    st.info(t("rv_no_takedowns", lang))
    st.stop()


def _case(td) -> str:
    f = confirmed.get(td.flag_id)
    return f.case if f is not None else ""


def _event(td) -> str:
    f = confirmed.get(td.flag_id)
    return label("rv_ev_", (f.event_proposal if f is not None else None) or "none", lang)


requested = pd.DataFrame([{
    t("rv_choose_takedown", lang): td.id, t("rv_case", lang): _case(td),
    t("rv_item", lang): confirmed[td.flag_id].item_path if td.flag_id in confirmed else "",
    t("rv_td_status", lang): label("rv_td_", td.status, lang), t("rv_event", lang): _event(td),
    t("rv_platform", lang): td.platform, t("rv_page_url", lang): td.page_url or "",
    t("rv_requested_at", lang): td.requested_at,
    t("rv_removed_at", lang): td.removed_at, t("rv_reappeared_at", lang): td.reappeared_at,
    t("rv_updated_at", lang): td.updated_at, t("rv_note", lang): td.note or ""} for td in requests])
times = [t(k, lang) for k in ("rv_requested_at", "rv_removed_at", "rv_reappeared_at", "rv_updated_at")]
for column in times if not requested.empty else ():
    requested[column] = dates.times(requested[column])  # Seoul's time, sorting as times
st.dataframe(requested, hide_index=True, key="rv_takedowns_table",
             column_config=dates.moment_columns(times, lang))

st.subheader(t("rv_update_takedown", lang))
by_id = {td.id: td for td in requests}
# The language is part of a choice's key: a select box keeps the labels it was first drawn with.
chosen = st.selectbox(t("rv_choose_takedown", lang), list(by_id), key=f"rv_td_choice_{lang}",
                      format_func=lambda i: t("rv_td_label", lang, id=i, case=_case(by_id[i]),
                                              status=label("rv_td_", by_id[i].status, lang)))
td = by_id[chosen]
with st.form("rv_takedown_form"):
    c1, c2 = st.columns(2)
    # Keys per request: each request keeps what was typed for it.
    c1.selectbox(t("rv_next_status", lang), takedowns.NEXT[td.status], key=f"rv_td_next_{td.id}_{lang}",
                 format_func=lambda s: label("rv_td_", s, lang))
    c2.text_input(t("rv_platform", lang), value=td.platform or "", max_chars=128, key=f"rv_td_platform_{td.id}")
    st.text_input(t("rv_note", lang), key=f"rv_td_note_{td.id}")
    st.form_submit_button(t("save", lang), key="rv_td_save", on_click=_update_takedown, args=(td.id, td.version))
if "rv_td_error" in st.session_state:
    st.error(st.session_state.pop("rv_td_error"))
