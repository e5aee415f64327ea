"""Prints the notes guard's recall and false-positive rate on the invented corpus, and its speed."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from casework.notes_guard import find_identifiers, warm_up  # noqa: E402

CORPUS = ROOT / "tests" / "casework" / "notes_corpus.yaml"


@dataclass(frozen=True)
class Figures:
    identifying: int
    ordinary: int
    caught: int
    false_positives: int
    load_seconds: float
    ms_per_note: float
    missed: tuple[tuple[str, str], ...]
    flagged: tuple[tuple[str, str], ...]

    @property
    def recall(self) -> float:
        return self.caught / self.identifying

    @property
    def false_positive_rate(self) -> float:
        return self.false_positives / self.ordinary

    def report(self) -> str:
        return (f"notes guard on {self.identifying} identifying and {self.ordinary} ordinary sentences: "
                f"recall {self.recall:.3f} ({self.caught}/{self.identifying}), false positives "
                f"{self.false_positive_rate:.3f} ({self.false_positives}/{self.ordinary}); "
                f"{self.ms_per_note:.2f} ms per note after a {self.load_seconds:.1f} s load")


def measure(path: Path = CORPUS) -> Figures:
    corpus = yaml.safe_load(path.read_text(encoding="utf-8"))
    t0 = time.perf_counter()
    warm_up()
    load = time.perf_counter() - t0
    missed, flagged = [], []
    t0 = time.perf_counter()
    for item in corpus["identifying"]:
        kinds = {f.kind for f in find_identifiers(item["text"])}
        if item["kind"] not in kinds:
            missed.append((item["kind"], item["text"]))
    for text in corpus["ordinary"]:
        found = find_identifiers(text)
        if found:
            flagged.append((", ".join(f"{f.kind}:{f.excerpt}" for f in found), text))
    n_id, n_ord = len(corpus["identifying"]), len(corpus["ordinary"])
    per_note = (time.perf_counter() - t0) * 1000 / (n_id + n_ord)
    return Figures(n_id, n_ord, n_id - len(missed), len(flagged), load, per_note,
                   tuple(missed), tuple(flagged))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="list the misses and false alarms")
    args = parser.parse_args()
    fig = measure()
    print(fig.report())
    if args.verbose:
        for kind, text in fig.missed:
            print(f"  missed {kind}: {text}")
        for what, text in fig.flagged:
            print(f"  flagged {what}: {text}")


if __name__ == "__main__":
    main()
