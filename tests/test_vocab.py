"""The vocabulary: one age banding and one offence grouping, the same for the committee and the analyst."""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

import vocab
from db.context import SYSTEM, Actor
from db.schema import Participant
from matrix import service as matrix
from models import service as models

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("age", "band"), [
    (10, "under_14"), (13, "under_14"), (13.99, "under_14"),  # not punishable (Criminal Act Art. 9)
    (14, "14_15"), (15.5, "14_15"), (16, "16_18"), (18.9, "16_18"),  # juveniles under 19
    (19, "19_over"), (24, "19_over")])
def test_the_age_bands_split_where_the_law_does(age, band):
    assert vocab.age_band(age) == band
    assert vocab.age_band(None) is None and vocab.age_band(float("nan")) is None


def test_an_offence_group_is_the_single_type_or_multiple_or_unknown():
    assert vocab.offence_group(["grooming", "grooming"]) == "grooming"
    assert vocab.offence_group(["grooming", "other"]) == vocab.MULTIPLE_OFFENCES
    assert vocab.offence_group([]) == vocab.UNKNOWN_OFFENCE


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_committees_tables_and_the_analysts_frames_band_each_participant_alike(demo_rt):
    analyst_role = Actor(SYSTEM.id, "system", "analyst")  # may read the frames, not the store
    with demo_rt.context(analyst_role) as ctx:
        committee = matrix._outcome_rows(ctx, ["age_band", "offence_type"]).drop_duplicates(
            "participant").set_index("participant")
        analyst = models.analysis_frame(ctx, matrix=False).set_index("study_code")
        codes = dict(ctx.session.execute(select(Participant.id, Participant.study_code)).all())
    both = committee.rename(index=codes).join(analyst[["age_band", "offence_group"]],
                                              how="inner", rsuffix="_analyst")
    assert len(both) >= 20  # most of the 40 have signed scores and a follow-up window
    pd.testing.assert_series_equal(both["age_band"], both["age_band_analyst"], check_names=False)
    pd.testing.assert_series_equal(both["offence_type"], both["offence_group"], check_names=False)
    assert set(both["age_band"]) <= set(vocab.AGE_BAND_CODES)


def _string_tuples(path: Path) -> list[tuple[str, ...]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Tuple) and node.elts and all(
                isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
            found.append(tuple(e.value for e in node.elts))
    return found


def test_the_three_steps_are_spelled_out_in_the_vocabulary_only():
    steps = set(vocab.STEPS)
    spelled = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith((".venv/", "tests/", "db/migrations/")) or rel == "vocab.py":
            continue
        spelled += [f"{rel}: {t}" for t in _string_tuples(path) if steps <= set(t)]
    assert spelled == []
