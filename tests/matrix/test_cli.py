"""`dscr outcomes`: the committee's suppressed table from the command line."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from sqlalchemy import select

import cli
from db.schema import ExportManifest
from matrix import service
from tests.conftest import point_cli_at


@pytest.fixture
def committee_env(demo_rt, monkeypatch, make_account):
    """DSCR_* variables pointing at the demo database and its key files."""
    point_cli_at(demo_rt, monkeypatch)
    make_account("counselor", "kim")
    return demo_rt


def run(capsys, *argv):
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_outcomes_prints_the_committees_suppressed_table_as_csv_and_json(committee_env, capsys,
                                                                        monkeypatch):
    code, out, err = run(capsys, "--user", "committee1", "outcomes", "--by", "programme",
                         "--purpose", "평가위원회 반기 회의")
    assert code == 0, err
    table = pd.read_csv(io.StringIO(out), dtype={"n": str})
    with committee_env.context_for("committee1") as ctx:
        expected = service.programme_outcomes(ctx, by="programme")
    # Every column exactly as the use case gives it, and beside each figure its rounded copy.
    assert [c for c in table.columns if not c.endswith(" (rounded)")] == list(expected.columns)
    assert table.columns[table.columns.get_loc("mean_diff") + 1] == "mean_diff (rounded)"
    assert table["n"].tolist() == [str(n) for n in expected["n"]]
    assert "study_code" not in out and "participant" not in table.columns
    assert set(table["programme"]) == set(expected["programme"]) and "Total" in set(table["programme"])

    # The deployment's threshold, not a per-call flag.
    monkeypatch.setenv("DSCR_SUPPRESSION_THRESHOLD", "5")
    code, out, err = run(capsys, "--user", "analyst1", "outcomes", "--format", "json",
                         "--purpose", "annual outcome review")
    assert code == 0, err
    rows = json.loads(out)
    assert {(r["domain"], r["from_step"], r["to_step"]) for r in rows} >= {
        ("gender_sensitivity", "planning", "conclusion")}
    for r in rows:
        assert r["n"] in ("<5", "x") or r["n"] == 0 or r["n"] >= 5
        if r["n"] in ("<5", "x"):
            assert r["mean_diff"] is None
    # Each table that left through the command is recorded like a download.
    with committee_env.sessions() as s:
        manifests = [(m.kind, m.purpose, m.filters, (m.suppression or {}).get("threshold"))
                     for m in s.scalars(select(ExportManifest).order_by(ExportManifest.id))]
    assert manifests == [
        ("programme_outcomes", "평가위원회 반기 회의", {"by": "programme", "format": "csv", "headers": "codes"}, 10),
        ("programme_outcomes", "annual outcome review", {"by": None, "format": "json", "headers": "codes"}, 5)]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # messages do not depend on it
def test_outcomes_refuses_a_counselor_and_a_threshold_under_five(committee_env, capsys,
                                                                monkeypatch):
    code, _, err = run(capsys, "--user", "kim", "outcomes", "--purpose", "just looking")
    assert code == 2 and "may not export suppressed aggregate tables" in err
    monkeypatch.setenv("DSCR_SUPPRESSION_THRESHOLD", "3")
    code, _, err = run(capsys, "--user", "committee1", "outcomes", "--purpose", "meeting notes")
    assert code == 2 and "at least 5" in err
    monkeypatch.delenv("DSCR_SUPPRESSION_THRESHOLD")
    code, _, err = run(capsys, "outcomes", "--purpose", "meeting notes")
    assert code == 2 and "--user" in err
