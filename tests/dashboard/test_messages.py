"""The service's error messages in Korean: the catalogue against the source, real errors, one page."""

from __future__ import annotations

import re
import string

import pytest

from assessment.instruments import default_instruments
from assessment.scoring import score_responses
from dashboard import _legacy_messages as messages
from dashboard._legacy_messages import localise
from dashboard.text_messages import FRAGMENTS, MESSAGES, WORDS
from casework.notes_guard import check_note
from errors import DscrError
from matrix import stages
from matrix.outcomes import paired_change

HANGUL = re.compile(r"[\uac00-\ud7a3]")
# What a reader acts on: ids, codes, numbers (GS-12, CR-01, 1..5, 24-37, 0.95).
DETAIL = re.compile(r"[A-Z]{2,}-\d+|\d+(?:\.\d+)?")


@pytest.fixture(scope="module")
def extracted() -> messages.Catalogue:
    return messages.extract()


def placeholders(template: str) -> list[int]:
    return sorted(int(f) for _, f, _, _ in string.Formatter().parse(template) if f is not None)


def test_every_message_the_source_raises_has_korean_and_no_entry_is_stale(extracted):
    found = {t.key for t in extracted.messages}
    assert len(found) > 350  # ~400 raise sites; far fewer means the extraction broke
    assert sorted(found - set(MESSAGES)) == [], "templates without Korean"
    assert sorted(set(MESSAGES) - found) == [], "Korean for messages the code no longer raises"


def test_every_fragment_has_korean_and_no_fragment_is_stale(extracted):
    found = {t.key for t in extracted.fragments}
    assert sorted(found - set(FRAGMENTS)) == [] and sorted(set(FRAGMENTS) - found) == []
    assert not set(FRAGMENTS) & set(MESSAGES)


@pytest.mark.parametrize("table", [MESSAGES, FRAGMENTS], ids=["messages", "fragments"])
def test_korean_uses_exactly_the_placeholders_of_its_template(table):
    wrong = {en: ko for en, ko in table.items() if placeholders(en) != placeholders(ko)}
    assert wrong == {}


def test_templates_are_read_with_their_fixed_text_and_numbered_placeholders(extracted):
    by_key = {t.key: t for t in extracted.messages}
    tpl = by_key["minutes must be 1..480, got {0}."]
    assert tpl.where.startswith("casework/service.py:") and tpl.fixed == len("minutes must be 1..480, got .")
    # `+` and `a if c else b` give one template per outcome (matrix/service.py, goal editing).
    assert {k for k in by_key if k.startswith("{0} only while {1} is a draft")} == {
        "{0} only while {1} is a draft; {2} is '{3}'",
        "{0} only while {1} is a draft; {2} is '{3}'; record its first assessment to start it",
    }


def test_anchored_lazy_groups_capture_everything_and_the_most_specific_template_wins():
    # "{0}, got {1}" (assessment/scoring.py) would also match; the longer template must win.
    msg = "sample_weight must be numbers (missing as None/NaN): [1, 'a']"
    assert localise(msg, "ko") == "sample_weight은(는) 숫자여야 합니다(결측은 None/NaN): [1, 'a']"
    assert localise("No participant 12 in your caseload.", "ko") == "담당 사례에 참여자 12이(가) 없습니다."


def korean_keeps_detail(english: str) -> str:
    korean = localise(english, "ko")
    assert HANGUL.search(korean), korean
    for detail in DETAIL.findall(english):
        assert detail in korean, (detail, korean)
    assert localise(english, "en") == english
    return korean


def raised(call) -> str:
    with pytest.raises(DscrError) as info:
        call()
    return str(info.value)


def test_an_answer_out_of_range_reads_korean_with_the_item_and_value():
    registry = default_instruments()
    inst = registry[sorted(registry)[0]]
    first = inst.items[0].id
    english = raised(lambda: score_responses(inst, {first: 9}))
    assert f"item {first} must be a whole number" in english
    korean = korean_keeps_detail(english)
    assert korean == (f"{inst.id} v{inst.version}: 문항 {first}의 응답은 "
                      f"{inst.scale.min}..{inst.scale.max}의 정수여야 합니다. 입력값: 9")


def test_a_confidence_level_given_as_a_percentage_reads_korean():
    english = raised(lambda: paired_change([1, 2, 3, 4], [2, 3, 3, 5], ci=95))
    assert korean_keeps_detail(english) == "ci는 0.95처럼 0과 1 사이의 수준이어야 합니다. 입력값: 95"


def test_a_note_naming_a_victim_reads_korean_finding_by_finding():
    english = raised(lambda: check_note("피해자 김민지의 학교는 서울중학교이고 전화 010-1234-5678"))
    korean = korean_keeps_detail(english)
    # The field, each finding's kind and the joined findings are translated too.
    assert korean.startswith("상담 메모에 사람을 식별할 수 있는 정보가 있는 것 같습니다(")
    assert "전화번호: " in korean and "at characters" not in korean and "청소년성보호법 제31조" in korean


def test_a_step_that_cannot_start_or_change_reads_korean_with_its_next_step():
    english = raised(lambda: stages.apply_transition({"planning": "draft"}, "midterm", "start"))
    assert korean_keeps_detail(english) == (
        "중간 평가를 시작할 수 없습니다. 계획 단계가 'draft' 상태입니다. 먼저 승인되어야 합니다.")
    english = raised(lambda: stages.check_editable({"planning": "signed"}, "planning"))
    assert korean_keeps_detail(english) == (
        "계획 단계은(는) 'signed' 상태여서 수정할 수 없습니다. "
        "잠겨 있습니다. 바꾸려면 사유를 적어 잠금을 해제하십시오.")


def test_an_optional_piece_left_empty_still_matches():
    # models/risk.py `_too_few(..., where="")`: the placeholder after "participants" is empty.
    english = ("only 3 events within 365 days among 40 participants; at least 10 are needed to "
               "fit a risk model. Pool more cohorts, use a longer horizon, or report the "
               "Kaplan-Meier estimate of the event rate instead.")
    assert korean_keeps_detail(english).startswith("참여자 40명 중 365일 안의 사건이(가) 3건뿐입니다.")


def test_two_values_side_by_side_are_cut_where_the_known_pieces_are():
    # matrix/steps.py `stale`: "... you have version {expected}{now}." with now = " (now version 4)".
    english = ("The GS-12 answers at planning was changed by counselor2 at 2026-01-02 10:00 UTC after "
               "you opened it: you have version 3 (now version 4). Reload it, check the changes, and "
               "save again.")
    korean = korean_keeps_detail(english)
    assert korean.startswith("계획 단계의 GS-12 응답을(를) 연 뒤에 counselor2(2026-01-02 10:00 UTC)")
    assert "보고 있는 버전은 3입니다 (현재 버전 4)." in korean


@pytest.mark.parametrize("message", [
    "Something nobody wrote in dscr happened (code 7).",
    "",
    "must be 1..5, got",
])
def test_an_unknown_message_comes_back_unchanged(message):
    assert localise(message, "ko") == message and localise(message, "en") == message


def test_code_words_are_only_whole_values():
    assert {"planning", "note"} <= set(WORDS)
    # A code word inside a longer value is left as it is.
    assert localise("No participant planning 7.", "ko") == "참여자 planning 7이(가) 없습니다."


# ------------------------------------------------------------------ through a page

pytestmark_backend = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytestmark_backend
def test_the_download_form_shows_the_services_message_in_the_readers_language(demo, signed_in):
    korean = MESSAGES["State the purpose of this download (at least 5 characters); it is kept with the export record."]
    at = signed_in("committee1", "pages/outcomes.py")
    at.button(key="FormSubmitter:dl_cm_csv_none-내려받기 준비").click().run()
    assert [e.value for e in at.error] == [korean]

    at.session_state["lang"] = "en"
    at.switch_page("pages/outcomes.py").run()
    at.button(key="FormSubmitter:dl_cm_csv_none-Prepare the download").click().run()
    assert [e.value for e in at.error] == [
        "State the purpose of this download (at least 5 characters); it is kept with the export record."]
