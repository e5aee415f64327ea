"""`python -m bench.api` run tiny: real servers, the JSON says what it measured, ratios from the
same run. Times are not bounded (the machine is shared)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from bench import api as bench


def finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value >= 0


@pytest.mark.slow  # starts four server processes (~20 s)
def test_the_api_benchmark_measures_each_size_and_process_count_and_writes_its_json(tmp_path, capsys):
    out = tmp_path / "api.json"
    assert bench.main(["--sizes", "2000,5000", "--processes", "1,2", "--seconds", "0.5",
                       "--max-requests", "40", "--batch", "20", "--clients", "2", "--backend", "sqlite",
                       "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    rows = result["rows"]
    assert [(r["registry_size"], r["processes"]) for r in rows] == [
        (2000, 1), (2000, 2), (5000, 1), (5000, 2)]
    assert result["baseline"] == {"registry_size": 2000, "processes": 1}
    assert result["backend"] == "sqlite"
    for r in rows:
        assert 1 <= r["requests"] <= 40 and r["batch"] == 20
        assert all(finite(r[k]) for k in ("requests_per_s", "hashes_per_s", "p50_ms", "p95_ms",
                                           "server_rss_mb", "build_s"))
        assert r["p50_ms"] <= r["p95_ms"]
        assert len(r["server_rss_mb_each"]) == r["processes"]
        assert math.isclose(r["hashes_per_s"], r["requests_per_s"] * 20, rel_tol=1e-9)
        assert math.isclose(r["qps_ratio"], r["requests_per_s"] / rows[0]["requests_per_s"])
        assert math.isclose(r["p95_ratio"], r["p95_ms"] / rows[0]["p95_ms"])
        # A tenth of the queries are planted registry hashes: the server found them.
        assert 0.03 <= r["matched_share"] <= 0.3
    assert rows[0]["qps_ratio"] == 1.0
    printed = capsys.readouterr().out
    assert "(sqlite)" in printed and "p95_ratio" in printed
    assert "ratios against 2,000 hashes with 1 process" in printed


def test_the_planted_queries_are_within_pdq_threshold_of_the_generated_registry():
    from detection.index import BruteForceIndex

    registry = bench.registry_words(3000, 7)
    qs = bench.queries(3000, 7, 200)
    assert len(qs) == 200 and all(len(q["hash"]) == 64 for q in qs)
    hits = BruteForceIndex(registry, 256).search_many([q["hash"] for q in qs], 31)
    assert sum(bool(h) for h in hits) == 20
    # The first rows of a larger registry are the same rows (one seed, one stream).
    assert np.array_equal(bench.registry_words(10, 7), registry[:10])
