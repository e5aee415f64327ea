"""Log-in and navigation in a real browser: Korean text, pages by role, nothing identifying leaks."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import login, wait_idle

pytestmark = pytest.mark.e2e


def test_wrong_password_is_refused_in_the_browser(dashboard, page, tmp_path):
    base, _ = dashboard
    login(page, base, "counselor1", "not the password")
    expect(page.get_by_text("아이디 또는 비밀번호가 맞지 않거나")).to_be_visible()
    page.screenshot(path=str(tmp_path / "login-failed.png"), full_page=True)


def test_counselor_sees_the_caseload_by_study_code(dashboard, page, tmp_path):
    base, accounts = dashboard
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
    base, accounts = dashboard
    login(page, base, "committee1", accounts["committee1"])
    expect(page.get_by_text("committee1 님, 환영합니다.")).to_be_visible()
    text = page.locator("[data-testid='stApp']").inner_text()
    assert not re.search(r"P-[0-9A-Z]{10}", text)
    page.screenshot(path=str(tmp_path / "committee.png"), full_page=True)
