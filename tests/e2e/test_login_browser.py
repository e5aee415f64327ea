"""Log-in and navigation in a real browser: Korean text, pages by role, nothing identifying leaks."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import login, wait_idle

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
    wait_idle(page)
    expect(page.locator("[data-testid='stAlert']")).to_have_count(0)
    expect(page.locator("[data-testid='stDataFrame']").first).to_be_visible()
    assert form is not None and before >= 0
    # The session is in the store, under this counselor, with the note encrypted.
    import sqlite3
    con = sqlite3.connect(data / "dscr.sqlite3")
    rows = con.execute(
        "SELECT s.minutes, s.notes_enc FROM counseling_sessions s JOIN accounts a"
        " ON a.id = s.created_by WHERE a.username = 'counselor2' AND s.minutes = 65").fetchall()
    con.close()
    assert len(rows) == 1 and "브라우저" not in rows[0][1]
    page.screenshot(path=str(tmp_path / "participant.png"), full_page=True)
