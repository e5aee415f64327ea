"""Fixtures: a valid instrument file to break one rule at a time; a tiny one to score by hand."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from assessment.instruments import INSTRUMENTS_DIR, Instrument, instrument_from_dict


@pytest.fixture(scope="session")
def gs12_data() -> dict[str, Any]:
    return yaml.safe_load((INSTRUMENTS_DIR / "GS-12.yaml").read_text(encoding="utf-8"))


@pytest.fixture
def write_instrument(tmp_path: Path, gs12_data: dict[str, Any]):
    """Write a copy of GS-12, changed by `mutate`, to tmp_path/<name> and return its path."""

    def write(mutate=None, name: str = "GS-12.yaml", text: str | None = None) -> Path:
        path = tmp_path / name
        if text is None:
            data = copy.deepcopy(gs12_data)
            if mutate is not None:
                mutate(data)
            text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
        path.write_text(text, encoding="utf-8")
        return path

    return write


def _label(n: int) -> dict[str, str]:
    return {"ko": f"{n}점", "en": f"{n} points"}


def tiny_instrument(method: str = "mean", min_answered: float = 0.5) -> Instrument:
    """Five items on 1..5: T-02 and T-05 reverse-keyed; two subscales for gender_sensitivity
    (a: T-01, T-02; b: T-03) and one for gender_equality (c: T-04, T-05)."""
    items = [
        ("T-01", False, "a"),
        ("T-02", True, "a"),
        ("T-03", False, "b"),
        ("T-04", False, "c"),
        ("T-05", True, "c"),
    ]
    data = {
        "id": "T-5",
        "version": 2,
        "title": {"ko": "시험용", "en": "Test"},
        "kind": "self_report",
        "stages": ["planning", "conclusion"],
        "scale": {"min": 1, "max": 5, "labels": [_label(n) for n in range(1, 6)]},
        "items": [
            {"id": i, "text": {"ko": i, "en": i}, "reverse": r, "subscale": s} for i, r, s in items
        ],
        "subscales": [
            {"id": "a", "domain": "gender_sensitivity", "title": {"ko": "가", "en": "a"}},
            {"id": "b", "domain": "gender_sensitivity", "title": {"ko": "나", "en": "b"}},
            {"id": "c", "domain": "gender_equality", "title": {"ko": "다", "en": "c"}},
        ],
        "scoring": {"method": method, "min_answered": min_answered},
        "norms": {
            "gender_sensitivity": {
                "mean": 3.0 * (3 if method == "sum" else 1),
                "sd": 0.6,
                "reliability": 0.8,
                "cutoff": 2.5 * (3 if method == "sum" else 1),
                "higher_is_better": True,
            },
            "gender_equality": {
                "mean": 3.0 * (2 if method == "sum" else 1),
                "sd": 0.6,
                "reliability": 0.7,
                "cutoff": 2.5 * (2 if method == "sum" else 1),
                "higher_is_better": True,
            },
        },
        "norms_source": "test values",
    }
    return instrument_from_dict(data, source="T-5.yaml")


@pytest.fixture
def tiny() -> Instrument:
    return tiny_instrument()


@pytest.fixture
def make_tiny():
    return tiny_instrument
