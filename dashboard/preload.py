"""The browser loads Plotly's code while the user reads a page, not when the first chart is asked for.

Streamlit's frontend loads a component's module the first time a page shows one. Plotly's is
4.7 MB: fetching and evaluating it held Chromium's main thread for about 0.65 s, so the first
page with a chart in each browser session (the committee's outcomes, the analyst's recidivism,
the counselor's matrix) took about 2 s to draw at 10,000 participants instead of 0.8 s
(bench.browser). `PreloadCharts` adds a small script to the dashboard's page: once the first page
is drawn and the browser is idle, it imports that module, which Streamlit's own import then finds
loaded (an ES module is evaluated once per document).

The module's file name carries a content hash that changes with each Streamlit release; it is
looked up in the installed Streamlit's static files at start. If it is not found (a release that
renamed it), pages are served unchanged and charts load as before
(tests/dashboard/test_preload.py fails on such an upgrade).
"""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path

from dashboard.weblogin import is_page

log = logging.getLogger(__name__)

# Only Streamlit's own page is changed: it loads its code from ./static/js/index.<hash>.js.
_STREAMLIT_PAGE = b'src="./static/js/index.'
_HEAD_END = b"</head>"


@functools.cache
def chart_module() -> str | None:
    """Plotly's module as Streamlit's page refers to it (`./static/js/PlotlyChart.<hash>.js`), or
    None when the installed Streamlit has no single such file."""
    import streamlit

    found = sorted((Path(streamlit.__file__).parent / "static" / "static" / "js")
                   .glob("PlotlyChart.*.js"))
    if len(found) != 1:
        log.warning("Plotly's module not found in Streamlit's static files (%d candidates): "
                    "charts load when first shown", len(found))
        return None
    return f"./static/js/{found[0].name}"


def script(module: str) -> bytes:
    """The script added to the page: after the first run is drawn (the app reports its script
    not running), when the browser is idle, import the module, then mark the page
    (`<html data-charts-loaded="true">`, which tests and bench.browser wait for). A failure
    changes nothing: the chart loads it again when shown."""
    return ("<script type=\"module\">"
            "const load = () => import(new URL(" + json.dumps(module) + ", document.baseURI).href)"
            ".then(() => { document.documentElement.dataset.chartsLoaded = 'true'; }, () => {});"
            "const idle = window.requestIdleCallback || ((f) => setTimeout(f, 200));"
            "const wait = setInterval(() => {"
            " const app = document.querySelector('[data-testid=\"stApp\"]');"
            " if (app && app.getAttribute('data-test-script-state') === 'notRunning') {"
            " clearInterval(wait); idle(load); } }, 200);"
            "</script>").encode()


def with_preload(body: bytes, module: str) -> bytes:
    """Streamlit's page with the script before `</head>`; any other HTML unchanged."""
    if _STREAMLIT_PAGE not in body or _HEAD_END not in body:
        return body
    return body.replace(_HEAD_END, script(module) + _HEAD_END, 1)


class PreloadCharts:
    """ASGI middleware: the dashboard's pages (a browser's GET asking for HTML) come with the
    script above; every other response passes untouched."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        module = chart_module()
        if module is None or not is_page(scope) or scope["method"] != "GET":
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
            body = with_preload(b"".join(chunks), module)
            headers = [(k, v) for k, v in start["headers"] if k != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, buffered)
