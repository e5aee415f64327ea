"""`python -m bench.scale` hashes the same photos on the local pool and on LocalClusters of 1 and 2
workers and writes the JSON the issue asks for (run here on a handful of items: times are not
bounded, the machine is shared; the test checks that the JSON says what it claims)."""

from __future__ import annotations

import json
import math

import pytest

from bench import scale


def a_rate(value) -> bool:
    return isinstance(value, float) and math.isfinite(value) and value > 0


@pytest.mark.slow  # starts two LocalClusters (~15 s)
def test_the_scale_benchmark_rates_every_engine_against_the_in_process_baseline(tmp_path, capsys):
    out = tmp_path / "scale.json"
    assert scale.main(["--items", "5", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    runs = result["runs"]
    assert [(r["engine"], r["workers"]) for r in runs] == [
        ("local (in process)", 1), ("local pool", 2), ("dask LocalCluster", 1),
        ("dask LocalCluster", 2)]
    assert result["baseline"] == runs[0]["engine"] and runs[0]["speedup"] == 1.0
    for r in runs:
        assert r["items"] == 5 and r["identical"] is True
        assert a_rate(r["items_per_second"])
        assert math.isclose(r["items_per_second"], 5 / r["seconds"])
        assert math.isclose(r["speedup"], r["items_per_second"] / runs[0]["items_per_second"])
    assert math.isclose(result["per_item_seconds"], 1 / runs[0]["items_per_second"])
    plan = result["plan"]
    assert plan["daily_items"] == 10_000_000
    assert math.isclose(plan["mean_items_per_second"], 10_000_000 / 86_400)
    assert plan["worker_cores"] == math.ceil(
        plan["mean_items_per_second"] * result["per_item_seconds"] * plan["peak_factor"])
    assert plan["result_bytes"] == result["result_bytes_sample"] > 0
    assert math.isclose(plan["results_out_bytes_per_second"],
                        plan["mean_items_per_second"] * plan["result_bytes"])
    printed = capsys.readouterr().out
    assert "dask LocalCluster" in printed and f"needs {plan['worker_cores']} worker cores" in printed


def test_fewer_items_than_the_warm_up_are_refused(tmp_path):
    with pytest.raises(SystemExit):
        scale.main(["--items", "2", "--json", str(tmp_path / "x.json")])
