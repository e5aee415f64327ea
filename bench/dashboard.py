"""Server time of every dashboard page for every role, on a large synthetic programme (AppTest).

    python -m bench.dashboard [--participants 10000] [--quick] --json PATH

Each page is rendered by Streamlit's AppTest as a signed-in account of the role; the time is the
script run on the server (what a user waits for before the browser draws). `seconds` is the first
render of the page in a fresh session (nothing in the session's memo: every read and fit done);
`rerun_seconds` is the next run of the same page with nothing written in between (what each
click on the page costs: the memo, `dashboard.state.memo`, holds what was read). The baseline in
the same run is the home page, which does no data work: the ratio says what the data costs.
`views` times what a user does next on the heaviest pages (another grouping, another tab): the
run that action causes, with its data not yet in the memo.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench.common import print_table, ratio, write_json
from dashboard.apptest import COOKIE_KEY, browser_cookies

ROLES_USERS = {"counselor": "counselor1", "committee": "committee1", "analyst": "analyst1",
               "reviewer": "reviewer1", "admin": "admin"}


def settings_for(folder: Path):
    """The settings of a demo built into `folder` (its SQLite file and key files)."""
    from db.config import Settings

    return Settings(data_dir=folder, database_url=f"sqlite:///{folder / 'dscr.sqlite3'}",
                    key_file=folder / "field.key", study_key_file=folder / "study-code.key",
                    user=None, scan_roots=(folder / "scan-inbox",))


def build(participants: int, seed: int, folder: Path):
    """The demo programme as an operator makes it (`dscr db upgrade`, `dscr demo-data`), in child
    processes: the timing process then holds what a dashboard process holds, not the millions of
    objects the load went through."""
    import subprocess
    import sys

    from db.context import Runtime

    settings = settings_for(folder)
    env = {**os.environ, "DSCR_DATA_DIR": str(folder), "DSCR_DATABASE_URL": settings.database_url,
           "DSCR_KEY_FILE": str(settings.key_file),
           "DSCR_STUDY_KEY_FILE": str(settings.study_key_file)}
    root = Path(__file__).resolve().parent.parent
    dscr = [sys.executable, str(root / "cli.py")]
    subprocess.run([*dscr, "db", "upgrade"], env=env, check=True, capture_output=True)
    start = time.perf_counter()
    subprocess.run([*dscr, "demo-data", "--participants", str(participants), "--seed", str(seed),
                    "--accounts-file", str(folder / "demo-accounts.txt")],
                   env=env, check=True, capture_output=True)
    return settings, Runtime(settings), time.perf_counter() - start


def time_pages(settings, rt, repeat: int) -> list[dict]:
    from sqlalchemy import select
    from streamlit.testing.v1 import AppTest

    from dashboard.navigation import visible_pages
    from accounts import service as accounts_service
    from db.context import Actor
    from db.schema import Account

    os.environ.update(DSCR_DATA_DIR=str(settings.data_dir), DSCR_DATABASE_URL=settings.database_url,
                      DSCR_KEY_FILE=str(settings.key_file),
                      DSCR_STUDY_KEY_FILE=str(settings.study_key_file))
    app = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
    rows = []
    for role, username in ROLES_USERS.items():
        with rt.sessions() as s:
            acc = s.scalars(select(Account).where(Account.username == username)).one()
        actor = Actor(acc.id, acc.username, acc.role)
        for path, _key in visible_pages(role):
            best = rerun = float("inf")
            for _ in range(repeat):
                at = AppTest.from_file(app, default_timeout=300)
                at.session_state[COOKIE_KEY] = accounts_service.start_login_session(rt, actor)
                at.run()
                start = time.perf_counter()
                at.switch_page(path).run()
                best = min(best, time.perf_counter() - start)
                if at.exception:
                    raise RuntimeError(f"{path} as {role} raised: {at.exception[0].message}")
                start = time.perf_counter()
                at.run()
                rerun = min(rerun, time.perf_counter() - start)
            rows.append({"page": path, "role": role, "seconds": best, "rerun_seconds": rerun})
    return rows


# What a user does next on the heaviest pages, each timed as the run it causes (its data not yet
# in the session's memo): (role, page, view, how to get there).
VIEWS = (
    ("committee", "pages/outcomes.py", "grouped by cohort",
     lambda at: at.selectbox(key="cm_by").set_value("cohort")),
    ("committee", "pages/outcomes.py", "grouped by offence type",
     lambda at: at.selectbox(key="cm_by").set_value("offence_type")),
    ("analyst", "pages/recidivism.py", "Kaplan-Meier by offence group",
     lambda at: at.selectbox(key="an_km_by").set_value("offence_group")),
    ("analyst", "pages/recidivism.py", "Cox tab opened (completed)",
     lambda at: at.session_state.__setitem__("an_tabs", _tab_label("an_cox_header"))),
)


def _tab_label(key: str) -> str:
    from dashboard.i18n import TEXT

    return TEXT[key]["ko"]


def time_views(settings, rt, repeat: int) -> list[dict]:
    from sqlalchemy import select
    from streamlit.testing.v1 import AppTest

    from accounts import service as accounts_service
    from db.context import Actor
    from db.schema import Account

    app = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
    rows = []
    for role, path, view, act in VIEWS:
        with rt.sessions() as s:
            acc = s.scalars(select(Account).where(Account.username == ROLES_USERS[role])).one()
        actor = Actor(acc.id, acc.username, acc.role)
        best = float("inf")
        for _ in range(repeat):
            at = AppTest.from_file(app, default_timeout=300)
            at.session_state[COOKIE_KEY] = accounts_service.start_login_session(rt, actor)
            at.run()
            at.switch_page(path).run()
            act(at)
            start = time.perf_counter()
            at.run()
            best = min(best, time.perf_counter() - start)
            if at.exception:
                raise RuntimeError(f"{path} ({view}) as {role} raised: {at.exception[0].message}")
        # A view may refuse on a small programme (a Cox model with too few events): say so.
        refused = "; ".join(e.value for e in at.error)
        rows.append({"page": path, "role": role, "view": view, "seconds": best,
                     "refused": refused or None})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--participants", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="1,000 participants, one repeat")
    ap.add_argument("--json", required=True)
    args = ap.parse_args(argv)
    n = 1000 if args.quick else args.participants
    repeat = 1 if args.quick else args.repeat
    with tempfile.TemporaryDirectory(prefix="dscr-bench-dash-") as tmp:
        settings, rt, load_s = build(n, args.seed, Path(tmp))
        # AppTest has no browser: each run is given the log-in cookie a browser would send.
        with browser_cookies():
            pages = time_pages(settings, rt, repeat)
            views = time_views(settings, rt, repeat)
        rt.dispose()
    home = {r["role"]: r["seconds"] for r in pages if r["page"] == "pages/home.py"}
    for r in pages:
        r["ratio_to_home"] = ratio(r["seconds"], home.get(r["role"], float("nan")))
    slowest = max(pages, key=lambda r: r["seconds"])
    result = {"participants": n, "demo_load_seconds": load_s, "pages": pages, "views": views,
              "slowest": {"page": slowest["page"], "role": slowest["role"], "seconds": slowest["seconds"]},
              "target_seconds": 1.0}
    print_table(pages, ["role", "page", "seconds", "rerun_seconds", "ratio_to_home"])
    print_table(views, ["role", "page", "view", "seconds"])
    print(f"slowest: {slowest['page']} as {slowest['role']}: {slowest['seconds']:.3f} s "
          f"({n} participants; demo load {load_s:.0f} s)")
    write_json(args.json, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
