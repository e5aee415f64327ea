"""`python -m bench.dashboard` measures every page of every role and writes the JSON the issue
asks for (run here on a small programme: the figures at 10,000 participants are in the README).

Times are not bounded here (the machine is shared): the test checks that the JSON says what it
claims, for the programme that was asked for."""

from __future__ import annotations

import json
import math
from collections import Counter

import pytest
from sqlalchemy import func, select

from bench import dashboard as bench
from dashboard.navigation import visible_pages
from db.schema import Participant


def a_time(value) -> bool:
    return isinstance(value, float) and math.isfinite(value) and value >= 0


@pytest.mark.slow  # builds a demo in child processes and renders every page (~30 s)
def test_the_dashboard_benchmark_times_every_page_once_and_names_the_slowest(tmp_path, monkeypatch,
                                                                            capsys):
    for name in ("DSCR_DATA_DIR", "DSCR_DATABASE_URL", "DSCR_KEY_FILE", "DSCR_STUDY_KEY_FILE"):
        monkeypatch.setenv(name, "")  # restored after the test: the benchmark sets its own
    built = {}
    build = bench.build

    def counting_build(participants, seed, folder):
        settings, rt, seconds = build(participants, seed, folder)
        with rt.sessions() as s:
            built["participants"] = s.scalar(select(func.count()).select_from(Participant))
        return settings, rt, seconds

    monkeypatch.setattr(bench, "build", counting_build)
    out = tmp_path / "dashboard.json"
    assert bench.main(["--participants", "40", "--repeat", "1", "--json", str(out)]) == 0
    result = json.loads(out.read_text())

    # The programme timed is the one asked for.
    assert result["participants"] == 40 == built["participants"]
    assert a_time(result["demo_load_seconds"]) and result["target_seconds"] == 1.0

    # Every page each role can open, each once, with both times.
    pages = result["pages"]
    expected = Counter((role, path) for role in bench.ROLES_USERS for path, _ in visible_pages(role))
    assert Counter((p["role"], p["page"]) for p in pages) == expected
    assert all(a_time(p["seconds"]) and a_time(p["rerun_seconds"]) for p in pages)
    # The baseline is each role's home page, in the same run.
    home = {p["role"]: p["seconds"] for p in pages if p["page"] == "pages/home.py"}
    assert set(home) == set(bench.ROLES_USERS)
    for p in pages:
        assert math.isclose(p["ratio_to_home"], p["seconds"] / home[p["role"]]), p

    # The views of the heaviest pages, in the benchmark's order, each timed.
    assert [(v["role"], v["page"], v["view"]) for v in result["views"]] == [
        (role, page, view) for role, page, view, _ in bench.VIEWS]
    assert all(a_time(v["seconds"]) for v in result["views"])
    assert all(v["refused"] is None or (isinstance(v["refused"], str) and v["refused"])
               for v in result["views"])

    # `slowest` is the page with the largest first-render time, and the summary line says so.
    slowest = max(pages, key=lambda p: p["seconds"])
    assert all(p["seconds"] <= result["slowest"]["seconds"] for p in pages)
    assert result["slowest"] == {"page": slowest["page"], "role": slowest["role"],
                                 "seconds": slowest["seconds"]}
    assert f"slowest: {slowest['page']} as {slowest['role']}" in capsys.readouterr().out
