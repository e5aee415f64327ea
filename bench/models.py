"""Benchmark of the survival estimators: dscr's Cox fit and Kaplan-Meier against lifelines.

    python -m bench.models [--quick] --json PATH

Both run in the same process on the same synthetic follow-up frames of 1k, 10k and 100k rows
(whole days, so event times tie as they do in the store): exponential times to reoffending
with the log hazard ratios of ``demo.synthetic.TRUE_EFFECTS`` and administrative censoring at a
fixed data end after a uniform entry. What is timed is what an analyst calls:
``models.survival.cox(df, "duration", "event", covariates)`` (Efron ties) against
``lifelines.CoxPHFitter().fit(df, "duration", "event")``; then the same followed by reading
Harrell's C once (``.concordance`` against ``concordance_index_``: both compute it when first read,
and both with lifelines' O(n log n) concordance code; dscr's PH tests are likewise computed only
when asked); and ``models.survival.kaplan_meier`` against ``lifelines.KaplanMeierFitter().fit``. ``ratio`` = dscr seconds / lifelines seconds (best of the
repeats), so below 1 is faster. Each row also records how far the two answers are apart
(coefficients; survival at 1, 2 and 3 years), so a fast wrong answer shows.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np
import pandas as pd

from bench.common import machine, measure, peak_rss_bytes, print_table, ratio, write_json
from demo.synthetic import TRUE_EFFECTS
from models.survival import cox, kaplan_meier

SEED = 20251127
SIZES = (1_000, 10_000, 100_000)
COVARIATES = ["prior_offences", "completed", "age_over_15", "dsc_change"]
COLUMNS = ["rows", "events", "dscr_s", "lifelines_s", "ratio", "max_difference"]


def follow_up_frame(n: int, seed: int = SEED) -> pd.DataFrame:
    """n participants followed from programme end to a common data end (up to 6 years)."""
    rng = np.random.default_rng(seed + n)
    t = TRUE_EFFECTS
    b = t["log_hr"]
    frame = pd.DataFrame({
        "prior_offences": rng.poisson(0.35, n).astype(float),
        "completed": (rng.random(n) > 0.16).astype(float),
        "age_over_15": rng.integers(10, 20, n) - 15.0,
        "dsc_change": rng.normal(0.5, 0.7, n),
    })
    lp = sum(b[name if name != "dsc_change" else "dsc_change_sd"] * frame[name]
             for name in COVARIATES)
    rate = t["baseline_annual_hazard"] / 365.25 * np.exp(lp)
    event_day = np.ceil(rng.exponential(1.0 / rate))
    window = rng.integers(30, 6 * 365, n).astype(float)
    frame.insert(0, "duration", np.minimum(event_day, window))
    frame.insert(1, "event", (event_day <= window).astype(int))
    return frame


def _repeats(n: int, quick: bool) -> int:
    if n >= 100_000:
        return 1 if quick else 3
    return 3 if quick else 7


def bench_cox(quick: bool, with_concordance: bool) -> list[dict]:
    from lifelines import CoxPHFitter

    rows = []
    for n in SIZES:
        frame = follow_up_frame(n)
        columns = ["duration", "event", *COVARIATES]

        def ours(frame=frame):
            result = cox(frame, "duration", "event", COVARIATES, ties="efron")
            if with_concordance:
                result.concordance  # noqa: B018 - computed when read, as lifelines does
            return result

        def theirs(frame=frame, columns=columns):
            fitter = CoxPHFitter().fit(frame[columns], "duration", "event")
            if with_concordance:
                fitter.concordance_index_  # noqa: B018 - part of what an analyst reads
            return fitter

        repeat = _repeats(n, quick)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dscr_t = measure(ours, repeat=repeat, warmup=1 if n < 100_000 else 0)
            ll_t = measure(theirs, repeat=repeat, warmup=1 if n < 100_000 else 0)
            difference = float(np.max(np.abs(
                ours().summary["coef"].to_numpy() - theirs().params_[COVARIATES].to_numpy())))
        rows.append({"rows": n, "events": int(frame["event"].sum()), "dscr_s": dscr_t.best,
                     "lifelines_s": ll_t.best, "ratio": ratio(dscr_t.best, ll_t.best),
                     "max_difference": difference, "repeats": repeat,
                     "what_differs": "max |coef dscr - coef lifelines|"})
    return rows


def bench_kaplan_meier(quick: bool) -> list[dict]:
    from lifelines import KaplanMeierFitter

    rows = []
    times = np.array([365.0, 730.0, 1095.0])
    for n in SIZES:
        frame = follow_up_frame(n)

        def ours(frame=frame):
            return kaplan_meier(frame, "duration", "event")

        def theirs(frame=frame):
            return KaplanMeierFitter().fit(frame["duration"], frame["event"])

        repeat = _repeats(n, quick) * 2
        dscr_t = measure(ours, repeat=repeat)
        ll_t = measure(theirs, repeat=repeat)
        difference = float(np.max(np.abs(
            ours().survival_at(times).to_numpy() - theirs().survival_function_at_times(times)
            .to_numpy())))
        rows.append({"rows": n, "events": int(frame["event"].sum()), "dscr_s": dscr_t.best,
                     "lifelines_s": ll_t.best, "ratio": ratio(dscr_t.best, ll_t.best),
                     "max_difference": difference, "repeats": repeat,
                     "what_differs": "max |S(t) dscr - S(t) lifelines| at 1, 2, 3 years"})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.models",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (same sizes)")
    parser.add_argument("--json", required=True, metavar="PATH", help="where to write the results")
    args = parser.parse_args(argv)

    import lifelines

    started = time.perf_counter()
    cox_rows = bench_cox(args.quick, with_concordance=False)
    print("\nCox fit (Efron ties, 4 covariates): dscr models.survival.cox vs lifelines CoxPHFitter")
    print_table(cox_rows, COLUMNS)
    cox_c_rows = bench_cox(args.quick, with_concordance=True)
    print("\nCox fit and Harrell's C read once: the same, then .concordance / .concordance_index_")
    print_table(cox_c_rows, COLUMNS)
    km_rows = bench_kaplan_meier(args.quick)
    print("\nKaplan-Meier: dscr models.survival.kaplan_meier vs lifelines KaplanMeierFitter")
    print_table(km_rows, COLUMNS)
    result = {
        "benchmark": "models",
        "quick": args.quick,
        "machine": machine(),
        "lifelines": lifelines.__version__,
        "seed": SEED,
        "data": "synthetic follow-up, whole days, TRUE_EFFECTS log hazard ratios, "
                "administrative censoring",
        "ratio": "dscr seconds / lifelines seconds (best of repeats; below 1 = dscr faster)",
        "cox": cox_rows,
        "cox_with_concordance": cox_c_rows,
        "kaplan_meier": km_rows,
        "peak_rss_bytes": peak_rss_bytes(),
        "seconds": time.perf_counter() - started,
    }
    write_json(args.json, result)
    print(f"\nwrote {args.json} in {result['seconds']:.0f} s")
    agree = all(r["max_difference"] < 1e-4 for r in cox_rows + cox_c_rows + km_rows)
    if not agree:
        print("dscr and lifelines disagree beyond 1e-4 somewhere: see max_difference")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
