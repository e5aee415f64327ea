"""The load test in short form: 16 counselors writing at once to PostgreSQL lose and double nothing."""

from __future__ import annotations

import pytest

from bench.load import run


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_sixteen_concurrent_workers_lose_no_acknowledged_write(database_url, tmp_path):
    result = run(url=database_url, workers=16, seconds=15, participants=20, data_dir=tmp_path)
    assert result["workers"] == 16
    assert result["acknowledged_sessions"] > 100 and result["acknowledged_drafts"] > 0
    assert result["lost_writes"] == 0
    assert result["duplicate_writes"] == 0
    assert result["audit_chain_ok"]
    assert isinstance(result["rule_violations"], int)
    assert set(result) >= {"backend", "workers", "acknowledged_writes", "lost_writes",
                           "duplicate_writes", "audit_chain_ok", "rule_violations",
                           "writes_per_s", "p95_ms"}
