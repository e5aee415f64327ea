"""The upload guard: Streamlit's upload route answers only sessions with someone logged in."""

from __future__ import annotations

import asyncio
import threading

from dashboard import uploads


def _call(method: str, path: str, chunks: int = 3) -> tuple[int | None, bool]:
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
    # In a thread of its own: Playwright's sync API (the e2e tests in the same run) leaves an
    # event loop running in the main thread, where asyncio.run() refuses to start another.
    worker = threading.Thread(target=asyncio.run,
                              args=(guard({"type": "http", "method": method, "path": path}, receive, send),))
    worker.start()
    worker.join(timeout=30)
    status = next((m["status"] for m in sent if m["type"] == "http.response.start"), None)
    _call.unread = len(body)
    return status, bool(reached)


def test_an_upload_from_a_session_nobody_logged_in_to_is_refused_unread():
    uploads.note_session("s-anon", False)
    assert _call("PUT", "/_stcore/upload_file/s-anon/f1") == (403, False)
    assert _call.unread == 0  # read away, so that a proxy in front sees the answer
    assert _call("PUT", "/dscr/_stcore/upload_file/s-anon/f1") == (403, False)  # a base URL path


def test_a_logged_in_session_uploads_until_it_logs_out():
    uploads.note_session("s-user", True)
    assert _call("PUT", "/_stcore/upload_file/s-user/f1") == (None, True)
    uploads.note_session("s-user", False)
    assert _call("PUT", "/_stcore/upload_file/s-user/f1") == (403, False)


def test_other_requests_pass_untouched():
    assert _call("GET", "/_stcore/health") == (None, True)
    assert _call("DELETE", "/_stcore/upload_file/s-anon/f1") == (None, True)  # dropping is harmless
    assert _call("PUT", "/upload_file/s-anon/f1") == (None, True)


def test_the_guard_reads_away_no_more_than_the_upload_limit(monkeypatch):
    monkeypatch.setattr(uploads, "_drain_limit", lambda: 4096)
    uploads.note_session("s-anon", False)
    assert _call("PUT", "/_stcore/upload_file/s-anon/f1", chunks=10_000) == (403, False)
    assert _call.unread == 10_000 - 4  # four chunks of 1 KiB read, then the answer
