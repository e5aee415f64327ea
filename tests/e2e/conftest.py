"""A real dashboard (streamlit run) on a fresh demo database, driven by Debian's headless Chromium."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import dashboard_server
from tests.dashboard_server import CHROMIUM, CHROMIUM_ARGS, ROOT


def _dscr(env, *args):
    subprocess.run([sys.executable, "-m", "cli", *args], cwd=ROOT, env=env, check=True,
                   capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="session")
def dashboard(tmp_path_factory):
    """(base URL, {username: password}, data dir) of a dashboard serving a 30-participant demo."""
    data = tmp_path_factory.mktemp("e2e-data")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DSCR_")}
    env.update(DSCR_DATA_DIR=str(data), PYTHONPATH=str(ROOT))
    _dscr(env, "db", "upgrade")
    _dscr(env, "demo-data", "--participants", "30", "--seed", "2", "--accounts-file",
          str(data / "accounts.txt"))
    accounts = {}
    for line in (data / "accounts.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            user, _role, pw = line.split()
            accounts[user] = pw
    proc, base = dashboard_server.start(env, data / "streamlit.log", timeout=90)
    yield base, accounts, data
    dashboard_server.stop(proc)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (scripts/ensure-browser.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, tmp_path_factory, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="ko-KR")
    p = context.new_page()
    p.set_default_timeout(30_000)
    yield p
    # Screenshots go to the test's temp dir; keep one of the final state for anyone debugging.
    p.screenshot(path=str(tmp_path_factory.mktemp("shots") / f"{request.node.name}.png"), full_page=True)
    context.close()


def wait_idle(page) -> None:
    """Streamlit's own e2e habit: wait for the app to be connected and not running, never sleep."""
    from playwright.sync_api import expect

    app = page.locator("[data-testid='stApp']")
    expect(app).to_have_attribute("data-test-connection-state", "CONNECTED")
    expect(app).to_have_attribute("data-test-script-state", "notRunning")


def wait_until(page, condition, what: str, seconds: float = 20.0) -> None:
    """Wait for a condition outside the page (a row in the store): a click's rerun may not have
    started yet when the page still says "notRunning", so that alone cannot tell a save landed."""

    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {seconds:.0f} s for {what}")
        page.wait_for_timeout(100)
    wait_idle(page)


def click_until(page, target, shown, *, attempts: int = 3, timeout: float = 20_000) -> None:
    """Click `target` until `shown` is visible. Under load, a click that reaches Streamlit while
    a run is ending or starting can be lost (the page stays as it was, nothing is sent again);
    seen with the sidebar's links and buttons. Only for clicks that may be repeated: a page link,
    a log-out."""
    from playwright.sync_api import expect

    for attempt in range(attempts):
        if attempt and shown.is_visible():
            break
        target.click()
        try:
            expect(shown).to_be_visible(timeout=timeout)
            break
        except AssertionError:
            if attempt == attempts - 1:
                raise
            wait_idle(page)
    wait_idle(page)


def open_page(page, link: str, heading: str | None = None) -> None:
    """Open a page from the sidebar and wait until it has drawn its title."""
    main = page.locator("[data-testid='stMain']")
    # The sidebar's link: a home page may link to the same page (st.page_link) when it has work.
    click_until(page, page.locator("[data-testid='stSidebar']").get_by_role("link", name=link),
                main.get_by_role("heading", name=heading or link))


def login(page, base: str, username: str, password: str, *, path: str = "") -> None:
    """Open a page without a log-in: the gate sends the browser to the form (dashboard/weblogin.py),
    whose answer sets the cookie and sends it back to the page (or shows why not)."""
    page.goto(base + path)
    page.get_by_label("아이디").fill(username)
    page.get_by_label("비밀번호").fill(password)
    page.get_by_text("위 안내를 읽었고 이에 따르겠습니다.").click()
    with page.expect_navigation():  # the form's answer: a page of its own, or a redirect
        page.get_by_role("button", name="로그인").click()
    if "/dscr/login" not in page.url:
        # "notRunning" is also what a page says before its first run has begun: wait for what only
        # a run of the logged-in app draws, then for that run to end. A click made while the first
        # run is still going can be lost (the analyst's home page is a heavy one).
        from playwright.sync_api import expect

        expect(page.get_by_text(f"로그인 계정: {username}")).to_be_visible(timeout=30_000)
        wait_idle(page)


def watch_session_ids(page) -> list[str]:
    """The Streamlit session ids the page's websocket is given, as they come (a list filled live)."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    seen: list[str] = []

    def frames(ws):
        def received(payload):
            if isinstance(payload, bytes):
                msg = ForwardMsg()
                msg.ParseFromString(payload)
                if msg.WhichOneof("type") == "new_session":
                    seen.append(msg.new_session.initialize.session_id)
        ws.on("framereceived", received)

    page.on("websocket", frames)
    return seen
