"""Messages are data: every code in the source has its Korean, the catalogue compiles, localise() reads it."""

from __future__ import annotations

import ast
import re
import string
from collections import defaultdict

import pytest

import errors
from assessment.instruments import default_instruments
from assessment.scoring import score_responses
from casework.notes_guard import check_note
from dashboard import messages
from dashboard.messages import localise
from errors import DscrError, Message
from matrix import stages
from matrix.outcomes import paired_change

HANGUL = re.compile(r"[\uac00-\ud7a3]")


@pytest.fixture(scope="module")
def extracted() -> list[tuple[str, str, str, int]]:
    return list(messages.extract())


@pytest.fixture(scope="module")
def catalog():
    return messages._read_po()


def entries(catalog) -> dict[tuple[str, str], object]:
    return {(m.context, m.id): m for m in catalog if m.id}


def fields(template: str) -> list[str]:
    """The placeholders as written, conversion and format spec included: ['item', 'value!r']."""
    out = []
    for _, name, spec, conv in string.Formatter().parse(template):
        if name is not None:
            out.append(name + (f"!{conv}" if conv else "") + (f":{spec}" if spec else ""))
    return sorted(set(out))


# ------------------------------------------------------------------ source, .po and .mo agree


def test_every_message_in_the_source_has_a_catalogue_entry_and_no_entry_is_stale(extracted, catalog):
    found = {(code, template) for code, template, _, _ in extracted}
    assert len({code for code, _ in found}) > 450  # ~440 raise sites and their pieces
    known = set(entries(catalog))
    assert sorted(found - known) == [], "codes without a catalogue entry: run extract"
    assert sorted(known - found) == [], "catalogue entries no code in the source has"


def test_every_entry_has_korean_and_none_is_fuzzy(catalog):
    missing = [m.context for m in catalog if m.id and (not m.string or m.fuzzy)]
    assert missing == []
    # An English sentence copied as its own Korean ("{first}; {rest}" has no words to translate).
    untranslated = [m.context for m in catalog if m.id and m.string == m.id
                    and re.search(r"[a-z]{3,} [a-z]{3,}", m.id)]
    assert untranslated == [], "entries whose Korean is the English sentence"


def test_each_korean_entry_uses_exactly_the_placeholders_of_its_template(catalog):
    wrong = {m.context: (m.id, m.string) for m in catalog
             if m.id and fields(m.id) != fields(m.string)}
    assert wrong == {}


def test_every_entry_is_python_brace_format_and_its_code_is_well_formed(catalog):
    # Babel keeps the flag only on templates that have a placeholder.
    bad = [m.context for m in catalog if m.id and (
        ("python-brace-format" not in m.flags and errors.placeholders(m.id))
        or not errors.CODE.match(m.context or ""))]
    assert bad == []


def test_the_checked_in_mo_is_the_po_compiled(catalog):
    assert messages.MO.read_bytes() == messages.compiled(), (
        "run: python -m dashboard.messages compile")


def test_one_code_has_one_template(extracted):
    templates: dict[str, set[str]] = defaultdict(set)
    for code, template, _, _ in extracted:
        templates[code].add(template)
    assert {c: t for c, t in templates.items() if len(t) > 1} == {}


# Where a message is rebuilt from stored data (its code and template were literal where it was made).
DATA_DRIVEN = {("cards.py", "message_of")}


def test_no_dscr_error_or_message_is_made_without_a_literal_code_and_template():
    names = messages.error_class_names() | {"Message"}
    loose = []
    for path in messages.source_files():
        if path.name == "errors.py" and path.parent == messages.ROOT:
            continue  # the family itself passes codes on (`of`, `message`)
        tree = ast.parse(path.read_bytes())
        fn_of = {id(n): f.name for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)
                 for n in ast.walk(f)}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name not in names:
                continue
            literal = (len(node.args) >= 2 and all(
                isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args[:2]))
            if not literal and (path.name, fn_of.get(id(node))) not in DATA_DRIVEN:
                loose.append(f"{path.relative_to(messages.ROOT)}:{node.lineno}")
    assert loose == []


def test_the_one_argument_form_is_refused():
    with pytest.raises(TypeError):
        errors.ValidationError("a sentence with no code")  # type: ignore[call-arg]


# ------------------------------------------------------------------ localise()


def raised(call) -> DscrError:
    with pytest.raises(DscrError) as info:
        call()
    return info.value


def test_an_answer_out_of_range_reads_korean_with_the_item_and_value():
    registry = default_instruments()
    inst = registry[sorted(registry)[0]]
    first = inst.items[0].id
    err = raised(lambda: score_responses(inst, {first: 9}))
    assert err.code == "assessment.answer_range"
    assert f"item {first} must be a whole number" in str(err)  # the English is as it was
    assert localise(err, "ko") == (f"{inst.id} v{inst.version}: 문항 {first}의 응답은 "
                                   f"{inst.scale.min}..{inst.scale.max}의 정수여야 합니다. 입력값: 9")
    assert localise(err, "en") == str(err)


def test_a_confidence_level_given_as_a_percentage_reads_korean():
    err = raised(lambda: paired_change([1, 2, 3, 4], [2, 3, 3, 5], ci=95))
    assert localise(err, "ko") == "ci는 0.95처럼 0과 1 사이의 수준이어야 합니다. 입력값: 95"


def test_a_note_naming_a_victim_reads_korean_finding_by_finding():
    err = raised(lambda: check_note("피해자 김민지의 학교는 서울중학교이고 전화 010-1234-5678"))
    korean = localise(err, "ko")
    # The field, each finding (a nested Message) and its kind are translated too.
    assert korean.startswith("상담 메모에 사람을 식별할 수 있는 정보가 있는 것 같습니다(")
    assert "전화번호: " in korean and "at characters" not in korean and "청소년성보호법 제31조" in korean
    assert "note" not in korean and "notes" not in korean


def test_steps_and_statuses_are_shown_by_their_labels():
    err = raised(lambda: stages.apply_transition({"planning": "draft"}, "midterm", "start"))
    korean = localise(err, "ko")
    assert "중간 평가" in korean and "계획 단계" in korean and "작성 중" in korean, korean
    assert "planning" not in korean and "draft" not in korean and "first" not in korean
    err = raised(lambda: stages.check_editable({"planning": "signed"}, "planning"))
    korean = localise(err, "ko")
    assert "승인·잠김" in korean and "잠금을 해제하십시오" in korean, korean


def test_a_nested_message_is_translated():
    inner = Message("matrix.next_submit", "submit it first")
    outer = Message("errors.joined", "{first}; {rest}", first=inner,
                    rest=Message("matrix.next_start", "start it first"))
    assert localise(outer, "ko") == "먼저 제출하십시오.; 먼저 시작하십시오."
    assert localise(outer, "en") == "submit it first; start it first"


def test_an_unknown_code_falls_back_to_english_with_every_detail():
    msg = Message("nowhere.nothing", "Something nobody wrote in dscr happened (code {n}).", n=7)
    assert localise(msg, "ko") == "Something nobody wrote in dscr happened (code 7)."
    err = errors.Conflict("nowhere.else", "row {row} clashes", row=3)
    assert localise(err, "ko") == "row 3 clashes"
    assert localise("a plain sentence", "ko") == "a plain sentence"


def test_a_vocabulary_code_in_two_lists_is_left_alone_unless_the_param_names_its_list():
    assert messages.vocabulary_label("value", "other") == "other"  # an event type? a sex?
    assert messages.vocabulary_label("event_type", "other") == "기타 범죄"
    assert messages.vocabulary_label("stage", "planning") == "계획 단계 (사전 평가)"
    assert messages.vocabulary_label("what", "planning") == "계획 단계 (사전 평가)"  # one list only
    assert messages.vocabulary_label("stage", "not a code") == "not a code"


def test_a_model_card_keeps_its_warnings_as_messages_and_reads_old_cards():
    from models.cards import message_of

    warning = Message("models.not_validated",
                      "Not validated: no performance figures. Run validate() before use.")
    assert message_of({"code": warning.code, "template": warning.template, "params": {}}) == warning
    assert message_of("an old card's sentence") == "an old card's sentence"
    assert HANGUL.search(localise(warning, "ko"))


# ------------------------------------------------------------------ through a page

pytestmark_backend = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytestmark_backend
def test_the_download_form_shows_the_services_message_in_the_readers_language(demo, signed_in):
    template = ("State the purpose of this download (at least {min} characters); it is kept with "
                "the export record.")
    english = template.format(min=5)
    code = next(c for c, t, _, _ in messages.extract() if t == template)
    korean = messages._translations().pgettext(code, template).format(min=5)
    assert HANGUL.search(korean) and "5자" in korean
    at = signed_in("committee1", "pages/outcomes.py")
    at.button(key="FormSubmitter:dl_cm_csv_none-내려받기 준비").click().run()
    assert [e.value for e in at.error] == [korean]

    at.session_state["lang"] = "en"
    at.switch_page("pages/outcomes.py").run()
    at.button(key="FormSubmitter:dl_cm_csv_none-Prepare the download").click().run()
    assert [e.value for e in at.error] == [english]


def test_dates_in_a_korean_message_are_written_the_korean_way_and_kept_iso_in_english():
    import datetime as dt

    from errors import Message

    window = Message("models.window", "{start} to {end}", start="2020-12-27", end="2026-06-30")
    message = Message("models.follow_up_window_already",
                      "{code} has a follow-up window already ({window_text}); a new check moves "
                      "its end, so give its start {fu_start_date}.",
                      code="P-1", window_text=window, fu_start_date="2020-12-27")
    korean = messages.localise(message, "ko")
    assert "(2020. 12. 27.~2026. 6. 30.)" in korean and "시작일을 2020. 12. 27.(으)로" in korean
    assert "2020-12-27" not in korean
    assert "(2020-12-27 to 2026-06-30)" in messages.localise(message, "en")
    # Date objects too, and a moment in Seoul's time; what only looks like a date stays as given.
    at = Message("models.window", "{start} to {end}", start=dt.date(2026, 1, 5),
                 end=dt.datetime(2026, 1, 5, 15, 30))  # naive UTC: 00:30 the next day in Seoul
    assert messages.localise(at, "ko").startswith("2026. 1. 5.") and "2026. 1. 6. 00:30" in messages.localise(at, "ko")
    odd = Message("models.window", "{start} to {end}", start="2026-02-30", end="2026-13-01")
    assert "2026-02-30" in messages.localise(odd, "ko")


def test_model_covariates_in_a_korean_message_are_named_as_the_pages_name_them():
    from dashboard.text_analyst import covariate_label
    from errors import Message

    message = Message("models.change_cox_ph_fails",
                      "The proportional-hazards check fails for {covariates} (p < 0.05): their "
                      "hazard ratio changes over follow-up, so one number misdescribes it.",
                      covariates="offence_grooming, age_at_referral")
    korean = messages.localise(message, "ko")
    assert korean.startswith(f"{covariate_label('offence_grooming', 'ko')}, "
                             f"{covariate_label('age_at_referral', 'ko')}의")
    assert "offence_grooming" not in korean and "age_at_referral" not in korean
    assert "offence_grooming, age_at_referral" in messages.localise(message, "en")
