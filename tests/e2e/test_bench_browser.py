"""bench.browser on a small demo: every page of the roles asked for is timed, the JSON is whole."""

from __future__ import annotations

import json

import pytest

from bench import browser
from dashboard.navigation import visible_pages


@pytest.mark.e2e
@pytest.mark.slow
def test_browser_bench_times_every_page_of_the_roles_and_writes_its_json(tmp_path):
    out = tmp_path / "browser.json"
    browser.main(["--participants", "30", "--seed", "2", "--roles", "counselor", "--repeat", "1",
                  "--json", str(out)])
    data = json.loads(out.read_text())
    assert data["machine"]["participants"] == 30
    assert data["machine"]["streamlit"]
    assert [x["role"] for x in data["logins"]] == ["counselor"]
    # The browser loaded Plotly's code after the home page was drawn (dashboard/preload.py).
    assert 0 < data["logins"][0]["seconds"] <= data["logins"][0]["charts_loaded"]
    timed = [s["page"] for s in data["switches"]]
    assert timed == [key for _path, key in visible_pages("counselor")]
    assert all(s["seconds"] > 0 for s in data["switches"])
    # Every page switched to was sent over the websocket, its last message within the switch (the
    # first "switch" is to the home page the log-in shows already: the app may not run again).
    assert data["switches"][0]["page"] == "home"
    assert all(s["received_bytes"] > 0 for s in data["switches"][1:])
    assert all(0 < s["last_message"] <= s["seconds"] for s in data["switches"][1:])
    # The rerun request goes out before the answer begins, and that before its end.
    assert all(0 <= s["request_sent"] <= s["first_message"] <= s["last_message"]
               for s in data["switches"][1:])
    assert 0 <= data["summary"]["browser_share_median"] < 1
    assert {p["page"] for p in data["pages"]} == set(timed)
    summary = data["summary"]
    assert summary["slowest"]["page"] in timed
    assert summary["median"] <= summary["p95"] <= summary["slowest"]["seconds"]
