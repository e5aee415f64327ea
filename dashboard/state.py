"""The dashboard's per-process resources and per-user session state (never shared between users)."""

from __future__ import annotations

import streamlit as st

from db import service
from db.context import Actor, Context, Runtime


@st.cache_resource
def runtime() -> Runtime:
    # One engine per process, built when the app starts, never at import time.
    rt = Runtime()
    rt.check_key()
    return rt


def lang() -> str:
    return st.session_state.get("lang", "ko")


def current_actor() -> Actor | None:
    """The actor of this browser session, checked against the server-side session on every run."""
    token = st.session_state.get("token")
    if not token:
        return None
    actor = service.resume_login_session(runtime(), token)
    if actor is None:
        st.session_state.pop("token", None)
        st.session_state["ended"] = True
    return actor


def context(actor: Actor, task: str):
    return runtime().context(actor, task=task)


__all__ = ["Context", "context", "current_actor", "lang", "runtime"]


def require_page(action: str | None) -> Actor:
    """Every page starts here: a live session and a role that may take the page's action.

    The menu already hides pages a role may not use; this check is what holds when someone reaches
    the page anyway.
    """
    from dashboard.i18n import t
    from db import access

    actor = current_actor()
    if actor is None:
        st.warning(t("session_ended", lang()))
        st.stop()
    if action is not None and not access.is_allowed(actor.role, action):
        with context(actor, "page guard") as ctx:
            ctx.record_denied(action, f"page for {action} opened by role {actor.role}")
        st.error(t("access_denied", lang()))
        st.stop()
    return actor
