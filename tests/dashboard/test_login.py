"""Log-in: the form outside Streamlit that sets the HttpOnly cookie, the gate, pages by role.

The routes run in a real uvicorn server on a free loopback port, in front of a stand-in page for
Streamlit (the gate's job is only to send a browser without a live log-in to the form); the
whole dashboard behind them is driven in Chromium by tests/e2e/test_login_browser.py.
"""

from __future__ import annotations

import http.client
import threading
import time
import urllib.parse

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from dashboard import weblogin
from tests.dashboard.conftest import APP, BROWSER_COOKIE
from tests.pg import free_port

TITLES = {"pages/caseload.py": "담당 사례", "pages/audit.py": "감사 기록"}


@pytest.fixture
def server(app_env):
    """(host:port) of the log-in routes and the gate before a stand-in page, on the test's store."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def page(request):
        return PlainTextResponse("the dashboard page")

    app = Starlette(routes=[*weblogin.ROUTES, Route("/{path:path}", page)],
                    middleware=[Middleware(weblogin.LoginGate)])
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                        lifespan="off"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


def _request(host: str, method: str, path: str, *, form: dict | None = None,
             headers: dict | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection(host, timeout=30)
    body = urllib.parse.urlencode(form).encode() if form is not None else None
    hdrs = {"Accept": "text/html", **(headers or {})}
    if body is not None:
        hdrs["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body, headers=hdrs)
    response = conn.getresponse()
    response.text = response.read().decode()
    conn.close()
    return response


def _login(host: str, username: str, password: str, *, ack: bool = True, next_path: str = "/",
           headers: dict | None = None) -> http.client.HTTPResponse:
    form = {"username": username, "password": password, "next": next_path, "lang": "ko"}
    if ack:
        form["ack"] = "1"
    return _request(host, "POST", weblogin.LOGIN_PATH, form=form, headers=headers)


def _cookie(response) -> str | None:
    for value in response.headers.get_all("set-cookie") or []:
        name, _, rest = value.partition("=")
        if name == weblogin.COOKIE:
            return rest.split(";", 1)[0]
    return None


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_wrong_password_and_unknown_user_get_the_same_message(server, make_account):
    make_account("counselor", "counselor_a", "right password 1")
    wrong = _login(server, "counselor_a", "wrong password 1")
    unknown = _login(server, "nobody_here", "wrong password 1")
    assert wrong.status == unknown.status == 401
    assert "아이디 또는 비밀번호" in wrong.text
    assert wrong.text == unknown.text
    assert _cookie(wrong) is None and _cookie(unknown) is None


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_login_requires_the_privacy_notice(server, make_account, rt):
    from db.schema import LoginSession

    make_account("counselor", "counselor_b", "right password 1")
    refused = _login(server, "counselor_b", "right password 1", ack=False)
    assert refused.status == 400 and "개인정보 보호 안내에 동의해야" in refused.text
    assert _cookie(refused) is None
    with rt.sessions() as s:
        assert s.scalars(select(LoginSession)).all() == []


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_login_sets_an_httponly_strict_cookie_naming_a_server_side_session(server, make_account,
                                                                            rt):
    from accounts import service as accounts

    who = make_account("counselor", "counselor_c", "right password 1")
    ok = _login(server, "counselor_c", "right password 1", next_path="/caseload?x=1")
    assert ok.status == 303 and ok.headers["location"] == "/caseload?x=1"
    (raw,) = [v for v in ok.headers.get_all("set-cookie") if v.startswith(weblogin.COOKIE + "=")]
    flags = {part.strip().lower() for part in raw.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/"} <= flags
    assert "secure" not in flags  # plain http on 127.0.0.1 (the demo): a Secure cookie never returns
    token = _cookie(ok)
    assert accounts.resume_login_session(rt, token) == who
    # Behind the TLS proxy (deploy/nginx/dscr.conf says X-Forwarded-Proto: https) it is Secure.
    tls = _login(server, "counselor_c", "right password 1", headers={"X-Forwarded-Proto": "https"})
    (raw,) = [v for v in tls.headers.get_all("set-cookie") if v.startswith(weblogin.COOKIE + "=")]
    assert "secure" in {part.strip().lower() for part in raw.split(";")[1:]}


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_login_posted_from_another_site_is_refused(server, make_account):
    make_account("counselor", "counselor_d", "right password 1")
    refused = _login(server, "counselor_d", "right password 1",
                     headers={"Origin": "https://evil.example"})
    assert refused.status == 403 and _cookie(refused) is None
    for headers in ({"Sec-Fetch-Site": "cross-site", "Origin": "null"},
                    {"Sec-Fetch-Site": "same-site"}, {"Origin": "null"}):
        assert _login(server, "counselor_d", "right password 1", headers=headers).status == 403
    for headers in ({"Origin": f"http://{server}"},
                    {"Sec-Fetch-Site": "same-origin", "Origin": "null"}):  # no-referrer pages
        same = _login(server, "counselor_d", "right password 1", headers=headers)
        assert same.status == 303 and _cookie(same)


@pytest.mark.parametrize("target, expected", [
    ("/caseload", "/caseload"), ("/matrix?p=3", "/matrix?p=3"), (None, "/"), ("", "/"),
    ("//evil.example/x", "/"), ("https://evil.example", "/"), ("/\\evil.example", "/"),
    ("javascript:alert(1)", "/"), ("/dscr/logout", "/"), ("caseload", "/"),
])
def test_after_login_the_browser_goes_back_to_this_site_only(target, expected):
    assert weblogin.safe_next(target) == expected


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_gate_sends_a_browser_without_a_live_login_to_the_form(server, make_account, rt):
    from accounts import service as accounts

    make_account("counselor", "counselor_e", "right password 1")
    first = _request(server, "GET", "/caseload?p=2")
    assert first.status == 303
    assert first.headers["location"] == f"{weblogin.LOGIN_PATH}?next=%2Fcaseload%3Fp%3D2"
    assert "로그인" in _request(server, "GET", first.headers["location"]).text
    # Streamlit's own files and requests that do not ask for a page pass through.
    assert _request(server, "GET", "/static/js/index.js").status == 200
    assert _request(server, "GET", "/caseload", headers={"Accept": "application/json"}).status == 200
    token = _cookie(_login(server, "counselor_e", "right password 1"))
    cookie = {"Cookie": f"{weblogin.COOKIE}={token}"}
    assert _request(server, "GET", "/caseload", headers=cookie).text == "the dashboard page"
    # Log-out ends the session in the store and clears the cookie; the same cookie is then dead.
    out = _request(server, "GET", weblogin.LOGOUT_PATH, headers=cookie)
    assert out.status == 303 and out.headers["location"].startswith(weblogin.LOGIN_PATH)
    assert any(v.startswith(f'{weblogin.COOKIE}=""') or "max-age=0" in v.lower()
               for v in out.headers.get_all("set-cookie"))
    assert accounts.resume_login_session(rt, token) is None
    again = _request(server, "GET", "/caseload", headers=cookie)
    assert again.status == 303 and "ended=1" in again.headers["location"]
    assert "세션이 종료되었습니다" in _request(server, "GET", again.headers["location"]).text


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_typed_text_comes_back_escaped_on_the_form(server):
    page = _request(server, "GET", weblogin.LOGIN_PATH + "?next=" + urllib.parse.quote('/x"><script>'))
    assert "<script>" not in page.text.split("</style>", 1)[1]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_key_file_that_is_a_folder_is_one_line_on_the_login_page(server, make_account,
                                                                   monkeypatch, tmp_path):
    import streamlit as st

    make_account("reviewer", "reviewer_k", "right password 1")
    monkeypatch.setenv("DSCR_KEY_FILE", str(tmp_path))
    st.cache_resource.clear()
    page = _login(server, "reviewer_k", "right password 1")
    assert page.status == 503 and "Traceback" not in page.text
    assert (f"키 파일 {tmp_path}(DSCR_KEY_FILE)은(는) 파일이 아니라 폴더입니다. DSCR_KEY_FILE이(가) "
            "키 파일 자체를 가리키도록 설정하십시오.") in page.text.replace("&#x27;", "'")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_without_the_cookie_the_dashboard_shows_only_the_way_to_log_in(app_env, make_account):
    # The log-in is the cookie, not session state: an AppTest (a client) that does not present
    # one is nobody, whatever the session holds.
    make_account("counselor", "counselor_f", "right password 1")
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state["token"] = "whatever a session once held"
    at.run()
    assert not at.exception
    assert any("로그인한 뒤에 볼 수 있습니다" in m.value for m in at.markdown)
    assert not at.sidebar.button


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("role, shown, hidden", [
    ("counselor", {"pages/caseload.py"}, {"pages/audit.py"}),
    ("admin", {"pages/audit.py"}, {"pages/caseload.py"}),
    ("committee", set(), {"pages/audit.py", "pages/caseload.py"}),
    ("analyst", set(), {"pages/audit.py", "pages/caseload.py"}),
])
def test_navigation_shows_only_the_pages_of_the_role(app_env, make_account, signed_in, role, shown,
                                                    hidden):
    make_account(role, f"user_{role}", "right password 1")
    at = signed_in(f"user_{role}")
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
def test_a_session_may_upload_once_logged_in_and_only_with_its_cookie(app_env, make_account,
                                                                     monkeypatch):
    # The refusal itself, through the proxy, is checked in a real browser (tests/e2e/test_proxy.py).
    from accounts import service as accounts
    from dashboard import uploads

    monkeypatch.setattr(uploads, "_logged_in", {})
    who = make_account("reviewer", "reviewer_u", "right password 1")
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not uploads._logged_in  # the log-in page: this session may not upload
    token = accounts.start_login_session(app_env, who)
    at.session_state[BROWSER_COOKIE] = token
    at.run()
    (session,) = uploads._logged_in
    assert uploads.may_upload(session, token)
    # The session id alone (it is in every upload URL) is not enough, nor another log-in's cookie.
    assert not uploads.may_upload(session, None)
    assert not uploads.may_upload(session, accounts.start_login_session(app_env, who))
    # Ended in the store (log-out, idle time-out, an admin), the cookie uploads nothing more, even
    # before the session's next run forgets it.
    accounts.end_login_session(app_env, token)
    assert not uploads.may_upload(session, token)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_one_time_password_logs_in_only_with_a_new_password_of_ones_own(server, make_account, rt):
    from accounts import service as accounts
    from db.context import SYSTEM

    who = make_account("counselor", "counselor_otp", "right password 1")
    admin = make_account("admin", "admin_otp")
    with rt.context(admin) as ctx:
        one_time = accounts.reset_password(ctx, "counselor_otp")
    assert _login(server, "counselor_otp", "right password 1").status == 401  # the old one is gone
    asked = _login(server, "counselor_otp", one_time)
    assert asked.status == 200 and _cookie(asked) is None
    assert "일회용 비밀번호" in asked.text and 'name="new_password"' in asked.text
    assert one_time not in asked.text and 'value="counselor_otp"' in asked.text

    def change(new: str, again: str | None = None):
        form = {"username": "counselor_otp", "password": one_time, "new_password": new,
                "new_password2": new if again is None else again, "next": "/", "lang": "ko",
                "ack": "1"}
        return _request(server, "POST", weblogin.LOGIN_PATH, form=form)

    differ = change("a fresh passphrase 7", "a fresh passphrase 8")
    assert differ.status == 400 and "서로 다릅니다" in differ.text and _cookie(differ) is None
    weak = change("1234")
    assert weak.status == 400 and _cookie(weak) is None and 'name="new_password"' in weak.text
    ok = change("a fresh passphrase 7")
    assert ok.status == 303 and accounts.resume_login_session(rt, _cookie(ok)) == who
    # From now on the new password is the password, and the one-time one is spent.
    assert _login(server, "counselor_otp", one_time).status == 401
    assert _login(server, "counselor_otp", "a fresh passphrase 7").status == 303
    with rt.context(SYSTEM) as ctx:
        actions = [e.action for e in accounts.audit_entries(ctx, actor="counselor_otp", limit=50)]
    assert "password_change_required" in actions
