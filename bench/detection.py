"""Benchmark of re-upload detection: hashing speed, registry matching, robustness to edits.

    python -m bench.detection [--quick] --json PATH

Matching (``bench_matching``): ``HammingIndex`` against ``BruteForceIndex`` run beside it on
the same registry and queries: random 64-bit hashes at radius 8 and 256-bit (PDQ) hashes at
radius 31, registry sizes 10k .. 10M (``--quick``: up to 1M). Half of the queries are copies of
registry entries with 0..radius bits flipped, so results are not empty; ``identical`` compares
the full result lists (ids, distances, order) of both indexes on every query brute force ran.
Registries are generated as packed uint64 words (hex parsing of 10M strings is not what is
being measured).

Hashing (``bench_hashing``) and robustness (``bench_robustness``) use real photographs that
ship with scikit-image and scikit-learn: see their docstrings.
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


# Real photographs that ship inside Python packages (never generated noise).
REGISTRY_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "china", "flower", "camera", "coins")
DISTRACTOR_PHOTOS = (
    "hubble_deep_field",
    "immunohistochemistry",
    "moon",
    "retina",
    "brick",
    "grass",
    "gravel",
    "clock",
    "cell",
)
PHONE_SIZE = (4000, 3000)  # 12 MP, a phone camera's default
HASHING_COLUMNS = [
    "pipeline",
    "images",
    "workers",
    "baseline_images_per_s",
    "dscr_images_per_s",
    "ratio",
]
ROBUSTNESS_COLUMNS = ["algorithm", "transform", "tpr", "fpr", "threshold", "positives", "negatives"]


def _photo(name: str):
    from PIL import Image

    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_images

        return Image.fromarray(load_sample_images().images[("china", "flower").index(name)])
    import skimage.data

    return Image.fromarray(getattr(skimage.data, name)()).convert("RGB")


def _phone_jpegs(folder, names, copies: int) -> list:
    """Each photo upscaled to 12 MP and saved as a phone would (JPEG q90, 4:2:0)."""
    from PIL import Image

    paths = []
    for name in names:
        img = _photo(name)
        w, h = PHONE_SIZE if img.width >= img.height else PHONE_SIZE[::-1]
        big = img.resize((w, h), Image.Resampling.BICUBIC)
        for c in range(copies):
            path = folder / f"{name}-{c}.jpg"
            big.save(path, "JPEG", quality=90 - 5 * c)
            paths.append(path)
    return paths


def bench_hashing(quick: bool = False) -> dict[str, Any]:
    """Images/s on 12 MP JPEGs: dscr's pipeline against ``imagehash.phash(Image.open(path))``.

    Two dscr figures, both over ``os.cpu_count()`` worker processes (pool start-up included):
    ``dscr_images_per_s`` is what a scan does per file (read, SHA-256, draft decode, pHash,
    dHash, wHash and PDQ of the plain and border-trimmed image, and the ORB region signature);
    ``phash_only`` is the same decode with pHash alone, the like-for-like comparison.
    """
    import os
    import tempfile
    from pathlib import Path

    import imagehash
    from PIL import Image

    from detection.hashing import HASHERS
    from detection.analysis import AnalysisOptions, analyse, run_parallel, worker_pool
    from detection.sources import Item

    workers = max(1, os.cpu_count() or 1)
    names = REGISTRY_PHOTOS[:6]
    copies = 3 if quick else 6
    with tempfile.TemporaryDirectory(prefix="dscr-bench-") as tmp:
        paths = _phone_jpegs(Path(tmp), names, copies)
        n = len(paths)

        def baseline() -> None:
            for p in paths:
                imagehash.phash(Image.open(p))

        def pipeline(options: AnalysisOptions) -> None:
            tasks = [(Item(p.name, os.fspath(p)), options) for p in paths]
            results = list(run_parallel(analyse, tasks, workers=workers, executor=pool))
            bad = [r.error for r in results if not r.ok]
            if bad:
                raise RuntimeError(f"hashing failed: {bad[0]}")

        full = AnalysisOptions()
        phash_only = AnalysisOptions(algorithms=("phash",), region=False)
        base_t = measure(baseline, repeat=1 if quick else 2, warmup=0)
        # A scan starts its pool once for all its files: the start-up is measured apart.
        started = time.perf_counter()
        pool = worker_pool(workers)
        list(run_parallel(analyse, [(Item(paths[0].name, os.fspath(paths[0])), full)] * workers,
                          workers=workers, executor=pool))
        pool_start = time.perf_counter() - started
        try:
            full_t = measure(lambda: pipeline(full), repeat=2 if quick else 3, warmup=0)
            phash_t = measure(lambda: pipeline(phash_only), repeat=2 if quick else 3, warmup=0)
        finally:
            pool.shutdown()
        # The same photo through both paths: dscr's draft decoding and working copy keep pHash
        # within its threshold of the full decode.
        ph = HASHERS["phash"]
        drift = max(
            ph.distance(
                str(imagehash.phash(Image.open(p))),
                analyse((Item(p.name, os.fspath(p)), phash_only)).frames[0].hashes["phash"][0][1],
            )
            for p in paths[::copies]
        )
    base = rate(n, base_t.best)
    rows = [
        {"pipeline": "full scan analysis", "images": n, "workers": workers,
         "baseline_images_per_s": base, "dscr_images_per_s": rate(n, full_t.best)},
        {"pipeline": "phash only", "images": n, "workers": workers,
         "baseline_images_per_s": base, "dscr_images_per_s": rate(n, phash_t.best)},
    ]
    for r in rows:
        r["ratio"] = ratio(r["dscr_images_per_s"], base)
    print("\nhashing: 12 MP JPEGs, dscr vs imagehash.phash(Image.open(path))")
    print_table(rows, HASHING_COLUMNS)
    return {
        "baseline_images_per_s": base,
        "dscr_images_per_s": rows[0]["dscr_images_per_s"],
        "ratio": rows[0]["ratio"],
        "phash_only_images_per_s": rows[1]["dscr_images_per_s"],
        "phash_only_ratio": rows[1]["ratio"],
        "images": n,
        "workers": workers,
        "image_size": list(PHONE_SIZE),
        "max_phash_bits_draft_vs_full": drift,
        "pool_start_seconds": pool_start,
    }


def _transforms() -> dict[str, Any]:
    import io

    from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps

    def jpeg(q):
        def f(img):
            buf = io.BytesIO()
            img.save(buf, "JPEG", quality=q)
            return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
        return f

    def crop(fraction):
        def f(img):
            dx, dy = round(img.width * fraction), round(img.height * fraction)
            return img.crop((dx, dy, img.width - dx, img.height - dy))
        return f

    def caption(img):
        out = img.copy()
        top = img.height - img.height // 10
        draw = ImageDraw.Draw(out)
        draw.rectangle((0, top, img.width, img.height), fill=(0, 0, 0))
        draw.text((8, top + 4), "repost if you agree #viral", fill=(255, 255, 255))
        return out

    def screenshot(img):
        # A phone screenshot: the photo scaled into a taller dark canvas with UI bars.
        w = img.width
        scale = w / img.width
        h_img = round(img.height * scale)
        canvas = Image.new("RGB", (w, round(h_img * 1.9)), (18, 18, 18))
        top = (canvas.height - h_img) // 2
        canvas.paste(img, (0, top))
        draw = ImageDraw.Draw(canvas)
        draw.rectangle((0, 0, w, 40), fill=(250, 250, 250))
        draw.text((10, 12), "12:41  LTE  87%", fill=(0, 0, 0))
        draw.text((10, top + h_img + 20), "liked by 1,203 others", fill=(230, 230, 230))
        return canvas

    def border(img):
        pad = round(0.05 * max(img.size))
        return ImageOps.expand(img, border=pad, fill=(255, 255, 255))

    return {
        "jpeg_q30": jpeg(30),
        "jpeg_q70": jpeg(70),
        "resize_25pct": lambda im: im.resize((max(1, im.width // 4), max(1, im.height // 4))),
        "crop_5pct": crop(0.05),
        "crop_10pct": crop(0.10),
        "crop_20pct": crop(0.20),
        "mirror": ImageOps.mirror,
        "rotate_90": lambda im: im.transpose(Image.Transpose.ROTATE_90),
        "rotate_5deg": lambda im: im.rotate(5, resample=Image.Resampling.BICUBIC, expand=True,
                                           fillcolor=(0, 0, 0)),
        "brightness_+30pct": lambda im: ImageEnhance.Brightness(im).enhance(1.3),
        "contrast_-30pct": lambda im: ImageEnhance.Contrast(im).enhance(0.7),
        "grayscale": lambda im: ImageOps.grayscale(im).convert("RGB"),
        "caption": caption,
        "screenshot": screenshot,
        "border_5pct": border,
        "blur": lambda im: im.filter(ImageFilter.GaussianBlur(2)),
    }


def bench_robustness(quick: bool = False) -> list[dict[str, Any]]:
    """TPR per transform and FPR on photos not in the registry, per algorithm and for dscr.

    Registry: REGISTRY_PHOTOS, hashed as ``dscr registry add`` does (8 dihedral variants and a
    border-trimmed hash per algorithm, a region signature). Queries go through the scan's own
    analysis (``detection.analysis.analyse``) after each transform and a JPEG q85 re-upload.
    Positives: every registry photo under every transform; a positive counts only when the
    right registry item is found. Negatives: DISTRACTOR_PHOTOS under every transform; any match
    is a false positive. Rows per algorithm at its own threshold (alone, no region stage), for
    the region stage alone, and for ``dscr`` (the default combination scans use).
    """
    import os
    import tempfile
    from pathlib import Path

    from detection import regions
    from detection.hashing import HASHERS
    from detection.analysis import AnalysisOptions, analyse, run_parallel
    from detection.matching import Matcher, RegistryEntry
    from detection.sources import Item

    workers = max(1, os.cpu_count() or 1)
    transforms = _transforms()
    registry_names = REGISTRY_PHOTOS[:6] if quick else REGISTRY_PHOTOS
    distractors = DISTRACTOR_PHOTOS[:6] if quick else DISTRACTOR_PHOTOS
    with tempfile.TemporaryDirectory(prefix="dscr-robust-") as tmp:
        folder = Path(tmp)
        reg_tasks, queries = [], []  # queries: (path, transform, true item or None)
        for name in registry_names:
            p = folder / f"reg-{name}.jpg"
            _photo(name).save(p, "JPEG", quality=95)
            reg_tasks.append((Item(name, os.fspath(p)), AnalysisOptions(mode="registry")))
        for name in (*registry_names, *distractors):
            img = _photo(name)
            truth = name if name in registry_names else None
            for tname, fn in transforms.items():
                p = folder / f"q-{name}-{tname}.jpg"
                out = fn(img)
                if tname.startswith("jpeg"):
                    out.save(p, "JPEG", quality=95)  # already re-encoded by the transform
                else:
                    out.save(p, "JPEG", quality=85)
                queries.append((p, tname, truth))
        registered = list(run_parallel(analyse, reg_tasks, workers=workers))
        q_tasks = [(Item(os.fspath(p), os.fspath(p)), AnalysisOptions()) for p, _t, _x in queries]
        analysed = {a.path: a for a in run_parallel(analyse, q_tasks, workers=workers)}
    entries: list[RegistryEntry] = []
    region_sigs: list[tuple[int, bytes]] = []
    for a in registered:
        if not a.ok:
            raise RuntimeError(f"registry photo failed: {a.error}")
        frame = a.frames[0]
        seen = set()
        for alg, pairs in frame.hashes.items():
            for variant, hx in pairs:
                if (alg, hx) in seen:
                    continue
                seen.add((alg, hx))
                entries.append(RegistryEntry(len(entries) + 1, alg, hx, a.path))
                if alg == "pdq" and variant == "original":
                    region_sigs.append((entries[-1].id, frame.region))
    matchers: dict[str, tuple[Matcher, int | None]] = {}
    for alg, hasher in HASHERS.items():
        matchers[alg] = (
            Matcher([e for e in entries if e.algorithm == alg], deciding=(alg,),
                    corroborating=(), use_regions=False),
            hasher.threshold,
        )
    pdq_only = [e for e in entries if e.algorithm == "pdq"]
    region_only = Matcher(pdq_only, region_sigs, deciding=(), corroborating=())
    matchers[regions.ALGORITHM] = (region_only, regions.DEFAULT_MIN_INLIERS)
    matchers["dscr"] = (Matcher(entries, region_sigs), None)

    rows: list[dict[str, Any]] = []
    for alg, (matcher, threshold) in matchers.items():
        outcome = {t: [0, 0, 0, 0] for t in transforms}  # tp, positives, fp, negatives
        for p, tname, truth in queries:
            a = analysed[os.fspath(p)]
            found = {m.item for m in matcher.match(a)} if a.ok else set()
            o = outcome[tname]
            if truth is None:
                o[3] += 1
                o[2] += bool(found)
            else:
                o[1] += 1
                o[0] += truth in found
        for tname, (tp, pos, fp, neg) in outcome.items():
            rows.append({"algorithm": alg, "transform": tname, "tpr": tp / pos, "fpr": fp / neg,
                         "threshold": threshold, "positives": pos, "negatives": neg})
    print("\nrobustness: package photos, per algorithm at its threshold and dscr's combination")
    print_table(rows, ROBUSTNESS_COLUMNS)
    return rows


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
        "registry_photos": list(REGISTRY_PHOTOS),
        "distractor_photos": list(DISTRACTOR_PHOTOS),
        "peak_rss_bytes": peak_rss_bytes(),
        "seconds": time.perf_counter() - started,
    }
    write_json(args.json, result)
    print(f"\nwrote {args.json} in {result['seconds']:.0f} s")
    return 0 if all(r.get("identical", True) for r in matching) else 1


if __name__ == "__main__":
    sys.exit(main())
