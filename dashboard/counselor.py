"""Pieces the counselor's pages share: choosing a participant of the caseload, step and status labels."""

from __future__ import annotations

import streamlit as st

from dashboard import state
from dashboard.i18n import label, t
from casework import service as casework
from db.context import Actor


def caseload_codes(actor: Actor, task: str) -> dict[str, int]:
    """Study code -> participant id of the caseload, plus participants opened by break-glass.

    The ids stay on the server (session state); the browser only ever sees study codes.
    """
    with state.context(actor, task) as ctx:
        codes = {r.study_code: r.participant_id for r in casework.my_caseload(ctx)}
    codes.update(st.session_state.get("break_glass_codes", {}))
    return codes


def choose_participant(codes: dict[str, int], key: str) -> tuple[str, int] | None:
    """A select box of study codes, kept in step with the other counselor pages.

    The choice is shared through st.session_state["current_code"], so that the participant chosen
    on one page is the one the next page opens.
    """
    lang = state.lang()
    if not codes:
        st.info(t("no_caseload", lang))
        return None
    options = list(codes)
    current = st.session_state.get("current_code")
    if current not in options:
        current = options[0]
        st.session_state["current_code"] = current
    st.session_state[key] = current

    def _share() -> None:
        st.session_state["current_code"] = st.session_state[key]

    code = st.selectbox(t("choose_participant", lang), options, key=key, on_change=_share)
    return code, codes[code]


def stage_label(stage: str, lang: str, short: bool = False) -> str:
    return t(("co_short_" if short else "co_stage_") + stage, lang)


def status_label(status: str, lang: str) -> str:
    return label("co_st_", status, lang)


__all__ = ["caseload_codes", "choose_participant", "stage_label", "status_label"]
