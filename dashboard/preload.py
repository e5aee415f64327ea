"""The browser loads Plotly's code while the user reads a page, not when the first chart is asked for.

Streamlit's frontend loads a component's module the first time a page shows one. Plotly's is
4.7 MB: fetching and evaluating it held Chromium's main thread for about 0.65 s, so the first
page with a chart in each browser session (the committee's outcomes, the analyst's recidivism,
the counselor's matrix) took about 2 s to draw at 10,000 participants instead of 0.8 s
(bench.browser). `script` is a small script for the dashboard's page: once the first page
is drawn and the browser is idle, it imports that module, which Streamlit's own import then finds
loaded (an ES module is evaluated once per document). dashboard/pagescripts.py adds the script.

The module's file name carries a content hash that changes with each Streamlit release; it is
looked up in the installed Streamlit's static files at start. If it is not found (a release that
renamed it), the page gets no preload and charts load as before
(tests/dashboard/test_pagescripts.py fails on such an upgrade).
"""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path

log = logging.getLogger(__name__)


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
