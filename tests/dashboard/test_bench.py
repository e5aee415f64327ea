"""`python -m bench.dashboard` measures every page of every role and writes the JSON the issue
asks for (run here on a small programme: the figures at 10,000 participants are in the README)."""

from __future__ import annotations

import json

from bench import dashboard as bench
from dashboard.navigation import visible_pages


def test_the_dashboard_benchmark_times_every_page_and_names_the_slowest(tmp_path, monkeypatch,
                                                                       capsys):
    for name in ("DSCR_DATA_DIR", "DSCR_DATABASE_URL", "DSCR_KEY_FILE", "DSCR_STUDY_KEY_FILE"):
        monkeypatch.setenv(name, "")  # restored after the test: the benchmark sets its own
    out = tmp_path / "dashboard.json"
    assert bench.main(["--participants", "40", "--repeat", "1", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["participants"] == 40
    expected = {(role, path) for role in bench.ROLES_USERS for path, _ in visible_pages(role)}
    assert {(p["role"], p["page"]) for p in result["pages"]} == expected
    assert all(p["seconds"] > 0 and p["rerun_seconds"] > 0 for p in result["pages"])
    assert [(v["role"], v["page"], v["view"]) for v in result["views"]] == [
        (role, page, view) for role, page, view, _ in bench.VIEWS]
    assert all(v["seconds"] > 0 for v in result["views"])
    slowest = max(result["pages"], key=lambda p: p["seconds"])
    assert result["slowest"] == {"page": slowest["page"], "role": slowest["role"],
                                 "seconds": slowest["seconds"]}
    assert f"slowest: {slowest['page']} as {slowest['role']}" in capsys.readouterr().out
