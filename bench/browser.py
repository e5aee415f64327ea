"""Page switches as a user feels them: the real dashboard in headless Chromium, every role's pages.

    python -m bench.browser [--participants 2000] [--seed 7] [--roles counselor,analyst]
                            [--repeat 2] --json PATH

The demo is built as `bench.dashboard` builds it (`dscr db upgrade`, `dscr demo-data` in child
processes), the dashboard is started with `streamlit run dashboard/serve.py`, and each role's demo
account logs in and opens every page it may see from the sidebar `--repeat` times. A switch is
timed from the click on the link until the page's heading is shown and the app is idle and drawn
(script state notRunning, no stale element, no component still loading its code, every Plotly
chart drawn). After log-in the browser is given the time to load Plotly's code while idle, as a
user reading the home page gives it (`charts_loaded`; dashboard/preload.py): without that, the
first chart of a session waited 0.65 s for it. The baseline in the same run is the home page's
switch.
The default size is 2,000 participants, not 10,000: the 10,000 demo takes long to load.

Where the time goes: each switch also records when the browser sent its rerun request
(`request_sent`), when the first and the last message came back over Streamlit's websocket
(`first_message`, `last_message`, seconds after the click) and the bytes received. A late request
is the browser still busy with the page before; the server has sent everything by the last
message, and what follows (`seconds - last_message`, the browser's share) is the browser drawing
the page.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import print_table, ratio, write_json
from bench.dashboard import build, settings_for
from tests import dashboard_server
from tests.dashboard_server import CHROMIUM, CHROMIUM_ARGS, ROOT

ROLES = ("counselor", "supervisor", "committee", "analyst", "reviewer", "admin", "educator")
# Idle and drawn: the script is not running, no element is stale, no element still waits for its
# code (Streamlit shows a skeleton while it loads a component's module, Plotly's 4.7 MB the first
# time), and every Plotly chart has drawn its plot.
IDLE = ("() => { const app = document.querySelector('[data-testid=\"stApp\"]');"
        " return app && app.getAttribute('data-test-script-state') === 'notRunning'"
        " && !document.querySelector('[data-stale=\"true\"], [data-testid=\"stSkeleton\"]')"
        " && [...document.querySelectorAll('[data-testid=\"stPlotlyChart\"]')]"
        ".every(c => c.querySelector('.main-svg')); }")


def accounts(path: Path) -> dict[str, tuple[str, str]]:
    """{role: (username, password)}: the first demo account of each role."""
    out: dict[str, tuple[str, str]] = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            user, role, pw = line.split()
            out.setdefault(role, (user, pw))
    return out


def serve(settings, log_path: Path):
    """(process, base URL) of a dashboard on the demo, once its health check answers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DSCR_")}
    env.update(DSCR_DATA_DIR=str(settings.data_dir), DSCR_DATABASE_URL=settings.database_url,
               DSCR_KEY_FILE=str(settings.key_file),
               DSCR_STUDY_KEY_FILE=str(settings.study_key_file), PYTHONPATH=str(ROOT))
    return dashboard_server.start(env, log_path)


def wait_idle(page) -> None:
    page.wait_for_function(IDLE, timeout=120_000)


def login(page, base: str, username: str, password: str) -> dict:
    """{"seconds": from the log-in click until the home page is idle, "charts_loaded": until the
    browser has also loaded Plotly's code while idle (dashboard/preload.py), which a user reading
    the home page gives it; the switches are timed after it}."""
    from playwright.sync_api import expect

    page.goto(base)
    page.get_by_label("아이디").fill(username)
    page.get_by_label("비밀번호").fill(password)
    page.get_by_text("위 안내를 읽었고 이에 따르겠습니다.").click()
    start = time.perf_counter()
    with page.expect_navigation():
        page.get_by_role("button", name="로그인").click()
    expect(page.get_by_text(f"로그인 계정: {username}")).to_be_visible(timeout=120_000)
    wait_idle(page)
    seconds = time.perf_counter() - start
    page.wait_for_function("() => document.documentElement.dataset.chartsLoaded === 'true'",
                           timeout=120_000)
    return {"seconds": seconds, "charts_loaded": time.perf_counter() - start}


class Frames:
    """What the page's websockets carried: (time, bytes) of every message received, and the time
    of every message the browser sent (its rerun request after a click)."""

    def __init__(self, page) -> None:
        self.received: list[tuple[float, int]] = []
        self.sent: list[float] = []
        page.on("websocket", self._watch)

    def _watch(self, ws) -> None:
        ws.on("framereceived", self._add)
        ws.on("framesent", lambda _payload: self.sent.append(time.perf_counter()))

    def _add(self, payload) -> None:
        self.received.append((time.perf_counter(), len(payload) if payload else 0))

    def since(self, start: float) -> dict:
        """Since `start`: bytes received, and seconds to the browser's first message (the rerun
        request), to the first message back and to the last one."""
        after = [(at, n) for at, n in self.received if at >= start]
        sent = [at - start for at in self.sent if at >= start]
        return {"received_bytes": sum(n for _, n in after),
                "request_sent": sent[0] if sent else None,
                "first_message": after[0][0] - start if after else None,
                "last_message": after[-1][0] - start if after else 0.0}


def switch(page, title: str, frames: Frames) -> dict:
    """{"seconds": from the click on the sidebar link until the heading is shown and the app idle,
    "received_bytes", "last_message": the websocket's share of it (see the module's docstring)}."""
    from playwright.sync_api import expect

    heading = page.locator("[data-testid='stMain']").get_by_role("heading", name=title, exact=True)
    start = time.perf_counter()
    page.locator("[data-testid='stSidebar']").get_by_role("link", name=title).click()
    expect(heading).to_be_visible(timeout=120_000)
    wait_idle(page)
    seconds = time.perf_counter() - start
    carried = frames.since(start)
    return {"seconds": seconds, **carried, "last_message": min(carried["last_message"], seconds)}


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--roles", default=",".join(ROLES))
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--json", default=None)
    parser.add_argument("--reuse", default=None, metavar="DIR",
                        help="a demo an earlier run built (bench.dashboard.build into DIR): "
                             "measured again without loading it anew")
    args = parser.parse_args(argv)
    roles = [r for r in args.roles.split(",") if r]

    import streamlit
    from playwright.sync_api import sync_playwright

    from dashboard.i18n import t
    from dashboard.navigation import visible_pages

    with tempfile.TemporaryDirectory(prefix="dscr-bench-browser-") as tmp:
        if args.reuse:
            folder, load_seconds = Path(args.reuse), None
            settings = settings_for(folder)
        else:
            folder = Path(tmp)
            settings, _rt, load_seconds = build(args.participants, args.seed, folder)
        users = accounts(folder / "demo-accounts.txt")
        proc, base = serve(settings, folder / "streamlit.log")
        switches, logins = [], []
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
                for role in roles:
                    username, password = users[role]
                    context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                                  locale="ko-KR")
                    page = context.new_page()
                    page.set_default_timeout(120_000)
                    frames = Frames(page)
                    logins.append({"role": role, **login(page, base, username, password)})
                    for run in range(args.repeat):
                        for path, key in visible_pages(role):
                            switches.append({"role": role, "page": key, "file": path, "run": run,
                                             **switch(page, t(key, "ko"), frames)})
                    context.close()
                browser.close()
        finally:
            dashboard_server.stop(proc)

    pages = []
    for role, key in dict.fromkeys((s["role"], s["page"]) for s in switches):
        mine = [s for s in switches if s["role"] == role and s["page"] == key]
        secs = [s["seconds"] for s in mine]
        pages.append({"role": role, "page": key, "median": statistics.median(secs),
                      "p95": p95(secs), "max": max(secs),
                      "last_message_median": statistics.median(s["last_message"] for s in mine),
                      "kib_median": statistics.median(s["received_bytes"] for s in mine) / 1024})
    home = [s["seconds"] for s in switches if s["page"] == "home"] or [s["seconds"] for s in switches]
    baseline = statistics.median(home)
    for row in pages:
        row["x_home"] = ratio(row["median"], baseline)
    every = [s["seconds"] for s in switches]
    slowest = max(pages, key=lambda r: r["max"])
    summary = {"median": statistics.median(every), "p95": p95(every),
               "slowest": {"role": slowest["role"], "page": slowest["page"],
                           "seconds": slowest["max"]},
               "baseline_home_median": baseline,
               "login_median": statistics.median(x["seconds"] for x in logins),
               "charts_loaded_median": statistics.median(x["charts_loaded"] for x in logins),
               # The browser's share of a switch: drawing after the last message arrived.
               "browser_share_median": statistics.median(
                   (s["seconds"] - s["last_message"]) / s["seconds"] for s in switches)}
    print_table(pages, ["role", "page", "median", "p95", "max", "last_message_median",
                        "kib_median", "x_home"])
    print(f"all switches: median {summary['median']:.2f} s, p95 {summary['p95']:.2f} s, slowest "
          f"{slowest['role']}/{slowest['page']} {slowest['max']:.2f} s; the browser's share "
          f"(after the last message) {summary['browser_share_median']:.0%}")
    result = {"machine": {"participants": args.participants, "seed": args.seed,
                          "streamlit": streamlit.__version__, "load_seconds": load_seconds,
                          "repeat": args.repeat, "roles": roles},
              "logins": logins, "switches": switches, "pages": pages, "summary": summary}
    if args.json:
        write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
