"""For harnesses only (tests, bench): give an AppTest run the log-in cookie a browser would send.

AppTest has no browser, so `st.context.cookies` is always empty under it. `browser_cookies()`
makes `dashboard.state.browser_token` read the token from the AppTest's session state, under
`COOKIE_KEY`, for as long as the context lasts. The dashboard itself never calls this; a running
server reads only the real cookie (tests/e2e checks that in Chromium).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

COOKIE_KEY = "_test_browser_cookie"


@contextlib.contextmanager
def browser_cookies() -> Iterator[None]:
    import streamlit as st

    from dashboard import state

    real = state.browser_token
    state.browser_token = lambda: st.session_state.get(COOKIE_KEY)
    try:
        yield
    finally:
        state.browser_token = real
