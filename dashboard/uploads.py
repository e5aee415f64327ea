"""Who may upload: Streamlit takes a file from any open session, so dscr refuses those not logged in."""

from __future__ import annotations

import re
import threading

# Streamlit's session ids of the sessions with someone logged in, kept by the dashboard's every
# run (dashboard/app.py) and read by the middleware below. Process-wide on purpose: the upload
# route sees only the session id. It holds no personal data, only those ids.
_logged_in: set[str] = set()
_lock = threading.Lock()
_UPLOAD = re.compile(r"(?:^|/)_stcore/upload_file/([^/]+)/")


def note_session(session_id: str, logged_in: bool) -> None:
    """Record whether this Streamlit session has someone logged in (called on every run)."""
    with _lock:
        if logged_in:
            _logged_in.add(session_id)
        else:
            _logged_in.discard(session_id)


def may_upload(session_id: str) -> bool:
    with _lock:
        return session_id in _logged_in


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
            if found and not may_upload(found.group(1)):
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
