"""Log-in and navigation in a real browser: Korean text, pages by role, nothing identifying leaks."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import (click_until, login, open_page, wait_idle, wait_until,
                               watch_session_ids)

pytestmark = pytest.mark.e2e


def test_wrong_password_is_refused_in_the_browser(dashboard, page, tmp_path):
    base, _, _ = dashboard
    login(page, base, "counselor1", "not the password")
    expect(page.get_by_text("아이디 또는 비밀번호가 맞지 않거나")).to_be_visible()
    page.screenshot(path=str(tmp_path / "login-failed.png"), full_page=True)


def test_counselor_sees_the_caseload_by_study_code(dashboard, page, tmp_path):
    base, accounts, _ = dashboard
    login(page, base, "counselor1", accounts["counselor1"])
    expect(page.get_by_text("counselor1 님, 환영합니다.")).to_be_visible()
    open_page(page, "담당 사례")
    expect(page.get_by_role("heading", name="담당 사례")).to_be_visible()
    grid = page.locator("[data-testid='stDataFrame']")
    expect(grid).to_be_visible()
    page.screenshot(path=str(tmp_path / "caseload.png"), full_page=True)
    assert "감사 기록" not in page.locator("[data-testid='stSidebarNav']").inner_text()


def test_committee_sees_no_participant_code(dashboard, page, tmp_path):
    base, accounts, _ = dashboard
    login(page, base, "committee1", accounts["committee1"])
    expect(page.get_by_text("committee1 님, 환영합니다.")).to_be_visible()
    text = page.locator("[data-testid='stApp']").inner_text()
    assert not re.search(r"P-[0-9A-Z]{10}", text)
    page.screenshot(path=str(tmp_path / "committee.png"), full_page=True)


def test_counselor_records_a_session_and_sees_it_on_the_participant_page(dashboard, page, tmp_path):
    base, accounts, data = dashboard
    login(page, base, "counselor2", accounts["counselor2"])
    open_page(page, "참여자 기록")
    before = page.locator("[data-testid='stDataFrame']").count()
    form = page.locator("[data-testid='stForm']").filter(has_text="회기 기록하기").last
    page.get_by_label("시간(분)").fill("65")
    page.get_by_label("상담 메모 (피해자 식별 정보 금지)").fill("브라우저 시험: 동의 개념 역할극")
    page.get_by_role("button", name="저장").click()

    def saved() -> list:
        import sqlite3

        con = sqlite3.connect(data / "dscr.sqlite3")
        try:
            return con.execute(
                "SELECT s.minutes, s.notes_enc FROM counseling_sessions s JOIN accounts a"
                " ON a.id = s.created_by WHERE a.username = 'counselor2' AND s.minutes = 65"
            ).fetchall()
        finally:
            con.close()

    wait_until(page, saved, "the session to be saved")
    expect(page.locator("[data-testid='stAlert']")).to_have_count(0)
    expect(page.locator("[data-testid='stDataFrame']").first).to_be_visible()
    assert form is not None and before >= 0
    # The session is in the store, under this counselor, with the note encrypted.
    rows = saved()
    assert len(rows) == 1 and "브라우저" not in rows[0][1]
    page.screenshot(path=str(tmp_path / "participant.png"), full_page=True)


def test_typed_html_is_shown_as_text_never_run(dashboard, page):
    """A counselor's input echoed in an error message stays text: no element, no script."""
    base, accounts, _ = dashboard
    login(page, base, "counselor1", accounts["counselor1"])
    open_page(page, "참여자 기록")
    page.get_by_text("담당 외 참여자 열람 (사유 필수)").click()
    payload = '<img src="x" id="injected" onerror="window.__xss=1"><script>window.__xss=2</script>'
    page.get_by_role("textbox", name="연구 코드", exact=True).fill(payload)
    page.get_by_role("textbox", name="사유", exact=True).fill("위기 대응을 위한 확인 요청")
    page.get_by_role("button", name="열람", exact=True).click()
    wait_idle(page)
    expect(page.get_by_text("인 참여자가 없습니다", exact=False)).to_be_visible()  # the payload echoed in it
    assert page.locator("#injected").count() == 0
    assert page.evaluate("window.__xss") is None


def test_no_page_renders_raw_html():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "dashboard"
    for path in root.rglob("*.py"):
        text = path.read_text()
        assert "unsafe_allow_html=True" not in text, path
        assert "st.html(" not in text and "components.html(" not in text, path


def test_counselor_finalises_a_planning_rating_and_sees_it_on_the_matrix(dashboard, page, tmp_path):
    import json
    import sqlite3

    base, accounts, data = dashboard
    db = data / "dscr.sqlite3"
    con = sqlite3.connect(db)
    found = con.execute(
        "SELECT p.id, p.study_code FROM participants p"
        " JOIN counselor_assignments ca ON ca.participant_id = p.id"
        " JOIN accounts a ON a.id = ca.counselor_id"
        " JOIN stage_steps s ON s.participant_id = p.id AND s.stage = 'planning'"
        " WHERE a.username = 'counselor2' AND s.status = 'draft' AND p.status = 'active'"
        " ORDER BY p.id LIMIT 1").fetchone()
    con.close()
    assert found, "the e2e demo (30 participants, seed 2) gives counselor2 a planning draft"
    pid, code = found
    login(page, base, "counselor2", accounts["counselor2"])
    open_page(page, "검사 실시")
    main = page.locator("[data-testid='stMain']")
    # Choose the participant, then the counselor's rating form (the step opens at planning).
    for n, text in ((0, code), (2, "CR-3")):
        main.locator("[data-testid='stSelectbox']").nth(n).click()
        page.keyboard.type(text)
        page.keyboard.press("Enter")
        wait_idle(page)
    expect(main.get_by_role("heading", name=re.compile("CR-3"))).to_be_visible()
    radios = main.locator("[data-testid='stRadio']")
    expect(radios).to_have_count(3)
    for k in range(3):
        radios.nth(k).get_by_text(re.compile(r"^4 · ")).click()  # 4 on the 1..5 anchors
    page.get_by_role("textbox", name="위험 요인 메모 (점수에 반영되지 않음)").fill("브라우저 시험: 늦은 밤 대화방 사용")
    page.get_by_role("button", name="입력 완료 (채점)").click()

    def rating() -> tuple | None:
        con = sqlite3.connect(db)
        try:
            return con.execute(
                "SELECT status, responses, notes_enc FROM assessments WHERE participant_id = ?"
                " AND stage = 'planning' AND instrument_id = 'CR-3' AND status = 'final'"
                " ORDER BY step_version DESC", (pid,)).fetchone()
        finally:
            con.close()

    wait_until(page, lambda: rating() is not None, "the rating to be finalised")
    expect(main.locator("[data-testid='stAlert']")).to_have_count(0)
    page.screenshot(path=str(tmp_path / "instrument.png"), full_page=True)

    status, responses, notes = rating()
    assert status == "final" and json.loads(responses) == {"CR-01": 4, "CR-02": 4, "CR-03": 4}
    assert "브라우저" not in notes

    # The matrix page opens on the same participant and draws the new ratings. The save's own
    # rerun may still be running: a click then can be swallowed, so wait for it first.
    wait_idle(page)
    open_page(page, "3단계 평가 매트릭스")
    expect(main.get_by_role("combobox", name="참여자 선택 (연구 코드)")).to_have_value(code)
    heatmap = main.locator(".js-plotly-plot").first
    expect(heatmap).to_contain_text(f"단계 × 영역 점수 · {code}")
    expect(heatmap).to_contain_text("상담 참여 (상담사 평정)")
    expect(heatmap).to_contain_text("4.0")
    page.screenshot(path=str(tmp_path / "matrix.png"), full_page=True)


def test_committee_sees_outcomes_with_a_chart_a_table_and_no_participant_code(dashboard, page, tmp_path):
    base, accounts, _ = dashboard
    login(page, base, "committee1", accounts["committee1"])
    # The home page has no chart, yet the browser loads Plotly's code while idle (preload.py) ...
    expect(page.locator("html")).to_have_attribute("data-charts-loaded", "true", timeout=30_000)
    open_page(page, "프로그램 성과")
    expect(page.get_by_role("heading", name="프로그램 성과")).to_be_visible()
    # 30 participants: most cells are hidden, and the page says by which rule.
    expect(page.get_by_text("소표본 보호:")).to_be_visible()
    expect(page.locator("[data-testid='stPlotlyChart']").first).to_be_visible()
    expect(page.locator("[data-testid='stDataFrame']").first).to_be_visible()
    # ... which the chart then uses: fetched once, and drawn.
    expect(page.locator("[data-testid='stPlotlyChart'] .main-svg").first).to_be_visible()
    fetched = page.evaluate("performance.getEntriesByType('resource')"
                            ".filter(e => e.name.includes('/PlotlyChart.')).length")
    assert fetched == 1
    text = page.locator("[data-testid='stApp']").inner_text()
    assert not re.search(r"P-[0-9A-Z]{10}", text)
    page.screenshot(path=str(tmp_path / "committee-outcomes.png"), full_page=True)


def _session_cookie(context) -> dict:
    (cookie,) = [c for c in context.cookies() if c["name"] == "dscr_session"]
    return cookie


def test_the_login_is_an_httponly_cookie_that_a_refresh_and_a_new_tab_keep(dashboard, browser):
    base, accounts, _ = dashboard
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="ko-KR")
    try:
        page = context.new_page()
        # Opened directly, a page's URL goes to the form first and comes back to that page.
        login(page, base, "counselor1", accounts["counselor1"], path="/caseload")
        expect(page.get_by_role("heading", name="담당 사례")).to_be_visible()
        assert page.url.rstrip("/").endswith("/caseload")
        cookie = _session_cookie(context)
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
        assert "dscr_session" not in page.evaluate("document.cookie")  # scripts cannot read it
        page.reload()  # F5
        wait_idle(page)
        expect(page.get_by_role("heading", name="담당 사례")).to_be_visible()
        expect(page.get_by_text("로그인 계정: counselor1")).to_be_visible()
        other = context.new_page()  # a new tab, straight to another page's URL
        other.goto(base + "/participant")
        wait_idle(other)
        expect(other.get_by_text("로그인 계정: counselor1")).to_be_visible()
        # Log-out in one tab ends the log-in in the store: the other tab is logged out too.
        click_until(page, page.get_by_role("button", name="로그아웃", exact=True),
                    page.get_by_text("세션이 종료되었습니다"))
        other.reload()
        expect(other.get_by_label("아이디")).to_be_visible()
        assert "/dscr/login" in other.url
    finally:
        context.close()


def test_log_out_everywhere_ends_the_other_browsers_log_in(dashboard, browser):
    base, accounts, _ = dashboard
    first = browser.new_context(locale="ko-KR")
    second = browser.new_context(locale="ko-KR")
    try:
        a, b = first.new_page(), second.new_page()
        login(a, base, "analyst1", accounts["analyst1"])
        login(b, base, "analyst1", accounts["analyst1"])
        expect(b.get_by_text("로그인 계정: analyst1")).to_be_visible()
        click_until(a, a.get_by_role("button", name="모든 기기에서 로그아웃"),
                    a.get_by_text("세션이 종료되었습니다"))
        b.reload()
        expect(b.get_by_label("아이디")).to_be_visible()
    finally:
        first.close()
        second.close()


def _attach_with_session_id(base: str, session_id: str) -> bytes:
    """Another client that knows only the session id (from an upload URL in a proxy log): it
    attaches itself to the session as Streamlit's own reconnect does, asks for a run, and returns
    everything the server sent it until the run finished."""
    import asyncio

    import websockets
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    async def attack() -> bytes:
        url = base.replace("http://", "ws://") + "/_stcore/stream"
        received = []
        async with websockets.connect(url, subprotocols=["streamlit", "no-xsrf-token", session_id],
                                      max_size=None, open_timeout=20) as ws:
            rerun = BackMsg()
            rerun.rerun_script.query_string = ""
            rerun.rerun_script.page_script_hash = ""
            await ws.send(rerun.SerializeToString())
            async with asyncio.timeout(60):
                while True:
                    data = await ws.recv()
                    received.append(data)
                    msg = ForwardMsg()
                    msg.ParseFromString(data)
                    if msg.WhichOneof("type") == "new_session":
                        assert msg.new_session.initialize.session_id == session_id  # attached
                    if msg.WhichOneof("type") == "script_finished":
                        return b"".join(received)

    import threading

    out: list = []
    worker = threading.Thread(target=lambda: out.append(asyncio.run(attack())))
    worker.start()
    worker.join(timeout=90)
    assert out, "the replaying client saw no finished run"
    return out[0]


def test_a_session_id_alone_does_not_carry_the_login(dashboard, browser):
    base, accounts, _ = dashboard
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="ko-KR")
    try:
        page = context.new_page()
        seen = watch_session_ids(page)
        login(page, base, "counselor1", accounts["counselor1"], path="/caseload")
        expect(page.get_by_role("heading", name="담당 사례")).to_be_visible()
        assert seen, "no session id seen on the websocket"
        stolen = _attach_with_session_id(base, seen[-1])
        assert "로그인한 뒤에 볼 수 있습니다".encode() in stolen
        # Nothing of the user or their caseload; (Streamlit's own list of the session's pages, the
        # role's menu titles, may come along with the session: page names, no record.)
        for secret in ("counselor1", "환영합니다", "로그인 계정"):
            assert secret.encode() not in stolen, secret
        assert not re.search(rb"P-[0-9A-Z]{10}", stolen)
        # The browser that holds the cookie is still logged in.
        page.reload()
        wait_idle(page)
        expect(page.get_by_text("로그인 계정: counselor1")).to_be_visible()
    finally:
        context.close()


# Every text the page shows or names (tooltips, accessible names, placeholders), without the
# names of Material icons (drawn as icons, written as words).
_PAGE_WORDS = """() => {
  const icons = '[data-testid="stIconMaterial"], .material-symbols-rounded, .material-icons';
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const out = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode())
    if (!(n.parentElement && n.parentElement.closest(icons))) out.push(n.nodeValue.trim());
  for (const el of document.body.querySelectorAll('[title],[aria-label],[placeholder],[data-title]'))
    for (const a of ['title', 'aria-label', 'placeholder', 'data-title'])
      if (el.getAttribute(a)) out.push(el.getAttribute(a).trim());
  return out.filter(Boolean);
}"""


def test_streamlits_own_texts_are_korean_on_a_korean_page_and_english_on_an_english_one(dashboard, page):
    from dashboard import chrome

    base, accounts, _ = dashboard
    login(page, base, "reviewer1", accounts["reviewer1"])
    open_page(page, "해시 등록부")  # an uploader, a table and their toolbars
    uploader = page.locator("[data-testid='stFileUploaderDropzone']").first
    expect(uploader).to_contain_text("파일 올리기")
    expect(uploader).to_contain_text("파일당 최대 50MB")
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    words = page.evaluate(_PAGE_WORDS)
    english = re.compile(r"^(Press |Help for |year, |month, |day, )|\d+MB per file")
    assert [w for w in words if w in chrome.EXACT or english.search(w)] == []
    assert "본문으로 건너뛰기" in words and "사이드바 접기" in words

    # In English, Streamlit's own words again.
    page.get_by_role("combobox", name="언어").click()
    page.get_by_role("option", name="English").click()
    wait_idle(page)
    expect(page.locator("[data-testid='stMain']").get_by_role("heading", name="Hash registry")).to_be_visible()
    expect(uploader).to_contain_text("Upload")
    expect(uploader).to_contain_text("50MB per file")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    words = page.evaluate(_PAGE_WORDS)
    assert "Skip to main content" in words and "본문으로 건너뛰기" not in words
    assert not set(words) & set(chrome.EXACT.values())
