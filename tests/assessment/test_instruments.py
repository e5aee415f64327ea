"""Instrument files: the shipped set, the registry, and refusals naming file, entry and rule."""

from __future__ import annotations

import re

import pytest

from assessment.instruments import (
    COUNSELOR_DOMAINS,
    MATRIX_DOMAINS,
    STAGES,
    Instrument,
    build_registry,
    default_instruments,
    get_instrument,
    load_instrument,
    load_instruments,
)
from errors import NotFound, ValidationError

# ------------------------------------------------------------------ the shipped set


def test_default_set_has_a_self_report_of_8_to_20_items_with_reverse_keys_for_each_matrix_domain():
    instruments = default_instruments()
    for domain in MATRIX_DOMAINS:
        covering = [
            inst
            for inst in instruments.values()
            if inst.kind == "self_report" and domain in inst.domains
        ]
        assert covering, domain
        for inst in covering:
            items = inst.items_of_domain(domain)
            assert 8 <= len(items) <= 20, inst.id
            n_reverse = sum(it.reverse for it in items)
            assert 2 <= n_reverse < len(items), inst.id


def test_default_set_items_are_bilingual_and_unique_across_instruments():
    seen: set[str] = set()
    for inst in default_instruments().values():
        assert inst.title.ko and inst.title.en
        assert set(inst.stages) == set(STAGES)
        for it in inst.items:
            assert it.id not in seen
            seen.add(it.id)
            assert re.search(r"[가-힣]", it.text.ko), it.id
            assert re.search(r"[A-Za-z]", it.text.en), it.id
        assert "provisional" in inst.norms_source.lower()
        assert "not published norms" in inst.norms_source


def test_counselor_rating_form_rates_three_domains_on_anchored_1_to_5_with_unscored_risk_notes():
    forms = [i for i in default_instruments().values() if i.kind == "counselor_rating"]
    assert len(forms) == 1
    form = forms[0]
    assert set(form.domains) == set(COUNSELOR_DOMAINS)
    assert (form.scale.min, form.scale.max) == (1, 5)
    assert form.stages == STAGES
    for domain in COUNSELOR_DOMAINS:
        (item,) = form.items_of_domain(domain)
        assert len(item.anchors) == 5
        assert form.score_range(domain) == (1.0, 5.0)
    assert [f.id for f in form.free_text_fields] == ["risk_notes"]
    assert "risk_notes" not in form.item_ids
    assert "피해자" in form.free_text_fields[0].hint.ko


def test_score_range_follows_scoring_method_and_item_count():
    assert get_instrument("GS-12").score_range("gender_sensitivity") == (1.0, 5.0)
    assert get_instrument("GE-10").score_range("gender_equality") == (1.0, 4.0)
    # DU-14 sums 14 items answered 1..5.
    assert get_instrument("DU-14").score_range("digital_sex_crime_understanding") == (14.0, 70.0)
    with pytest.raises(ValidationError, match="does not score domain 'gender_equality'"):
        get_instrument("GS-12").score_range("gender_equality")


def test_norms_lie_inside_the_score_range():
    for inst in default_instruments().values():
        for domain, norm in inst.norms.items():
            lo, hi = inst.score_range(domain)
            assert lo < norm.mean < hi and lo < norm.cutoff < hi
            assert 0 < norm.reliability < 1 and norm.sd > 0


# ------------------------------------------------------------------ registry


def test_get_instrument_returns_newest_version_unless_one_is_asked():
    inst = get_instrument("GS-12")
    assert inst.version == 1 and get_instrument("GS-12", 1) is inst
    with pytest.raises(NotFound, match="no instrument 'GS-12' version 7; known versions: 1"):
        get_instrument("GS-12", 7)
    with pytest.raises(NotFound, match="no instrument 'XX-1'"):
        get_instrument("XX-1")


def test_load_instruments_refuses_the_same_id_and_version_twice(write_instrument):
    write_instrument(name="GS-12.yaml")
    write_instrument(name="GS-12-copy.yaml")
    with pytest.raises(
        ValidationError,
        match=r"GS-12\.yaml: instrument GS-12 version 1 is already defined by GS-12-copy\.yaml",
    ):
        load_instruments(write_instrument().parent)


def test_registry_keeps_two_versions_of_one_instrument(write_instrument):
    a = load_instrument(write_instrument(name="GS-12.yaml"))
    b = load_instrument(write_instrument(lambda d: d.update(version=2), name="GS-12.v2.yaml"))
    registry = build_registry([a, b])
    assert set(registry) == {("GS-12", 1), ("GS-12", 2)}


def test_good_file_round_trips_to_frozen_dataclasses(write_instrument):
    inst = load_instrument(write_instrument())
    assert isinstance(inst, Instrument)
    assert inst == get_instrument("GS-12")
    assert inst.source == "GS-12.yaml"
    assert inst.item("GS-04").reverse is False and inst.item("GS-03").reverse is True
    assert hash(inst) == hash(get_instrument("GS-12"))
    with pytest.raises(AttributeError):
        inst.version = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        inst.norms["gender_sensitivity"] = None  # type: ignore[index]


# ------------------------------------------------------------------ malformed files


def _set(path, value):
    def mutate(d):
        node = d
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


def _delete(path):
    def mutate(d):
        node = d
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return mutate


def _dup_item(d):
    d["items"][4]["id"] = "GS-02"


def _labels4(d):
    d["scale"]["labels"] = d["scale"]["labels"][:4]


def _extra_norm(d):
    d["norms"]["gender_equality"] = dict(d["norms"]["gender_sensitivity"])


def _second_domain_without_norms(d):
    d["subscales"][0]["domain"] = "gender_equality"


def _empty_subscale(d):
    d["subscales"].append(
        {"id": "spare", "domain": "gender_sensitivity", "title": {"ko": "여분", "en": "spare"}}
    )


MALFORMED = [
    # (rule, mutation, exact start of the message)
    (
        "reverse is a boolean",
        _set(["items", 3, "reverse"], "yes"),
        "GS-12.yaml: items[3] (GS-04): reverse must be true or false, got 'yes'",
    ),
    (
        "item needs a subscale",
        _delete(["items", 2, "subscale"]),
        "GS-12.yaml: items[2] (GS-03): missing required field 'subscale'",
    ),
    (
        "item text needs English",
        _delete(["items", 5, "text", "en"]),
        "GS-12.yaml: items[5] (GS-06).text: missing required field 'en'",
    ),
    (
        "version is an integer",
        _set(["version"], "one"),
        "GS-12.yaml: version must be a whole number, got 'one'",
    ),
    (
        "version is at least 1",
        _set(["version"], 0),
        "GS-12.yaml: version must be at least 1, got 0",
    ),
    (
        "kind is known",
        _set(["kind"], "survey"),
        "GS-12.yaml: kind must be one of 'self_report', 'counselor_rating', got 'survey'",
    ),
    (
        "stages are the three steps",
        _set(["stages"], ["planning", "final"]),
        "GS-12.yaml: stages[1] must be one of 'planning', 'midterm', 'conclusion', got 'final'",
    ),
    ("instrument id has a pattern", _set(["id"], "gs 12"), "GS-12.yaml: id must match"),
    ("no unknown top-level field", _set(["colour"], "red"), "GS-12.yaml: unknown field 'colour'"),
    (
        "norms need a direction",
        _delete(["norms", "gender_sensitivity", "higher_is_better"]),
        "GS-12.yaml: norms.gender_sensitivity: missing required field 'higher_is_better'",
    ),
    ("duplicate item id", _dup_item, "GS-12.yaml: items[4] (GS-02): item id duplicates items[1]"),
    (
        "subscale names a known domain",
        _set(["subscales", 0, "domain"], "gender_sensitivty"),
        (
            "GS-12.yaml: subscales[0] (awareness): domain 'gender_sensitivty' is not a domain a "
            "self_report instrument may score"
        ),
    ),
    (
        "self-report may not score a counselor domain",
        _set(["subscales", 0, "domain"], "engagement"),
        "GS-12.yaml: subscales[0] (awareness): domain 'engagement' is not a domain",
    ),
    (
        "item names a declared subscale",
        _set(["items", 0, "subscale"], "empathy"),
        "GS-12.yaml: items[0] (GS-01): subscale 'empathy' is not declared under subscales",
    ),
    (
        "subscale has items",
        _empty_subscale,
        "GS-12.yaml: subscales[2] (spare): no item belongs to this subscale",
    ),
    (
        "scale min below max",
        _set(["scale", "min"], 5),
        "GS-12.yaml: scale: min must be less than max, got min=5, max=5",
    ),
    (
        "one label per point",
        _labels4,
        "GS-12.yaml: scale.labels: needs one label per scale point (5 for 1..5), got 4",
    ),
    (
        "reliability below 1",
        _set(["norms", "gender_sensitivity", "reliability"], 1.2),
        (
            "GS-12.yaml: norms.gender_sensitivity: "
            "reliability must be between 0 and 1 (exclusive), "
            "got 1.2"
        ),
    ),
    (
        "reliability above 0",
        _set(["norms", "gender_sensitivity", "reliability"], 0),
        (
            "GS-12.yaml: norms.gender_sensitivity: "
            "reliability must be between 0 and 1 (exclusive), "
            "got 0"
        ),
    ),
    (
        "sd positive",
        _set(["norms", "gender_sensitivity", "sd"], 0),
        "GS-12.yaml: norms.gender_sensitivity: sd must be greater than 0, got 0",
    ),
    (
        "sd not negative",
        _set(["norms", "gender_sensitivity", "sd"], -0.5),
        "GS-12.yaml: norms.gender_sensitivity: sd must be greater than 0, got -0.5",
    ),
    (
        "norm mean inside the range",
        _set(["norms", "gender_sensitivity", "mean"], 38),
        "GS-12.yaml: norms.gender_sensitivity: mean must lie within the score range 1..5, got 38",
    ),
    (
        "min_answered above 0",
        _set(["scoring", "min_answered"], 0),
        "GS-12.yaml: scoring: min_answered must be a share in (0, 1], got 0",
    ),
    (
        "min_answered at most 1",
        _set(["scoring", "min_answered"], 1.5),
        "GS-12.yaml: scoring: min_answered must be a share in (0, 1], got 1.5",
    ),
    (
        "norms only for scored domains",
        _extra_norm,
        "GS-12.yaml: norms: norms given for 'gender_equality', which no subscale scores",
    ),
    (
        "norms for each domain a subscale scores",
        _second_domain_without_norms,
        "GS-12.yaml: norms: missing norms for domain 'gender_equality'",
    ),
    (
        "norms for every scored domain",
        _set(["norms"], {}),
        "GS-12.yaml: norms must have at least 1 entry",
    ),
    (
        "anchors one per point",
        _set(["items", 0, "anchors"], [{"ko": "하", "en": "low"}, {"ko": "상", "en": "high"}]),
        (
            "GS-12.yaml: items[0] (GS-01).anchors: needs one anchor per scale point (5 for 1..5), "
            "got 2"
        ),
    ),
]


@pytest.mark.parametrize(
    ("mutate", "expected"), [(m, e) for _, m, e in MALFORMED], ids=[r for r, _, _ in MALFORMED]
)
def test_malformed_file_is_refused_naming_file_entry_and_rule(write_instrument, mutate, expected):
    path = write_instrument(mutate)
    with pytest.raises(ValidationError) as info:
        load_instrument(path)
    assert str(info.value).startswith(expected), str(info.value)


def test_min_answered_of_exactly_one_is_accepted(write_instrument):
    inst = load_instrument(write_instrument(_set(["scoring", "min_answered"], 1)))
    assert inst.scoring.min_answered == 1.0


def test_several_problems_are_counted_after_the_first(write_instrument):
    def two(d):
        d["items"][3]["reverse"] = "yes"
        d["items"][7]["reverse"] = "no"

    with pytest.raises(ValidationError, match=r"\(and 1 more problem\(s\) in the file\)$"):
        load_instrument(write_instrument(two))


def test_yaml_syntax_error_names_file_and_line(write_instrument):
    path = write_instrument(text="id: GS-12\nversion: [1\ntitle: x\n")
    with pytest.raises(
        ValidationError, match=r"^GS-12\.yaml: not valid YAML at line \d+, column \d+"
    ):
        load_instrument(path)


def test_file_that_is_not_a_mapping_is_refused(write_instrument):
    with pytest.raises(
        ValidationError, match=r"^GS-12\.yaml: the file must hold a mapping of fields"
    ):
        load_instrument(write_instrument(text="- just\n- a list\n"))


def test_missing_file_is_refused_with_its_name(tmp_path):
    with pytest.raises(ValidationError, match=r"^NOPE-1\.yaml: cannot read the instrument file"):
        load_instrument(tmp_path / "NOPE-1.yaml")
