"""The log-in page: accounts from the store, one message for any failure, pages by role."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import APP

TITLES = {"pages/caseload.py": "담당 사례", "pages/audit.py": "감사 기록"}


def _login(at: AppTest, username: str, password: str, ack: bool = True) -> AppTest:
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(password)
    if ack:
        at.checkbox(key="login_ack").check()
    at.button[0].click()
    return at.run()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_wrong_password_and_unknown_user_get_the_same_message(app_env, make_account):
    make_account("counselor", "counselor_a", "right password 1")
    at = AppTest.from_file(APP, default_timeout=30).run()
    _login(at, "counselor_a", "wrong password 1")
    msg_wrong = [e.value for e in at.error]
    at = AppTest.from_file(APP, default_timeout=30).run()
    _login(at, "nobody_here", "wrong password 1")
    msg_unknown = [e.value for e in at.error]
    assert msg_wrong == msg_unknown
    assert msg_wrong and "아이디 또는 비밀번호" in msg_wrong[0]
    assert "token" not in at.session_state


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_login_requires_the_privacy_notice(app_env, make_account):
    make_account("counselor", "counselor_b", "right password 1")
    at = AppTest.from_file(APP, default_timeout=30).run()
    _login(at, "counselor_b", "right password 1", ack=False)
    assert "token" not in at.session_state
    assert any("개인정보" in e.value for e in at.error)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("role, shown, hidden", [
    ("counselor", {"pages/caseload.py"}, {"pages/audit.py"}),
    ("admin", {"pages/audit.py"}, {"pages/caseload.py"}),
    ("committee", set(), {"pages/audit.py", "pages/caseload.py"}),
    ("analyst", set(), {"pages/audit.py", "pages/caseload.py"}),
])
def test_navigation_shows_only_the_pages_of_the_role(app_env, make_account, role, shown, hidden):
    make_account(role, f"user_{role}", "right password 1")
    at = AppTest.from_file(APP, default_timeout=30).run()
    _login(at, f"user_{role}", "right password 1")
    assert "token" in at.session_state
    assert any("환영합니다" in m.value for m in at.markdown)
    for page in shown:
        at.switch_page(page).run()
        assert not at.exception, page
        assert [t.value for t in at.title] == [TITLES[page]]
    for page in hidden:
        # The menu leaves it out, so Streamlit does not know the page for this user; reached
        # anyway, the page itself refuses before showing anything.
        try:
            at.switch_page(page).run()
        except ValueError as exc:
            assert "Could not find a navigation page" in str(exc)
            continue
        assert TITLES[page] not in [t.value for t in at.title], f"{role} reached {page}"
        assert [e.value for e in at.error] == ["접근 권한이 없습니다"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_session_may_upload_once_logged_in(app_env, make_account, monkeypatch):
    # Logging out and the refusal itself are checked in a real browser (tests/e2e/test_proxy.py).
    from dashboard import uploads

    monkeypatch.setattr(uploads, "_logged_in", set())
    make_account("reviewer", "reviewer_u", "right password 1")
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not uploads._logged_in  # the log-in page: this session may not upload
    _login(at, "reviewer_u", "right password 1")
    (session,) = uploads._logged_in
    assert uploads.may_upload(session)
