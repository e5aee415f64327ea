"""`dscr outcomes`: the committee's suppressed table from the command line."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

import cli
from matrix import service


@pytest.fixture
def committee_env(demo_rt, monkeypatch, make_account):
    """DSCR_* variables pointing at the demo database and its key files."""
    st = demo_rt.settings
    monkeypatch.setenv("DSCR_DATA_DIR", str(st.data_dir))
    monkeypatch.setenv("DSCR_DATABASE_URL", st.database_url)
    monkeypatch.setenv("DSCR_KEY_FILE", str(st.key_file))
    monkeypatch.setenv("DSCR_STUDY_KEY_FILE", str(st.study_key_file))
    monkeypatch.delenv("DSCR_USER", raising=False)
    make_account("counselor", "kim")
    return demo_rt


def run(capsys, *argv):
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_outcomes_prints_the_committees_suppressed_table_as_csv_and_json(committee_env, capsys):
    code, out, err = run(capsys, "--user", "committee1", "outcomes", "--by", "programme")
    assert code == 0, err
    table = pd.read_csv(io.StringIO(out), dtype={"n": str})
    with committee_env.context_for("committee1") as ctx:
        expected = service.programme_outcomes(ctx, by="programme")
    assert list(table.columns) == list(expected.columns)
    assert table["n"].tolist() == [str(n) for n in expected["n"]]
    assert "study_code" not in out and "participant" not in table.columns
    assert set(table["programme"]) == set(expected["programme"]) and "Total" in set(table["programme"])

    code, out, err = run(capsys, "--user", "analyst1", "outcomes", "--format", "json",
                         "--threshold", "5")
    assert code == 0, err
    rows = json.loads(out)
    assert {(r["domain"], r["from_step"], r["to_step"]) for r in rows} >= {
        ("gender_sensitivity", "planning", "conclusion")}
    for r in rows:
        assert r["n"] in ("<5", "x") or r["n"] == 0 or r["n"] >= 5
        if r["n"] in ("<5", "x"):
            assert r["mean_diff"] is None


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # messages do not depend on it
def test_outcomes_refuses_a_counselor_and_a_threshold_under_five(committee_env, capsys):
    code, _, err = run(capsys, "--user", "kim", "outcomes")
    assert code == 2 and "may not read aggregate programme outcomes" in err
    code, _, err = run(capsys, "--user", "committee1", "outcomes", "--threshold", "3")
    assert code == 2 and "at least 5" in err
    code, _, err = run(capsys, "outcomes")
    assert code == 2 and "--user" in err
