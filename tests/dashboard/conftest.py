"""AppTest helpers: the app on the test's database, signed in through a real server-side session."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from accounts import service as accounts
from dashboard.apptest import COOKIE_KEY as BROWSER_COOKIE
from dashboard.apptest import browser_cookies
from db.context import Actor
from db.schema import Account

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


@pytest.fixture(autouse=True)
def _browser_cookie():
    """AppTest has no browser and so no cookies: a test gives its simulated browser the log-in
    cookie by putting the token in session state under BROWSER_COOKIE (dashboard/apptest.py)."""
    with browser_cookies():
        yield


@pytest.fixture(autouse=True)
def _keep_main_module():
    # AppTest installs the script it runs as sys.modules["__main__"] and leaves it there; a later
    # test's spawned hashing processes would re-run that script (multiprocessing re-imports
    # __main__ by path). Put the real one back after every dashboard test.
    import sys

    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


@pytest.fixture
def app_env(monkeypatch, settings, rt):
    monkeypatch.setenv("DSCR_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DSCR_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("DSCR_KEY_FILE", str(settings.key_file))
    monkeypatch.setenv("DSCR_STUDY_KEY_FILE", str(settings.study_key_file))
    monkeypatch.setenv("DSCR_SCAN_ROOT", str(settings.data_dir))
    import streamlit as st
    st.cache_resource.clear()
    yield rt
    st.cache_resource.clear()


@pytest.fixture
def demo(app_env, demo_rt):
    """The app on a database holding the 40-participant synthetic programme (seed 3)."""
    return demo_rt


@pytest.fixture
def signed_in(app_env):
    """signed_in(username, page) -> an AppTest already on that page, as that account."""
    rt = app_env

    def _open(username: str, page: str | None = None) -> AppTest:
        with rt.sessions() as s:
            acc = s.scalars(select(Account).where(Account.username == username)).one()
        token = accounts.start_login_session(rt, Actor(acc.id, acc.username, acc.role))
        at = AppTest.from_file(APP, default_timeout=60)
        at.session_state[BROWSER_COOKIE] = token
        at.run()
        if page:
            at.switch_page(page).run()
        return at

    return _open
