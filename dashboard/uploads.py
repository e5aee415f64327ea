"""Who may upload: Streamlit takes a file from any open session, so dscr refuses those not logged in.

An upload is accepted only for a Streamlit session in which someone is logged in, and only from
the browser holding that log-in's cookie: the session id alone, which the upload URL itself
carries, is not enough.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading

from starlette.concurrency import run_in_threadpool

from dashboard import weblogin

# Streamlit's session ids of the sessions with someone logged in, each with a hash of the log-in
# cookie it runs under, kept by the dashboard's every run (dashboard/app.py) and read by the
# middleware below. Process-wide on purpose: the upload route sees only the request. It holds no
# personal data, only those ids and hashes.
_logged_in: dict[str, bytes] = {}
_lock = threading.Lock()
_UPLOAD = re.compile(r"(?:^|/)_stcore/upload_file/([^/]+)/")


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def note_session(session_id: str, token: str | None) -> None:
    """Record the log-in this Streamlit session runs under, or None (called on every run)."""
    with _lock:
        if token:
            _logged_in[session_id] = _digest(token)
        else:
            _logged_in.pop(session_id, None)


def may_upload(session_id: str, token: str | None) -> bool:
    """Whether this request may upload to this session: the session runs under a log-in, the
    request carries that log-in's cookie, and the log-in is still live in the store (it may have
    ended, idled out or been revoked since the session's last run). Reads the store: call it off
    the event loop."""
    with _lock:
        bound = _logged_in.get(session_id)
    if bound is None or token is None or not hmac.compare_digest(bound, _digest(token)):
        return False
    return weblogin.is_live(token)


def _drain_limit() -> int:
    from streamlit import config

    return (config.get_option("server.maxUploadSize") + 1) << 20


class UploadGuard:
    """ASGI middleware for st.App: a PUT to /_stcore/upload_file/<session>/... from a session that
    is not logged in never reaches Streamlit; it gets 403 and none of its body is kept."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] == "PUT":
            found = _UPLOAD.search(scope["path"])
            if found and not await run_in_threadpool(may_upload, found.group(1),
                                                     weblogin.cookie_from_scope(scope)):
                await self._refuse(receive, send)
                return
        await self.app(scope, receive, send)

    @staticmethod
    async def _refuse(receive, send) -> None:
        # Read the body away (up to the upload limit) before answering: a server that answers
        # and closes while the body still comes resets the connection, and a proxy in front
        # then reports its own 502 instead of this 403.
        left = _drain_limit()
        while left > 0:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            left -= len(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"Log in to upload files."
        await send({"type": "http.response.start", "status": 403,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
