"""The notes guard measured on an invented corpus: recall on identifying sentences, false alarms on ordinary ones."""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import pytest
import yaml

from casework.notes_guard import find_identifiers, warm_up

ROOT = Path(__file__).resolve().parents[2]
CORPUS = yaml.safe_load((Path(__file__).with_name("notes_corpus.yaml")).read_text(encoding="utf-8"))


def _figures_script():
    spec = importlib.util.spec_from_file_location("notes_guard_figures",
                                                  ROOT / "scripts" / "notes_guard_figures.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def test_the_corpus_is_large_enough_and_in_both_languages():
    ident, ordinary = CORPUS["identifying"], CORPUS["ordinary"]
    assert len(ident) >= 100 and len(ordinary) >= 100
    kinds = {x["kind"] for x in ident}
    assert kinds == {"name", "phone", "email", "handle", "address", "school"}
    for texts in ([x["text"] for x in ident], ordinary):
        assert any(t.isascii() for t in texts) and any(not t.isascii() for t in texts)


def test_recall_and_false_positive_rate_reach_their_floors(capsys):
    fig = _figures_script().measure()
    with capsys.disabled():
        print("\n" + fig.report())
    assert fig.recall >= 0.95, fig.missed
    assert fig.false_positive_rate <= 0.03, fig.flagged


@pytest.mark.parametrize("text", [
    "피해자 이름은 박서연이라고 함.",
    "The victim, Jane Kim, is in his class.",
    "피해자는 같은 강남고 2학년.",
    "서연이가 먼저 연락했다고 함",
    "민지(가명 아님)에게 미안하다고 함",
    "He said Kim Min-ji saw it.",
    "Minji Kim reported it.",
    "대치초 6학년 후배",
    "해운대여중 다니는 후배",
])
def test_the_sentences_the_issue_names_are_refused(text):
    assert find_identifiers(text)


@pytest.mark.parametrize("text", [
    "인스타로 연락하는 습관을 줄이기로 함",
    "상담 진행이 원활했음",
    "He was less defensive than last week.",
    "He signed the safety plan.",
    "He talked about Instagram and how much time he spends there.",
])
def test_the_false_alarms_the_issue_names_are_gone(text):
    assert find_identifiers(text) == []


def test_a_note_is_checked_in_a_few_milliseconds_once_kiwi_is_loaded():
    warm_up()
    texts = [x["text"] for x in CORPUS["identifying"]] + CORPUS["ordinary"]
    t0 = time.perf_counter()
    for text in texts:
        find_identifiers(text)
    per_note = (time.perf_counter() - t0) / len(texts)
    assert per_note < 0.02  # a form save; measured about 0.5 ms on the development machine
