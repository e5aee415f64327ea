"""The notes guard on a hand-written set of invented sentences: what it must find, what it must leave."""

from __future__ import annotations

import pytest

from casework.notes_guard import Finding, check_note, find_identifiers
from errors import ValidationError

# (sentence, expected findings as (kind, excerpt)). Every name, number and place is invented.
POSITIVE: list[tuple[str, set[tuple[str, str]]]] = [
    ("피해자 김민지가 학교에서 사진을 봤다고 함", {("name", "김민지")}),
    ("피해자 김OO와 연락하지 않기로 약속함", {("name", "김OO")}),
    ("피해 학생 박서연의 사진을 단톡방에 올렸다고 진술", {("name", "박서연")}),
    ("여자친구 이하은에게 사과 편지를 쓰고 싶다고 함", {("name", "이하은")}),
    ("민지 학생과는 같은 반이었다고 함", {("name", "민지")}),
    ("서연 양의 부모가 신고했다고 함", {("name", "서연")}),
    ("지훈이가 먼저 보내자고 했다고 주장", {("name", "지훈")}),
    ("상대방 정유진 씨와 합의가 진행 중", {("name", "정유진")}),
    ("피해자 연락처 010-1234-5678 를 아직 갖고 있음", {("phone", "010-1234-5678")}),
    ("어머니 번호는 01098765432 입니다", {("phone", "01098765432")}),
    ("+82 10 2345 6789 로 메시지를 보냈다고 함", {("phone", "+82 10 2345 6789")}),
    ("학교 번호 02-345-6789 로 연락 옴", {("phone", "02-345-6789")}),
    ("피해자는 한빛중학교 2학년", {("school", "한빛중학교")}),
    ("새솔고등학교 앞에서 만났다고 함", {("school", "새솔고등학교")}),
    ("동생은 푸른초등학교에 다님", {("school", "푸른초등학교")}),
    ("She moved from Maple Grove Middle School last year", {("school", "Maple Grove Middle School")}),
    ("인스타 아이디 sunny_day22 로 DM을 보냄", {("handle", "sunny_day22")}),
    ("카톡 ID: blue.moon77 로 연락함", {("handle", "blue.moon77")}),
    ("He posted it from @night_owl_x and deleted it", {("handle", "@night_owl_x")}),
    ("영상은 https://example.com/v/abc123 에 올라가 있었음", {("handle", "https://example.com/v/abc123")}),
    ("피해자 집은 망원로 12 근처", {("address", "망원로 12")}),
    ("합정동 123-4 에 산다고 함", {("address", "합정동 123-4")}),
    ("마포구 망원동 에서 만났다고 함", {("address", "마포구 망원동")}),
    ("아파트 101동 1203호 에 산다고 말함", {("address", "101동 1203호")}),
    ("이메일 sora.kim@example.com 으로 파일을 받았다고 함", {("email", "sora.kim@example.com")}),
    ("The victim named Emily Carter asked him to stop", {("name", "Emily Carter")}),
    ("He said Ms. Johnson, her teacher, found out", {("name", "Johnson")}),
    ("His girlfriend Sarah saw the chat", {("name", "Sarah")}),
    ("피해자 최수아 (010-2222-3333) 연락 금지",
     {("name", "최수아"), ("phone", "010-2222-3333")}),
]

NEGATIVE: list[str] = [
    "피해자 A와의 관계를 돌아봄",
    "피해자 A가 느꼈을 감정에 대해 이야기함",
    "V1, V2 에게 사과 편지를 쓰는 과제를 냄",
    "P-3F9K 참여자, 3회기 출석",
    "피해자 진술과 본인 진술이 다른 부분을 다룸",
    "피해자 보호의 중요성을 이해함",
    "피해자 가족에게 미친 영향을 생각해 봄",
    "피해 학생의 입장에서 편지를 써 봄",
    "친구 관계에서 경계 지키기 연습",
    "중학교 2학년 때부터 휴대폰을 사용",
    "고등학교 진학 후 생활 변화",
    "같은 학교 학생들 사이에 퍼졌다고 함",
    "주 1회로 2주간 추가 상담",
    "앞으로 3주 동안 과제 수행",
    "활동 2시간, 행동 계약서 작성",
    "친구 행동에 대해 이야기함",
    "고양이가 아프다며 결석함",
    "어린이가 보는 영상과 구분하기",
    "2024-05-12 상담 일정 변경",
    "점수 12-15점 범위, 재검 예정",
    "The victim A was not named in the session",
    "Discussed the victim's perspective and consent",
    "Victim Support was contacted with consent",
    "Scores improved from 42 to 35 on the scale",
    "He attended 12 of 14 sessions",
    "연락처를 모두 삭제했다고 함",
    "인스타그램 사용 시간을 줄이기로 함",
    "모범학생이라는 평가를 받아 왔다고 함",
    "여학생들과 대화하는 방식에 대해 다룸",
    "피해자 측 변호사와 합의 논의",
]


def _kinds(text: str) -> set[tuple[str, str]]:
    return {(f.kind, f.excerpt) for f in find_identifiers(text)}


def _scores() -> tuple[float, float, int, int, int]:
    tp = fp = fn = 0
    for text, expected in POSITIVE:
        got = _kinds(text)
        tp += len(got & expected)
        fp += len(got - expected)
        fn += len(expected - got)
    for text in NEGATIVE:
        fp += len(_kinds(text))
    return tp / (tp + fp), tp / (tp + fn), tp, fp, fn


@pytest.mark.parametrize(("text", "expected"), POSITIVE, ids=[t for t, _ in POSITIVE])
def test_identifying_content_is_found(text, expected):
    assert _kinds(text) == expected


@pytest.mark.parametrize("text", NEGATIVE)
def test_coded_references_and_ordinary_words_are_left_alone(text):
    assert find_identifiers(text) == []


def test_precision_and_recall_on_the_hand_written_set_are_both_perfect():
    precision, recall, tp, fp, fn = _scores()
    # 29 positive sentences (30 expected findings), 30 negative sentences.
    assert (tp, fp, fn) == (30, 0, 0)
    assert precision == recall == 1.0


def test_findings_point_at_the_text_they_quote():
    text = "피해자 김민지가 010-1234-5678 로 연락"
    for f in find_identifiers(text):
        assert isinstance(f, Finding)
        assert text[f.start:f.end] == f.excerpt


def test_check_note_refuses_with_kind_and_place_but_not_the_value_itself():
    with pytest.raises(ValidationError) as err:
        check_note("피해자 김민지가 전화함", field="session note")
    msg = str(err.value)
    assert "session note" in msg and "name at characters 4-7" in msg and "피해자 A" in msg
    assert "김민지" not in msg
    check_note("피해자 A가 전화함")  # a coded reference passes
    check_note(None)
