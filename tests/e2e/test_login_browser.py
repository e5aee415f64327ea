"""Log-in and navigation in a real browser: Korean text, pages by role, nothing identifying leaks."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import login, wait_idle, wait_until

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
    page.get_by_role("link", name="담당 사례").click()
    wait_idle(page)
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
    page.get_by_role("link", name="참여자 기록").click()
    wait_idle(page)
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
    page.get_by_role("link", name="참여자 기록").click()
    wait_idle(page)
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
    page.get_by_role("link", name="검사 실시").click()
    wait_idle(page)
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
    page.get_by_role("link", name="3단계 평가 매트릭스").click()
    expect(main.get_by_role("heading", name="3단계 평가 매트릭스")).to_be_visible(timeout=30_000)
    wait_idle(page)
    expect(main.get_by_role("combobox", name="참여자 선택 (연구 코드)")).to_have_value(code)
    heatmap = main.locator(".js-plotly-plot").first
    expect(heatmap).to_contain_text(f"단계 × 영역 점수 · {code}")
    expect(heatmap).to_contain_text("상담 참여 (상담사 평정)")
    expect(heatmap).to_contain_text("4.0")
    page.screenshot(path=str(tmp_path / "matrix.png"), full_page=True)


def test_committee_sees_outcomes_with_a_chart_a_table_and_no_participant_code(dashboard, page, tmp_path):
    base, accounts, _ = dashboard
    login(page, base, "committee1", accounts["committee1"])
    page.get_by_role("link", name="프로그램 성과").click()
    wait_idle(page)
    expect(page.get_by_role("heading", name="프로그램 성과")).to_be_visible()
    # 30 participants: most cells are hidden, and the page says by which rule.
    expect(page.get_by_text("소표본 보호:")).to_be_visible()
    expect(page.locator("[data-testid='stPlotlyChart']").first).to_be_visible()
    expect(page.locator("[data-testid='stDataFrame']").first).to_be_visible()
    text = page.locator("[data-testid='stApp']").inner_text()
    assert not re.search(r"P-[0-9A-Z]{10}", text)
    page.screenshot(path=str(tmp_path / "committee-outcomes.png"), full_page=True)
