"""Benchmark of re-upload detection: hashing speed, registry matching, robustness to edits.

    python -m bench.detection [--quick] --json PATH

Matching (``bench_matching``): ``HammingIndex`` against ``BruteForceIndex`` run beside it on
the same registry and queries: random 64-bit hashes at radius 8 and 256-bit (PDQ) hashes at
radius 31, registry sizes 10k .. 10M (``--quick``: up to 1M). Half of the queries are copies of
registry entries with 0..radius bits flipped, so results are not empty; ``identical`` compares
the full result lists (ids, distances, order) of both indexes on every query brute force ran.
Registries are generated as packed uint64 words (hex parsing of 10M strings is not what is
being measured). Hashing and robustness parts wait for ``detection.hashing`` (see TODOs).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import numpy as np

from bench.common import (
    machine,
    measure,
    peak_rss_bytes,
    print_table,
    rate,
    ratio,
    total_memory_bytes,
    write_json,
)
from detection.index import DEFAULT_RADIUS, BruteForceIndex, HammingIndex

SEED = 20240611
FULL_SIZES = (10_000, 100_000, 1_000_000, 10_000_000)
QUICK_SIZES = (10_000, 100_000, 1_000_000)
N_QUERIES = 2000
BRUTE_BUDGET_SECONDS = 6.0  # brute force at 10M runs ~0.5 s/query: time-box how many it answers

MATCHING_COLUMNS = [
    "bits",
    "registry_size",
    "radius",
    "brute_force_qps",
    "index_qps",
    "ratio",
    "identical",
    "memory_bytes",
    "build_seconds",
    "queries_compared",
]


def _registry(rng: np.random.Generator, n: int, bits: int) -> np.ndarray:
    return rng.integers(0, 2**64, size=(n, bits // 64), dtype=np.uint64, endpoint=False)


def _queries(
    rng: np.random.Generator, registry: np.ndarray, bits: int, radius: int, n: int
) -> np.ndarray:
    """Random hashes interleaved with registry entries carrying 0..radius flipped bits."""
    n_words = bits // 64
    queries = rng.integers(0, 2**64, size=(n, n_words), dtype=np.uint64)
    planted = np.arange(0, n, 2)
    queries[planted] = registry[rng.integers(0, registry.shape[0], planted.size)]
    for q in planted:
        for bit in rng.choice(bits, size=int(rng.integers(0, radius + 1)), replace=False):
            queries[q, bit // 64] ^= np.uint64(1) << np.uint64(bit % 64)
    return queries


def _fits_in_memory(n: int, bits: int) -> bool:
    # Words + ids + per-chunk row permutations and offset tables, with room for temporaries.
    need = n * (bits // 8 + 8) + n * 4 * max(3, bits // 21) + 12 * 2**24 * 4
    total = total_memory_bytes()
    return total is None or 3 * need < total


def bench_matching(
    sizes: tuple[int, ...] = QUICK_SIZES, n_queries: int = N_QUERIES
) -> list[dict[str, Any]]:
    """HammingIndex vs brute force at each (bits, radius, registry size)."""
    rows: list[dict[str, Any]] = []
    for bits in (64, 256):
        radius = DEFAULT_RADIUS[bits]
        for n in sizes:
            row: dict[str, Any] = {"bits": bits, "registry_size": n, "radius": radius}
            if _fits_in_memory(n, bits):
                row.update(_match_one(bits, radius, n, n_queries))
                print_table([row], MATCHING_COLUMNS)
            else:
                row.update(skipped=True, reason="registry and index would not fit in memory")
            rows.append(row)
    return rows


def _match_one(bits: int, radius: int, n: int, n_queries: int) -> dict[str, Any]:
    rng = np.random.default_rng([SEED, bits, n])
    registry = _registry(rng, n, bits)
    queries = _queries(rng, registry, bits, radius, n_queries)

    start = time.perf_counter()
    index = HammingIndex(registry, bits)
    build = time.perf_counter() - start
    brute = BruteForceIndex(registry, bits)

    # Probe one brute-force query to size the time-boxed brute-force sample.
    one = measure(lambda: brute.search_many(queries[:1], radius), repeat=1, warmup=0).best
    n_brute = int(np.clip(BRUTE_BUDGET_SECONDS / max(one, 1e-9), 10, n_queries))
    n_brute -= n_brute % 2  # keep the random/planted mix even
    sample = queries[:n_brute]
    repeat_bf = 3 if one * n_brute < 2.0 else 1
    brute_t = measure(lambda: brute.search_many(sample, radius), repeat=repeat_bf, warmup=0)
    index_t = measure(lambda: index.search_many(queries, radius), repeat=3)

    brute_res = brute.search_many(sample, radius)
    index_res = index.search_many(queries, radius)
    tables = index._tables  # the chosen layout is part of the record
    brute_qps = rate(n_brute, brute_t.best)
    index_qps = rate(n_queries, index_t.best)
    return {
        "brute_force_qps": brute_qps,
        "index_qps": index_qps,
        "ratio": ratio(index_qps, brute_qps),
        "identical": index_res[:n_brute] == brute_res,
        "memory_bytes": index.memory_bytes(),
        "brute_force_memory_bytes": brute.memory_bytes(),
        "build_seconds": build,
        "queries": n_queries,
        "queries_compared": n_brute,
        "matches_per_query": sum(map(len, index_res)) / n_queries,
        "chunk_bits": [c.nbits for c in tables.chunks] if tables is not None else None,
    }


def bench_hashing(quick: bool = False) -> list[dict[str, Any]]:
    """TODO(lead): images/s of each hasher in ``detection.hashing`` (pHash, dHash, wHash, PDQ)
    on benign photos (skimage.data, sklearn load_sample_images) against imagehash/pdqhash
    called directly, once ``detection/hashing.py`` lands; needs its hasher registry and
    ``hash_image``. Returns no rows until then."""
    return []


def bench_robustness(quick: bool = False) -> list[dict[str, Any]]:
    """TODO(lead): per hasher, the share of edited copies (re-encode, resize, crop, flip,
    brightness, via ``detection.media`` / ``detection.regions``) found within the hasher's
    threshold and the share of unrelated photos wrongly matched, using ``detection.hashing``
    and ``detection.index.HammingIndex``. Returns no rows until those modules land."""
    return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.detection", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="registries up to 1M (a few minutes)")
    parser.add_argument("--json", required=True, metavar="PATH", help="where to write the results")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    matching = bench_matching(sizes)
    print("\nmatching: HammingIndex vs brute force (same registry, same queries)")
    print_table([r for r in matching if not r.get("skipped")], MATCHING_COLUMNS)
    for r in matching:
        if r.get("skipped"):
            print(f"skipped {r['bits']}-bit at {r['registry_size']:,}: {r['reason']}")
    result = {
        "benchmark": "detection",
        "quick": args.quick,
        "machine": machine(),
        "seed": SEED,
        "queries": "half random hashes, half registry entries with 0..radius bits flipped",
        "matching": matching,
        "hashing": bench_hashing(args.quick),
        "robustness": bench_robustness(args.quick),
        "peak_rss_bytes": peak_rss_bytes(),
        "seconds": time.perf_counter() - started,
    }
    write_json(args.json, result)
    print(f"\nwrote {args.json} in {result['seconds']:.0f} s")
    return 0 if all(r.get("identical", True) for r in matching) else 1


if __name__ == "__main__":
    sys.exit(main())
