"""The educator's walk in a real browser: record a class, upload its survey file, see it counted."""

from __future__ import annotations

import re
import sqlite3

import pytest
from playwright.sync_api import expect

from prevention.instruments import get_survey_instrument
from tests.e2e.conftest import login, wait_idle, wait_until

pytestmark = pytest.mark.e2e


def _rows(data, sql: str, *args) -> list:
    con = sqlite3.connect(data / "dscr.sqlite3")
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def test_an_educator_records_a_class_and_uploads_its_survey_in_the_browser(dashboard, page, tmp_path):
    base, accounts, data = dashboard
    login(page, base, "educator1", accounts["educator1"])
    expect(page.get_by_text("educator1 님, 환영합니다.")).to_be_visible()
    menu = page.locator("[data-testid='stSidebarNav']").inner_text()
    assert "교육 실시 기록" in menu and "설문 결과 올리기" in menu
    assert "담당 사례" not in menu and "프로그램 성과" not in menu  # nothing of the counseling side

    mine = "SELECT d.id FROM prevention_deliveries d JOIN accounts a ON a.id = d.educator_id " \
           "WHERE a.username = 'educator1' ORDER BY d.id"
    before = _rows(data, mine)
    page.locator("[data-testid='stSidebar']").get_by_role("link", name="교육 실시 기록").click()
    wait_idle(page)
    expect(page.get_by_role("heading", name="교육 실시 기록", exact=True)).to_be_visible()
    page.get_by_label("참석 인원").fill("18")
    page.get_by_role("button", name="기록", exact=True).click()
    wait_until(page, lambda: len(_rows(data, mine)) == len(before) + 1, "the new delivery")
    expect(page.get_by_text("교육 실시를 기록했습니다")).to_be_visible()
    new_id = _rows(data, mine)[-1][0]
    audience, present = _rows(data, "SELECT audience, present FROM prevention_deliveries "
                                    "WHERE id = ?", new_id)[0]
    assert present == 18

    page.locator("[data-testid='stSidebar']").get_by_role("link", name="설문 결과 올리기").click()
    wait_idle(page)
    # The new class waits for its sheets, chosen first (newest first).
    expect(page.get_by_role("combobox", name="교육 실시")).to_have_value(
        re.compile(rf"^#{new_id} "))
    from prevention.instruments import instrument_for

    inst = instrument_for(audience)
    items = inst.item_ids
    if inst.kind == "observation":
        csv = "time," + ",".join(items) + "\n사전," + ",".join("2" for _ in items) + \
              "\n사후," + ",".join("3" for _ in items) + "\n"
    else:
        csv = "time,pair_code,satisfaction," + ",".join(items) + "\n" + "".join(
            f"pre,k{i},,{','.join('2' for _ in items)}\npost,k{i},5,{','.join('3' for _ in items)}\n"
            for i in range(3))
    form = page.locator("[data-testid='stForm']").filter(has_text="설문 CSV")
    form.locator("input[type='file']").set_input_files(
        {"name": "school.csv", "mimeType": "text/csv", "buffer": csv.encode()})
    expect(form.get_by_text("school.csv")).to_be_visible()
    form.get_by_role("button", name="가져오기").click()
    sheets = "SELECT count(*) FROM prevention_surveys WHERE delivery_id = ?"
    wait_until(page, lambda: _rows(data, sheets, new_id)[0][0] > 0, "the imported sheets")
    expect(page.get_by_text("설문을 가져왔습니다")).to_be_visible()
    assert _rows(data, sheets, new_id)[0][0] == (2 if inst.kind == "observation" else 6)
    assert get_survey_instrument(inst.id).id == inst.id
    page.screenshot(path=str(tmp_path / "educator-upload.png"), full_page=True)
