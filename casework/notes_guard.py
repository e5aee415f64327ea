"""Finds what could identify a victim in a free-text note (Youth Sex Protection Act Art. 31).

Pure logic: text in, findings out. A note may speak of "피해자 A", "V1" or a study code such as
"P-3F9K"; it may not carry a name, a phone number, a school, an account handle, an address or an
e-mail. The guard is a heuristic tuned on counselors' notes in Korean and English. A name is found by
its context (a role word before it, a title or suffix after it) and by Kiwi, a Korean
morphological analyser: a proper noun (NNP) shaped like a Korean name (a surname and a given
name, or a given name before a particle) is a name, and a context match that Kiwi reads as an
ordinary word is dropped. English names are found after role words, as a common given name
before a capitalised word, and as romanised Korean names ("Kim Min-ji", "Minji Kim"). Kiwi is
loaded once per process, on first use (a few seconds); a note then takes about a millisecond.
The figures on an invented corpus are in the README; no such guard can promise to catch every
way of naming a person.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

from errors import Message, ValidationError, joined

KINDS = ("name", "phone", "school", "handle", "address", "email")
# What a finding is, in words; and the free-text fields the guard is run on, by the names the use
# cases pass (any other name, such as an instrument's free-text item id, is shown as it is).
_KIND_WORDS = {
    "name": Message("casework.kind_name", "name"),
    "phone": Message("casework.kind_phone", "phone"),
    "school": Message("casework.kind_school", "school"),
    "handle": Message("casework.kind_handle", "handle"),
    "address": Message("casework.kind_address", "address"),
    "email": Message("casework.kind_email", "email"),
}
FIELDS = {
    "note": Message("casework.field_note", "note"),
    "notes": Message("casework.field_notes", "notes"),
    "goal": Message("casework.field_goal", "goal"),
    "goal review note": Message("casework.field_goal_review_note", "goal review note"),
    "review comment": Message("casework.field_review_comment", "review comment"),
    "sign-off decision": Message("casework.field_signoff_decision", "sign-off decision"),
    "purpose": Message("casework.field_purpose", "purpose"),
    "reason": Message("casework.field_reason", "reason"),
}


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int
    excerpt: str


# The commonest Korean surnames (over 95% of people). Single-syllable, so they matter only in context.
_SURNAMES = (
    "김이박최정강조윤장임한오서신권황안송류유전홍고문양손배백허남심노하곽성차주우구민진나지엄"
    "채원천방공현함변염여추도소석선설마길연위표명기반라왕금옥육인맹제모탁국어은편용예경봉"
)
_S = f"[{_SURNAMES}]"
_H = "[가-힣]"
_NOT_H = "(?<![가-힣])"
# Particles that may follow a name, longest first so the name itself stays short.
_PARTICLES = ("과는|와는|과도|와도|이랑은|에게는|한테는|하고는|이에게|이한테|이랑|이가|이는|이를|이도|이의|이와|에게|한테|에서|이랑|랑|하고|와|과|가|는|은|"
              "을|를|의|도|씨|님|양|군|이|만|께")
_NAME_END = f"(?=(?:{_PARTICLES})?(?![가-힣]))"
# Placeholder masks some counselors type for the given name: 김OO, 김○○, 김** ...
_MASK = "(?:[Oo○◯0*Xx＊]{1,2})"

# Role words that introduce a person in a note.
_ROLE = (
    r"피해\s?자|피해\s?학생|피해\s?아동|피해\s?청소년|피해\s?여성|상대\s?방|상대\s?학생|"
    r"여자\s?친구|남자\s?친구|여친|남친|친구|동급생|같은\s?반\s?친구|선배|후배|언니|누나|오빠|"
    r"동생|학생|여학생|남학생|담임|선생님"
)
# Words that follow a role word and look like a surname-led name but are not one.
_STOP = frozenset("""
가족 가정 가해 감정 강요 고소 고통 공포 관계 교사 구제 권리 기록 기억 나이 노출 도움 동의 명예
문자 반응 반발 방어 보호 부모 변호 사과 사생활 사진 상담 상처 상황 서류 성별 손해 신고 신분 신상
심리 안전 양해 어머니 연락 영상 오빠 요구 우울 원망 위로 유포 의사 이름 인적 인권 입장 전학 정보
정신 조사 조치 주소 지원 진단 진술 진술서 차단 측 피해 학교 합의 허락 명의 연락처 부모님 보호자
신원 의견 이야기 얘기 모습 마음 문제 방 반 선생 선생님 성적 주변 쪽 편 친구 측과 이후 이전 이상
""".split())
# Two-syllable words before 학생/양/군/씨 that are not given names.
_STOP_BEFORE_SUFFIX = frozenset("""
피해 가해 같은 다른 해당 여자 남자 고등 초등 중등 대학 모든 어떤 여러 친한 동급 상대 재학 졸업
모범 전학 신입 우수 일반 문제 이웃 태평 아가 아저 아주 그런 이런 저런 남은 많은
""".split())
# Words ending in 이 before a particle that are not names (고양이가, 어린이가 ...).
_STOP_BEFORE_I = frozenset("고양 원숭 어린 거짓말쟁 개구 멍멍 다람 오뚝 호랑 꾀꼬 뻐꾸 갈매 돌멩 먹".split())

_SCHOOL_STOP = frozenset("여자 남자 인근 같은 다른 해당 모 동 근처 지역 전 이전 현재 한".split())
_GU_STOP = frozenset("친구 연구 요구 도구 가구 입구 출구 욕구 탐구 농구 야구 축구 배구 추구 기구 창구 부구".split())
_DONG_STOP = frozenset(
    "활동 행동 이동 운동 충동 감동 공동 자동 노동 변동 출동 반동 아동 소동 언동 작동 협동 연동 난동 "
    "유동 가동 발동 거동 선동 경동 폭동".split()
)
_UNITS = r"(?:주|회|번째|번|개|명|시간|시|분|일|월|년|살|세|학년|차|배|%|점|등|가지|단계|kg|cm|km|만원|원)"

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_URL = re.compile(
    r"(?:https?://|www\.)[^\s<>\"')]+"
    r"|\b(?:instagram|twitter|x|tiktok|facebook|youtube|open\.kakao|t\.me|discord)\.(?:com|gg|me)/[^\s<>\"')]+",
    re.IGNORECASE,
)
_AT_HANDLE = re.compile(r"(?<![\w.@])@[A-Za-z0-9_][A-Za-z0-9_.]{1,29}")
_PLATFORM_ID = re.compile(
    r"(?<![A-Za-z])(?:인스타(?:그램)?|instagram|insta|IG|카톡|카카오톡|카카오|kakao(?:talk)?|텔레그램|telegram|트위터|"
    r"twitter|틱톡|tiktok|디스코드|discord|snapchat|스냅챗|라인|페이스북|facebook)(?![A-Za-z])"
    r"\s*(?P<mark>아이디|계정|닉네임|(?<![A-Za-z])(?:ID|id|handle|account)(?![A-Za-z]))?\s*(?:는|은|이|가)?"
    r"\s*(?P<colon>[:：])?\s*(?P<at>@)?(?P<id>(?=[A-Za-z0-9_.]*[A-Za-z])[A-Za-z0-9_.]{3,30})(?![A-Za-z0-9_.])",
    re.IGNORECASE,
)
_PHONE = re.compile(
    r"(?<![\d-])(?:\+82[-.\s]?|0)(?:1[016789]|2|[3-6][1-5])[-.\s)]?\d{3,4}[-.\s]?\d{4}(?![\d-])"
)
_SCHOOL_KO = re.compile(
    rf"{_NOT_H}(?P<pre>{_H}{{1,10}}?)(?:여자)?(?:초등학교|중학교|고등학교|대학교|초교|여중|여고|공고|상고|외고|과학고|예고)"
    rf"(?![가-힣]*(?:생활|시절|과정))"
)
# Short forms: 강남고, 대치초, 해운대여중, 서울과고. "최고", "집중", "그리고" end the same way, so a
# one-syllable level (초/중/고) counts only when Kiwi reads what comes before it as a proper noun
# or the words after it speak of a school (a grade, 학생, 다니다).
_SCHOOL_LEVEL_LONG = "여중|여고|남중|남고|과고|외고|예고|국제고|공고|상고|여초"
_SCHOOL_SHORT = re.compile(
    rf"{_NOT_H}(?P<pre>{_H}{{1,6}}?)(?P<lvl>{_SCHOOL_LEVEL_LONG}|초|중|고)"
    rf"(?P<after>\s*\d\s*학년|\s*학생|(?:에|을|를|의|은|는|이|가|도|로|에서)?\s*(?:다니|다님|다녀|재학|졸업|전학|입학)"
    rf"|(?:에|을|를|의|은|는|이|가|도|로|에서|생)?(?![가-힣]))"
)
_SCHOOL_SHORT_STOP = frozenset("그리 최 중 도 집 기 하 있 없 같 좋 많 싫 먹 보 가 오 되 이 저 그 여 남 소 제 어 요".split())
_SCHOOL_EN = re.compile(
    r"\b(?:[A-Z][a-z]+\s+){1,3}(?:Middle|High|Elementary|Primary|Junior\s+High|Girls'?|Boys'?)\s+School\b"
)
_ROAD = re.compile(
    rf"{_NOT_H}(?P<pre>{_H}{{1,8}}?(?:대로|로|길)(?:\d+(?:번)?(?:길|가))?)\s?(?P<num>\d{{1,4}}(?:-\d{{1,4}})?)"
    rf"(?![\d-])(?!\s*{_UNITS})"
)
_DONG_LOT = re.compile(
    rf"{_NOT_H}(?P<pre>{_H}{{1,6}}동)\s?(?P<num>\d{{1,4}}(?:-\d{{1,4}}|번지)(?:-\d{{1,4}})?)(?![\d])"
)
_GU_DONG = re.compile(rf"{_NOT_H}(?P<gu>{_H}{{1,4}}구)\s(?P<dong>{_H}{{1,5}}(?:\d{{1,2}})?동)(?![가-힣])")
_APT = re.compile(r"(?<!\d)\d{1,4}동\s?\d{1,4}호(?![가-힣])")

_NAME_AFTER_ROLE = re.compile(
    rf"(?:{_ROLE})\s*(?:인|이름은|이름이|은|는|이|가|의|분)?\s*[,:]?\s*"
    rf"(?P<name>{_NOT_H}(?:{_S}{_MASK}|{_S}{_H}{{1,2}}))(?:\s?(?:씨|양|군|님))?{_NAME_END}"
)
_NAME_WITH_SUFFIX = re.compile(
    rf"{_NOT_H}(?P<name>{_H}{{2,3}}|{_S}{_MASK})(?P<sp>\s?)(?P<suf>씨|양|군|님|학생)(?=(?:{_PARTICLES})?(?![가-힣]))"
)
_NAME_WITH_I = re.compile(rf"{_NOT_H}(?P<name>{_H}{{2}})이(?:가|는|를|랑|한테|에게|도|와|의|하고)(?![가-힣])")
_EN_NAME = r"[A-Z][a-z]{2,}(?:[ -][A-Z][a-z]+)?"
_NAME_EN = re.compile(
    rf"\b(?:named|called|name\s+is|name\s+was|victim|girlfriend|boyfriend|classmate|friend|girl|boy|"
    rf"student|sister|brother|complainant)\s*,?\s+(?P<name>{_EN_NAME})\b"
    rf"|\b(?:Mr|Mrs|Ms|Miss|Dr)\.?\s+(?P<name2>{_EN_NAME})\b"
)
# Capitalised words after a role word that are not names.
_EN_STOP = frozenset(
    "The This That She He They Her His Support Services Protection Center Centre Said Was Is And But "
    "Has Had Who Which When Where Because Statement Report".split()
)


# Romanised Korean surnames, and common English given names: "Jane Kim", "Kim Min-ji", "Minji Kim",
# "Emily Carter". A capitalised word beside one of them is taken for the rest of the name.
_ROMAN_SURNAMES = (
    "Kim|Lee|Yi|Rhee|Park|Pak|Bak|Choi|Choe|Jung|Jeong|Chung|Kang|Cho|Jo|Yoon|Yun|Jang|Chang|Lim|Im|"
    "Han|Oh|Seo|Suh|Shin|Sin|Kwon|Hwang|Ahn|Song|Ryu|Yoo|Yu|Jeon|Jun|Hong|Ko|Koh|Moon|Mun|Yang|Son|"
    "Bae|Baek|Paik|Heo|Huh|Nam|Shim|Sim|Noh|Roh|Kwak|Sung|Seong|Cha|Joo|Ju|Woo|Koo|Min|Jin|"
    "Eom|Um|Chae|Won|Cheon|Bang|Gong|Hyun|Ham|Byun|Yeom|Choo|Seok|Seol|Yeon|Pyo|Myung|Maeng|Tak|"
    "Namgung|Hwangbo|Jegal|Seonwoo|Dokgo|Sagong"
)
_EN_GIVEN = (
    "Emily|Emma|Olivia|Sophia|Sophie|Chloe|Hannah|Grace|Sarah|Sara|Jane|Jessica|Ashley|Amanda|Megan|"
    "Lauren|Rachel|Rebecca|Laura|Anna|Julia|Lily|Ella|Mia|Ava|Isabella|Abigail|Madison|Charlotte|"
    "Amelia|Harper|Evelyn|Elizabeth|Victoria|Natalie|Zoe|Nicole|Samantha|Kate|Katie|Alice|Lucy|Amy|"
    "Mary|Linda|Susan|Karen|Lisa|Michelle|Kelly|Stephanie|Jennifer|Heather|Kayla|Alyssa|Jasmine|"
    "Leah|Stella|Ruby|Ivy|Nora|Hailey|Claire|Audrey|Daniel|David|James|John|Michael|Chris|"
    "Christopher|Matthew|Andrew|Joshua|Ryan|Tyler|Brandon|Jacob|Ethan|Noah|Liam|Mason|Lucas|Logan|"
    "Alex|Alexander|Benjamin|William|Henry|Jack|Kevin|Brian|Justin|Eric|Jason|Kyle|Samuel|Thomas|"
    "Peter|Paul|Steven|Jonathan|Nathan|Aaron|Adam|Sean|Jake|Luke|Owen|Dylan|Evan|Caleb|Leo|Oliver|"
    "Harry|Charlie|George|Joseph|Anthony|Robert|Richard"
)
_GIVEN_THEN_ROMAN = re.compile(
    rf"\b(?P<name>(?P<given>[A-Z][a-z]+(?:-[A-Za-z][a-z]+)?)\s+(?:{_ROMAN_SURNAMES}))\b(?!-)"
)
_ROMAN_THEN_GIVEN = re.compile(
    rf"\b(?P<name>(?:{_ROMAN_SURNAMES})\s+(?P<given>[A-Z][a-z]+-[A-Za-z][a-z]+|[A-Z][a-z]{{3,}}))\b(?!-)"
)
_EN_GIVEN_THEN_NAME = re.compile(rf"\b(?P<name>(?:{_EN_GIVEN})\s+[A-Z][a-z]+)\b")
# Capitalised words that may stand before or after a surname without being a given name.
_EN_NOT_GIVEN = frozenset(
    "The This That She He They Her His Him It We You Our Their Mr Mrs Ms Miss Dr Victim Support "
    "Said Says Asked Told Called Met Saw Counselor Counsellor Teacher Mother Father Mom Dad Korea "
    "Korean Seoul Busan Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February "
    "March April May June July August September October November December Session Sessions Team "
    "Center Centre School High Middle Police Court Office Group Step Stage Plan Note Case Study".split()
)


def _given_name_ok(name: str) -> bool:
    return name not in _STOP_BEFORE_SUFFIX

# --- Kiwi: proper nouns shaped like Korean names ------------------------------------------------

_kiwi: Any = None
_kiwi_lock = threading.Lock()


def _analyser() -> Any:
    """The process's one Kiwi (the model ships in the kiwipiepy-model package: nothing is downloaded)."""
    global _kiwi
    if _kiwi is None:
        with _kiwi_lock:
            if _kiwi is None:
                from kiwipiepy import Kiwi

                kiwi = Kiwi()
                kiwi.tokenize("상담 기록을 저장합니다.")  # the first analysis builds its tables
                _kiwi = kiwi
    return _kiwi


def warm_up() -> None:
    """Load Kiwi now (a few seconds) rather than on the first note saved."""
    _analyser()


def _tokens(text: str) -> list[Any]:
    kiwi = _analyser()
    with _kiwi_lock:  # one analysis at a time: dashboard sessions share the process
        return list(kiwi.tokenize(text))


_DOUBLE_SURNAMES = frozenset("남궁 황보 제갈 선우 독고 사공 서문 동방 어금 망절".split())
# The last syllable of most Korean given names; "인스타", "유튜브", "캡처" end otherwise.
_GIVEN_FINAL = frozenset(
    "지 연 은 윤 아 호 훈 민 진 희 나 린 우 서 현 준 영 빈 원 수 혁 율 하 경 정 주 솔 별 담 람 미 혜 "
    "숙 인 란 름 온 결 찬 석 성 철 용 기 환 규 균 재 태 한 도 섭 욱 완 웅 열 식 범 선 슬 채 유 예 "
    "리 니 비 라 다 가 향 옥 순 자 덕 건 겸 헌 협 형 홍 화 효 후 휘 흠 상 승 시 신 안 애 양 언 엽 "
    "오 요 운 혼 송 율 늘 봄 결 새 솜 찬".split()
)
# Proper nouns Kiwi knows that are shaped like a name but name no person a note would speak of.
_NOT_PERSON = frozenset(
    "서울 한국 대한민국 경기 부산 인천 대구 광주 대전 울산 세종 제주 강남 강북 서초 송파 마포 "
    "유튜브 인스타 인스타그램 카카오 카카오톡 카톡 네이버 구글 트위터 페이스북 틱톡 디스코드 "
    "텔레그램 라인 애플 삼성 캡처 한강 경찰 경찰청 법원 검찰 정부 국회 교육청 해바라기 "
    "주니어 시니어 페이크 딥페이크".split()
)
_PERSON_PARTICLES = frozenset(
    "가 이 는 은 를 을 와 과 랑 이랑 한테 에게 께 께서 도 의 만 하고 이라고 라고 이라는 라는 "
    "이에게 이한테 이랑 이가 이는 이를 이도 이의 이와 이하고".split()
)
_PERSON_SUFFIXES = frozenset("씨 양 군 님 학생".split())


def _full_name_shape(form: str) -> bool:
    if len(form) in (3, 4) and form[:2] in _DOUBLE_SURNAMES:
        return True
    return len(form) == 3 and form[0] in _SURNAMES and form[2] in _GIVEN_FINAL


def _before_person_word(toks: list[Any], i: int, text: str) -> bool:
    """Whether what follows token i is a particle or a suffix that goes with a person."""
    end = toks[i].start + toks[i].len
    for t in toks[i + 1:i + 3]:
        word = text[t.start:t.start + t.len]
        if t.start == end and t.tag == "XSN" and word == "이":
            end = t.start + t.len  # 수진 + 이 + 한테
            continue
        if t.start == end and (t.tag.startswith("J") or t.tag == "VCP") and word in _PERSON_PARTICLES | {"이"}:
            return True
        if t.start == end and t.tag == "SSO":
            return True  # 민지(가명)
        if t.start - end <= 1 and word in _PERSON_SUFFIXES:
            return True
        return False
    return False


def _kiwi_names(text: str) -> list[tuple[int, int]]:
    """Spans Kiwi reads as a proper noun that is shaped like a Korean name."""
    if not re.search(_H, text):
        return []
    toks = _tokens(text)
    out: list[tuple[int, int]] = []
    for i, t in enumerate(toks):
        if t.tag not in ("NNP", "NNG"):
            continue
        form = text[t.start:t.start + t.len]
        if not re.fullmatch(f"{_H}+", form) or form in _NOT_PERSON:
            continue
        known = t.id > 100  # ids below that stand for a word that is not in Kiwi's dictionary
        if t.tag == "NNG" and known:
            continue  # an ordinary word
        if known and form[-1] in "시도구군동읍면역":
            continue  # 경기도, 수원시: a place
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        nxt_form = text[nxt.start:nxt.start + nxt.len] if nxt is not None else ""
        if (len(form) == 1 and form in _SURNAMES and nxt is not None and nxt.tag == "NNP"
                and nxt.start == t.start + 1 and len(nxt_form) == 2 and nxt_form[1] in _GIVEN_FINAL):
            out.append((t.start, nxt.start + nxt.len))  # 임 + 수빈
            continue
        if len(form) == 3 and form.endswith("이") and form[1] in _GIVEN_FINAL and _before_person_word(toks, i, text):
            out.append((t.start, t.start + 2))  # 서연이가: the name is 서연
            continue
        if _full_name_shape(form):
            out.append((t.start, t.start + t.len))
            continue
        if (t.tag == "NNP" and len(form) == 2 and form[1] in _GIVEN_FINAL
                and _before_person_word(toks, i, text)):
            out.append((t.start, t.start + t.len))  # 민지(가명), 유나가, 하윤 양
    return out


def _kiwi_reads_as_word(toks: list[Any], start: int, end: int, text: str) -> bool:
    """Whether Kiwi reads text[start:end] as an ordinary dictionary word, not a proper noun."""
    for t in toks:
        if t.start == start:
            word = text[t.start:t.start + t.len]
            return (t.tag not in ("NNP",) and t.id > 100 and t.len >= 2
                    and t.start + t.len >= min(end, start + 2)
                    and word not in _PERSON_SUFFIXES)
    return False


def _school_by_kiwi(toks: list[Any], start: int, pre_end: int, text: str) -> bool:
    """Whether Kiwi reads the part before 초/중/고 as a proper noun (or the whole as one)."""
    for t in toks:
        if t.start == start:
            return t.tag == "NNP" and t.start + t.len >= pre_end
    return False


def find_identifiers(text: str) -> list[Finding]:
    """Everything in `text` that could identify a person, in order of position, without overlaps."""
    if not text:
        return []
    found: list[Finding] = []

    def add(kind: str, start: int, end: int) -> None:
        found.append(Finding(kind, start, end, text[start:end]))

    for m in _EMAIL.finditer(text):
        add("email", m.start(), m.end())
    for m in _URL.finditer(text):
        add("handle", m.start(), m.end())
    for m in _AT_HANDLE.finditer(text):
        add("handle", m.start(), m.end())
    for m in _PLATFORM_ID.finditer(text):
        # "Instagram and ...", "KakaoTalk less": an ordinary word after a platform's name is not
        # an account; one is written after "아이디", "ID", a colon or an @, or has digits or _ in it.
        if not (m.group("mark") or m.group("colon") or m.group("at") or re.search(r"[\d_.]", m.group("id"))):
            continue
        add("handle", m.start("id"), m.end("id"))
    for m in _PHONE.finditer(text):
        add("phone", m.start(), m.end())
    for m in _SCHOOL_KO.finditer(text):
        pre = m.group("pre")
        # "A중학교", "모 중학교" and the like are coded or vague; keep those.
        if pre in _SCHOOL_STOP or pre.endswith("학년"):
            continue
        add("school", m.start(), m.end())
    toks = _tokens(text) if re.search(_H, text) else []
    for m in _SCHOOL_SHORT.finditer(text):
        pre, lvl = m.group("pre"), m.group("lvl")
        if pre in _SCHOOL_STOP or pre in _SCHOOL_SHORT_STOP or pre.endswith("학년"):
            continue
        if lvl in ("초", "중", "고"):
            if len(pre) < 2:
                continue
            schooling = bool(re.search(r"학년|학생|다니|다님|다녀|재학|졸업|전학|입학", m.group("after")))
            if _kiwi_reads_as_word(toks, m.start(), m.end("lvl"), text):
                continue  # 최고, 집중, 그리고
            if not (schooling or _school_by_kiwi(toks, m.start(), m.end("pre"), text)):
                continue
        add("school", m.start(), m.end("lvl"))
    for m in _SCHOOL_EN.finditer(text):
        add("school", m.start(), m.end())
    for m in _ROAD.finditer(text):
        pre = m.group("pre")
        if pre.endswith("으로") or pre in ("으로", "로", "길") or len(pre) < 2:
            continue
        add("address", m.start(), m.end())
    for m in _DONG_LOT.finditer(text):
        if m.group("pre") in _DONG_STOP:
            continue
        add("address", m.start(), m.end())
    for m in _GU_DONG.finditer(text):
        if m.group("gu") in _GU_STOP or m.group("dong") in _DONG_STOP:
            continue
        add("address", m.start(), m.end())
    for m in _APT.finditer(text):
        add("address", m.start(), m.end())
    for m in _NAME_AFTER_ROLE.finditer(text):
        name = m.group("name")
        if name in _STOP or name[:2] in _STOP and len(name) == 3:
            continue
        add("name", m.start("name"), m.end("name"))
    for m in _NAME_WITH_SUFFIX.finditer(text):
        name, suf = m.group("name"), m.group("suf")
        if not _given_name_ok(name) or name in _STOP:
            continue
        if len(name) == 3 and not re.match(_S, name):
            continue  # three syllables without a surname: a word, not a name
        if suf == "학생" and not m.group("sp") and not re.match(_S, name):
            continue  # "모범학생": a compound, not "민지 학생"
        add("name", m.start("name"), m.end("name"))
    for m in _NAME_WITH_I.finditer(text):
        name = m.group("name")
        if name in _STOP_BEFORE_I or name in _STOP or name in _STOP_BEFORE_SUFFIX:
            continue
        add("name", m.start("name"), m.end("name"))
    # A context match that Kiwi reads as an ordinary word ("진행이 더딤") is not a name; a mask
    # ("김OO") is one whatever Kiwi makes of it.
    found = [f for f in found if f.kind != "name" or re.search(_MASK, f.excerpt)
             or not _kiwi_reads_as_word(toks, f.start, f.end, text)]
    for start, end in _kiwi_names(text):
        add("name", start, end)
    for m in _NAME_EN.finditer(text):
        group = "name" if m.group("name") else "name2"
        first = m.group(group).split()[0].split("-")[0]
        if first in _EN_STOP:
            continue
        add("name", m.start(group), m.end(group))
    for rule in (_GIVEN_THEN_ROMAN, _ROMAN_THEN_GIVEN, _EN_GIVEN_THEN_NAME):
        for m in rule.finditer(text):
            words = re.split(r"[\s-]+", m.group("name"))
            if any(w in _EN_NOT_GIVEN for w in words):
                continue
            add("name", m.start("name"), m.end("name"))
    return _without_overlaps(found)


def _without_overlaps(found: list[Finding]) -> list[Finding]:
    # Longest first at each position; a finding inside an earlier, longer one is dropped.
    order = sorted(found, key=lambda f: (f.start, -(f.end - f.start)))
    out: list[Finding] = []
    for f in order:
        if out and f.start < out[-1].end:
            continue
        out.append(f)
    return out


def _masked(excerpt: str) -> str:
    return excerpt[:1] + "*" * max(len(excerpt) - 1, 2)


def check_note(text: str | None, *, field: str = "note") -> None:
    """Refuse a note that names or locates a person; the message says where and what to do."""
    findings = find_identifiers(text or "")
    if not findings:
        return
    where = joined([Message("casework.finding", "{kind} at characters {start}-{end} ({excerpt})",
                            kind=_KIND_WORDS.get(f.kind, f.kind), start=f.start, end=f.end,
                            excerpt=_masked(f.excerpt)) for f in findings])
    raise ValidationError(
        "casework.seems_identify_person_victims",
        "The {field} seems to identify a person ({where}). Victims' identities may not be "
        "written down (Youth Sex Protection Act Art. 31): remove them or use a coded reference "
        "such as '피해자 A', 'V1' or the study code, then save again.",
        field=FIELDS.get(field, field), where=where
    )
