"""The scripts dscr adds to Streamlit's page: Plotly's code loaded while the browser is idle
(dashboard/preload.py) and Streamlit's own texts in Korean (dashboard/chrome.py).

`PageScripts`, an ASGI middleware in dashboard/serve.py, adds them before `</head>` of the page a
browser opens; every other response (Streamlit's files, its websocket, dscr's log-in form) passes
untouched.
"""

from __future__ import annotations

from dashboard import chrome, preload
from dashboard.weblogin import is_page

# Only Streamlit's own page is changed: it loads its code from ./static/js/index.<hash>.js.
_STREAMLIT_PAGE = b'src="./static/js/index.'
_HEAD_END = b"</head>"


def scripts() -> bytes:
    module = preload.chart_module()
    return chrome.script() + (preload.script(module) if module else b"")


def with_scripts(body: bytes, added: bytes) -> bytes:
    """Streamlit's page with `added` before `</head>`; any other HTML unchanged."""
    if _STREAMLIT_PAGE not in body or _HEAD_END not in body:
        return body
    return body.replace(_HEAD_END, added + _HEAD_END, 1)


class PageScripts:
    """ASGI middleware: the dashboard's pages (a browser's GET asking for HTML) come with the
    scripts above; every other response passes untouched."""

    def __init__(self, app) -> None:
        self.app = app
        self.added = scripts()

    async def __call__(self, scope, receive, send) -> None:
        if not is_page(scope) or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        start: dict | None = None  # the response's start, held until its body is complete
        passing = False  # not a page to change (an error, a redirect, compressed)
        chunks: list[bytes] = []

        async def buffered(message) -> None:
            nonlocal start, passing
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers", []))
                passing = (message["status"] != 200
                           or not headers.get(b"content-type", b"").startswith(b"text/html")
                           or b"content-encoding" in headers)
                if passing:
                    await send(message)
                else:
                    start = message
                return
            if passing or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = with_scripts(b"".join(chunks), self.added)
            headers = [(k, v) for k, v in start["headers"] if k != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, buffered)
