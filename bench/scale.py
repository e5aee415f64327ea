"""Benchmark of where a scan's hashing runs: the local pool against a Dask LocalCluster of 1 and 2 workers.

    python -m bench.scale [--items N] --json PATH

Items are the benign photographs that ship with scikit-image and scikit-learn, re-encoded at several sizes and
JPEG qualities (what a crawl finds: a photo in many re-uploads), written to a temporary folder.
Each engine hashes the same items with ``detection.analysis.analyse`` (every hasher, the
border trim and the region signature, as a scan does); the baseline is the local engine in this
process (one core), measured in the same run, and every other engine's ``speedup`` is its rate
over the baseline's. ``identical`` says whether every engine gave the baseline's hashes.
Cluster start-up is not timed (a real cluster is started once, not per scan); each engine first
hashes a few items untimed, so workers have imported what they need.

The figures feed ``plan``: how many worker cores a day's crawl of ``--daily`` images needs at the
measured per-item cost, and what crosses the network (item bytes to the workers, result bytes
back). Matching and the database writes stay in the scan's own process and are not measured
here (bench.detection measures the index).
"""

from __future__ import annotations

import argparse
import io
import math
import pickle
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import machine, print_table, rate, ratio, write_json
from detection.analysis import AnalysisOptions, analyse
from detection.engines import DaskEngine, Engine, LocalEngine
from detection.sources import Item

# Photographs bundled with scikit-image and scikit-learn (no download).
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "china", "flower")
SIDES = (320, 480, 640, 800)
QUALITIES = (60, 75, 90)
DAILY = 10_000_000
SECONDS_PER_DAY = 86_400
# Crawls peak: cores are sized for this many times the mean rate.
PEAK_FACTOR = 2.0
# What a crawled image weighs on the network when the crawler's own sizes are not known.
ASSUMED_CRAWL_IMAGE_BYTES = 300_000
WARMUP_ITEMS = 2
COLUMNS = ["engine", "workers", "items", "seconds", "items_per_second", "speedup", "identical"]


def write_items(folder: Path, n: int) -> list[Item]:
    """``n`` JPEGs of the package photographs at several sizes and qualities."""
    import skimage.data
    from PIL import Image
    from sklearn.datasets import load_sample_images

    sample = dict(zip(("china", "flower"), load_sample_images().images))
    photos = []
    for name in PHOTOS:
        arr = sample[name] if name in sample else getattr(skimage.data, name)()
        photos.append(Image.fromarray(arr).convert("RGB"))
    items = []
    for k in range(n):
        img = photos[k % len(photos)].copy()
        side = SIDES[(k // len(photos)) % len(SIDES)]
        img.thumbnail((side, side))
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=QUALITIES[k % len(QUALITIES)])
        path = folder / f"item-{k:05d}.jpg"
        path.write_bytes(buf.getvalue())
        items.append(Item(path.name, str(path)))
    return items


def _hashes(results) -> dict[str, Any]:
    return {a.path: (a.digest, [f.hashes for f in a.frames], a.error) for a in results}


def time_engine(engine: Engine, items: list[Item]) -> tuple[float, dict[str, Any]]:
    options = AnalysisOptions()
    list(engine.run([(i, options) for i in items[:WARMUP_ITEMS]]))
    start = time.perf_counter()
    results = list(engine.run([(i, options) for i in items]))
    return time.perf_counter() - start, _hashes(results)


def plan(per_item_seconds: float, item_bytes: float, result_bytes: float,
         daily: int = DAILY) -> dict[str, Any]:
    """Worker cores and network for ``daily`` items a day at the measured cost (on paper)."""
    mean_rate = daily / SECONDS_PER_DAY
    cores_mean = mean_rate * per_item_seconds
    cores = math.ceil(cores_mean * PEAK_FACTOR)
    return {
        "daily_items": daily,
        "mean_items_per_second": mean_rate,
        "per_item_core_seconds": per_item_seconds,
        "cores_at_mean_rate": cores_mean,
        "peak_factor": PEAK_FACTOR,
        "worker_cores": cores,
        "worker_machines_16_cores": math.ceil(cores / 16),
        "measured_item_bytes": item_bytes,
        "assumed_crawl_item_bytes": ASSUMED_CRAWL_IMAGE_BYTES,
        # Into the workers: the items themselves, read where they are stored (not via dscr).
        "items_in_bytes_per_second": mean_rate * ASSUMED_CRAWL_IMAGE_BYTES,
        # Back to the scan's process: hashes and status only.
        "result_bytes": result_bytes,
        "results_out_bytes_per_second": mean_rate * result_bytes,
        "results_per_day_bytes": daily * result_bytes,
    }


def run(n_items: int) -> dict[str, Any]:
    from distributed import Client, LocalCluster

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="dscr-bench-scale-") as tmp:
        items = write_items(Path(tmp), n_items)
        item_bytes = sum(Path(i.file).stat().st_size for i in items) / len(items)
        sample = analyse((items[0], AnalysisOptions()))
        result_bytes = len(pickle.dumps(sample))
        engines: list[tuple[str, int, Any]] = [("local (in process)", 1, None),
                                               ("local pool", 2, None),
                                               ("dask LocalCluster", 1, 1),
                                               ("dask LocalCluster", 2, 2)]
        baseline: dict[str, Any] | None = None
        base_rate = math.nan
        for name, workers, cluster_workers in engines:
            if cluster_workers is None:
                seconds, hashes = time_engine(LocalEngine(workers), items)
            else:
                with LocalCluster(n_workers=cluster_workers, processes=True, threads_per_worker=1,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
                        Client(cluster.scheduler_address, set_as_default=False) as client:
                    seconds, hashes = time_engine(
                        DaskEngine(cluster.scheduler_address, client=client), items)
            per_second = rate(len(items), seconds)
            if baseline is None:
                baseline, base_rate = hashes, per_second
            rows.append({"engine": name, "workers": workers, "items": len(hashes),
                         "seconds": seconds, "items_per_second": per_second,
                         "speedup": ratio(per_second, base_rate),
                         "identical": hashes == baseline})
    per_item = 1 / base_rate
    return {
        "benchmark": "scale",
        "machine": machine(),
        "items": n_items,
        "baseline": rows[0]["engine"],
        "item_bytes_mean": item_bytes,
        "result_bytes_sample": result_bytes,
        "per_item_seconds": per_item,
        "runs": rows,
        "plan": plan(per_item, item_bytes, result_bytes),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=240,
                        help="photos hashed by each engine (default 240: about a minute in all)")
    parser.add_argument("--json", required=True, help="where to write the results")
    args = parser.parse_args(argv)
    if args.items < WARMUP_ITEMS + 1:
        parser.error(f"--items must be at least {WARMUP_ITEMS + 1}")
    result = run(args.items)
    print_table(result["runs"], COLUMNS)
    p = result["plan"]
    print(f"per item {result['per_item_seconds']:.3f} core-seconds; {p['daily_items']:,} a day "
          f"needs {p['worker_cores']} worker cores ({p['worker_machines_16_cores']} machines of "
          f"16), {p['items_in_bytes_per_second'] / 1e6:.1f} MB/s of items in, "
          f"{p['results_out_bytes_per_second'] / 1e6:.2f} MB/s of results out")
    write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
