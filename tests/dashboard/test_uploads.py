"""The upload guard: Streamlit's upload route answers only sessions with someone logged in, and
only the browser holding that log-in's cookie."""

from __future__ import annotations

import asyncio
import threading

import pytest

from dashboard import uploads, weblogin


def _call(method: str, path: str, chunks: int = 3, cookie: str | None = None
          ) -> tuple[int | None, bool]:
    """(status the guard sent itself or None, whether the request reached Streamlit)."""
    sent, reached = [], []
    body = [{"type": "http.request", "body": b"x" * 1024, "more_body": i < chunks - 1}
            for i in range(chunks)]

    async def streamlit(scope, receive, send):
        reached.append(scope["path"])

    async def receive():
        return body.pop(0) if body else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    guard = uploads.UploadGuard(streamlit)
    headers = [(b"cookie", f"other=1; {weblogin.COOKIE}={cookie}".encode())] if cookie else []
    # In a thread of its own: Playwright's sync API (the e2e tests in the same run) leaves an
    # event loop running in the main thread, where asyncio.run() refuses to start another.
    worker = threading.Thread(target=asyncio.run,
                              args=(guard({"type": "http", "method": method, "path": path, "headers": headers},
                                          receive, send),))
    worker.start()
    worker.join(timeout=30)
    status = next((m["status"] for m in sent if m["type"] == "http.response.start"), None)
    _call.unread = len(body)
    return status, bool(reached)


def test_an_upload_from_a_session_nobody_logged_in_to_is_refused_unread():
    uploads.note_session("s-anon", None)
    assert _call("PUT", "/_stcore/upload_file/s-anon/f1") == (403, False)
    assert _call.unread == 0  # read away, so that a proxy in front sees the answer
    assert _call("PUT", "/dscr/_stcore/upload_file/s-anon/f1") == (403, False)  # a base URL path


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_logged_in_session_uploads_with_its_cookie_until_it_logs_out(app_env, make_account):
    from accounts import service as accounts

    who = make_account("reviewer", "reviewer_up")
    token = accounts.start_login_session(app_env, who)
    uploads.note_session("s-user", token)
    assert _call("PUT", "/_stcore/upload_file/s-user/f1", cookie=token) == (None, True)
    # The session id alone is what a proxy log or a shared link gives away: not enough.
    assert _call("PUT", "/_stcore/upload_file/s-user/f1") == (403, False)
    other = accounts.start_login_session(app_env, who)
    assert _call("PUT", "/_stcore/upload_file/s-user/f1", cookie=other) == (403, False)
    accounts.end_login_session(app_env, token)
    assert _call("PUT", "/_stcore/upload_file/s-user/f1", cookie=token) == (403, False)
    uploads.note_session("s-user", None)
    assert _call("PUT", "/_stcore/upload_file/s-user/f1", cookie=token) == (403, False)


def test_other_requests_pass_untouched():
    assert _call("GET", "/_stcore/health") == (None, True)
    assert _call("DELETE", "/_stcore/upload_file/s-anon/f1") == (None, True)  # dropping is harmless
    assert _call("PUT", "/upload_file/s-anon/f1") == (None, True)


def test_the_guard_reads_away_no_more_than_the_upload_limit(monkeypatch):
    monkeypatch.setattr(uploads, "_drain_limit", lambda: 4096)
    uploads.note_session("s-anon", None)
    assert _call("PUT", "/_stcore/upload_file/s-anon/f1", chunks=10_000) == (403, False)
    assert _call.unread == 10_000 - 4  # four chunks of 1 KiB read, then the answer
