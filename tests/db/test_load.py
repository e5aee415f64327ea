"""The load test in short form: counselors writing at once to PostgreSQL lose and double nothing."""

from __future__ import annotations

import pytest

from bench.load import run


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_concurrent_counselors_lose_no_acknowledged_write_and_break_no_step_rule(database_url, tmp_path):
    # Eight workers share the demo's counselors, so two of them often edit the same caseload.
    result = run(url=database_url, workers=8, seconds=3, participants=12, data_dir=tmp_path)
    assert result["workers"] == 8
    # Every kind of write (session, assessment draft, step action) was acknowledged under load.
    assert result["acknowledged_sessions"] > 0 and result["acknowledged_drafts"] > 0
    assert result["acknowledged_steps"] > 0
    assert result["acknowledged_writes"] == (result["acknowledged_sessions"] + result["acknowledged_drafts"]
                                             + result["acknowledged_steps"])
    assert result["lost_writes"] == 0
    assert result["duplicate_writes"] == 0
    # The chain verified, and over the load's writes (every write adds at least one entry).
    assert result["audit_chain_ok"] and result["audit_entries"] > result["acknowledged_writes"]
    assert result["rule_violations"] == 0, result["rule_violation_examples"]
    assert result["errors"] == {}  # every failed write was a refusal the rules or a conflict gave
    assert set(result) >= {"backend", "workers", "acknowledged_writes", "lost_writes",
                           "duplicate_writes", "audit_chain_ok", "rule_violations",
                           "writes_per_s", "p95_ms"}
