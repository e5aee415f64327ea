"""The scripts added to the dashboard's page (dashboard/pagescripts.py): Plotly's code loaded while
idle (dashboard/preload.py) and Streamlit's own texts in Korean (dashboard/chrome.py); every other
response passes untouched."""

from __future__ import annotations

import asyncio
import re
import threading
from pathlib import Path

import streamlit

from dashboard import chrome, pagescripts, preload

STATIC = Path(streamlit.__file__).parent / "static"
PAGE = {"type": "http", "method": "GET", "path": "/outcomes",
        "headers": [(b"accept", b"text/html,application/xhtml+xml")]}


def _serve(scope: dict, status: int, headers: list, parts: list[bytes]) -> tuple[dict, bytes]:
    """(the response's start message, its whole body) through the middleware, the app answering
    with `parts` as separate body messages."""
    sent: list[dict] = []

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": status, "headers": headers})
        for i, part in enumerate(parts):
            await send({"type": "http.response.body", "body": part, "more_body": i < len(parts) - 1})

    async def receive():
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    # In a thread of its own: the e2e tests' Playwright leaves an event loop in the main thread.
    worker = threading.Thread(target=asyncio.run, args=(pagescripts.PageScripts(app)(scope, receive, send),))
    worker.start()
    worker.join(timeout=30)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def test_the_module_is_the_one_streamlits_own_page_imports_for_a_chart():
    module = preload.chart_module()
    assert module is not None, "Streamlit's Plotly module was not found: see dashboard/preload.py"
    name = module.removeprefix("./static/js/")
    assert (STATIC / "static" / "js" / name).is_file()
    # Streamlit's page loads index.<hash>.js, which imports the chart module by this very name
    # (the same URL, so the browser evaluates it once).
    index = re.search(rb'src="\./static/js/(index\.[^"]+\.js)"', (STATIC / "index.html").read_bytes())
    assert index is not None
    assert f"./{name}".encode() in (STATIC / "static" / "js" / index.group(1).decode()).read_bytes()


def test_streamlits_page_gets_the_script_before_its_head_ends_with_a_true_length():
    html = (STATIC / "index.html").read_bytes()
    half = len(html) // 2
    start, body = _serve(PAGE, 200, [(b"content-type", b"text/html"),
                                     (b"content-length", str(len(html)).encode())],
                         [html[:half], html[half:]])
    script = pagescripts.scripts()
    assert body == html.replace(b"</head>", script + b"</head>", 1)
    assert body.index(script) < body.index(b"</head>") < body.index(b"<body")
    assert chrome.script() in script and preload.script(preload.chart_module()) in script
    lengths = [v for k, v in start["headers"] if k == b"content-length"]
    assert lengths == [str(len(body)).encode()]
    assert preload.chart_module().encode() in script and b"chartsLoaded" in script
    assert "본문으로 건너뛰기".encode() in script


def test_other_responses_pass_untouched():
    html = (STATIC / "index.html").read_bytes()
    js = b"export const x = 1;"
    # A script file, an error page, a compressed page, another HTML page (the log-in form's).
    assert _serve({**PAGE, "path": "/static/js/index.js", "headers": [(b"accept", b"*/*")]}, 200,
                  [(b"content-type", b"text/javascript")], [js])[1] == js
    assert _serve(PAGE, 404, [(b"content-type", b"text/html")], [html])[1] == html
    assert _serve(PAGE, 200, [(b"content-type", b"text/html"), (b"content-encoding", b"gzip")],
                  [b"\x1f\x8b..."])[1] == b"\x1f\x8b..."
    form = b"<html><head><title>login</title></head><body></body></html>"
    assert _serve(PAGE, 200, [(b"content-type", b"text/html")], [form])[1] == form
    # A POST is never a page.
    assert _serve({**PAGE, "method": "POST"}, 200, [(b"content-type", b"text/html")], [html])[1] == html


def test_without_plotlys_module_the_page_gets_only_the_korean_texts(monkeypatch):
    monkeypatch.setattr(preload, "chart_module", lambda: None)
    html = (STATIC / "index.html").read_bytes()
    body = _serve(PAGE, 200, [(b"content-type", b"text/html")], [html])[1]
    assert body == html.replace(b"</head>", chrome.script() + b"</head>", 1)


def _streamlit_code() -> str:
    return "\n".join(p.read_text(errors="replace") for p in (STATIC / "static" / "js").glob("*.js"))


def test_every_text_translated_is_still_streamlits_own():
    """A Streamlit upgrade that rewords a text leaves its Korean unused: found here."""
    code = _streamlit_code()
    stale = [text for text in chrome.EXACT if text not in code]
    assert stale == []
    # The patterns' fixed parts, as Streamlit's code builds them.
    for fixed in ("per file", "Press Enter to ", "submit form", "apply", "Help for "):
        assert fixed in code, fixed
    assert all(text != korean and korean for text, korean in chrome.EXACT.items())
