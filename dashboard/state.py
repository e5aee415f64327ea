"""The dashboard's per-process resources and per-user session state (never shared between users)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

import streamlit as st

from accounts import service as accounts
from db.context import Actor, Context, Runtime


@st.cache_resource
def runtime() -> Runtime:
    # One engine per process, built when the app starts, never at import time.
    rt = Runtime()
    rt.check_key()
    return rt


def lang() -> str:
    return st.session_state.get("lang", "ko")


def browser_token() -> str | None:
    """The log-in token this run's browser presents: the HttpOnly cookie that /dscr/login set
    (dashboard/weblogin.py), read from the run's own connection, never from session state."""
    from dashboard.weblogin import COOKIE

    return st.context.cookies.get(COOKIE)


def current_actor() -> Actor | None:
    """The actor of this browser, checked against the server-side session on every run.

    Nothing about the log-in is kept in `st.session_state`: a client that attaches itself to
    this Streamlit session with its id but without the cookie is nobody.
    """
    from dashboard.messages import localise
    from errors import StoreUnavailable

    token = browser_token()
    try:
        actor = accounts.resume_login_session(runtime(), token) if token else None
    except StoreUnavailable as exc:  # ending an idle session met another user's long write
        st.warning(localise(exc, lang()))
        st.stop()
    if actor is None:
        if token:
            st.session_state["ended"] = True
        forget()
    return actor


def context(actor: Actor, task: str):
    return runtime().context(actor, task=task)


__all__ = ["Context", "browser_token", "context", "current_actor", "forget", "keep", "lang", "lazy_tabs", "memo",
           "runtime"]

_NOTHING = object()


def keep(key: str, default: Any = _NOTHING) -> str:
    """A widget key whose value outlives runs in which the widget is not drawn.

    Streamlit forgets a widget's value when a run does not draw it (its tab is closed) or draws
    it anew (its labels changed with the language). Call this just before drawing the widget,
    as `st.selectbox(..., key=state.keep("by"))`; `default` replaces the widget's own default
    argument (giving both makes Streamlit warn).
    """
    shadow = f"_kept_{key}"
    if key in st.session_state:
        st.session_state[shadow] = st.session_state[key]
    elif shadow in st.session_state:
        st.session_state[key] = st.session_state[shadow]
    elif default is not _NOTHING:
        st.session_state[key] = default
    return key


def lazy_tabs(labels: Sequence[str], key: str) -> Sequence:
    """`st.tabs` in which only the open tab runs (test `tab.open`), and which stays on the same
    tab when the language, and so every label, changes."""
    labels = list(labels)
    shadow = f"_kept_{key}"
    current = st.session_state.get(key)
    if current in labels:
        st.session_state[shadow] = labels.index(current)
    elif shadow in st.session_state and st.session_state[shadow] < len(labels):
        st.session_state[key] = labels[st.session_state[shadow]]
    return st.tabs(labels, key=key, on_change="rerun")

T = TypeVar("T")
MEMO_KEY = "_memo"
MEMO_ENTRIES = 16


def memo(ctx: Context, key: Hashable, compute: Callable[[], T]) -> T:
    """The result of `compute()` kept in this user's session until the store's data changes.

    Streamlit reruns a page on every click; a pseudonymised frame or a fitted model need not be
    read and fitted again when nothing was written since. The memo lives in `st.session_state`
    (this browser session only, never `st.cache_data`, which every user of the process shares),
    is keyed by the signed-in account and `accounts.service.data_version` (read before computing, so a
    write during the computation makes the next run compute again), holds at most MEMO_ENTRIES
    results and is dropped at log-out. Errors are not kept: the next run tries again.
    """
    version = accounts.data_version(ctx)
    box = st.session_state.get(MEMO_KEY)
    if box is None or box["version"] != version or box["account"] != ctx.actor.id:
        box = {"version": version, "account": ctx.actor.id, "values": {}}
        st.session_state[MEMO_KEY] = box
    values: dict = box["values"]
    if key in values:
        values[key] = values.pop(key)  # the most recently used last
        return values[key]
    value = compute()
    values[key] = value
    while len(values) > MEMO_ENTRIES:
        values.pop(next(iter(values)))
    return value


def forget() -> None:
    """Drop this session's memo (at log-out, and whenever no one is signed in)."""
    st.session_state.pop(MEMO_KEY, None)


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
