"""Instruments of the three-step matrix as versioned YAML files: schema, checks, registry."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn

import jsonschema
import yaml

import vocab
from errors import Message, NotFound, ValidationError

STAGES: tuple[str, ...] = vocab.STEPS
KINDS: tuple[str, ...] = vocab.INSTRUMENT_KINDS
MATRIX_DOMAINS: tuple[str, ...] = vocab.MATRIX_DOMAINS
COUNSELOR_DOMAINS: tuple[str, ...] = vocab.COUNSELOR_DOMAINS
DOMAINS_BY_KIND: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "self_report": MATRIX_DOMAINS,
        "counselor_rating": MATRIX_DOMAINS + COUNSELOR_DOMAINS,
    }
)
DOMAIN_LABELS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "gender_sensitivity": ("성인지 감수성", "Gender sensitivity"),
        "gender_equality": ("성평등 의식", "Gender equality awareness"),
        "digital_sex_crime_understanding": (
            "디지털 성범죄에 대한 이해",
            "Understanding of digital sex crimes",
        ),
        "engagement": ("상담 참여", "Engagement"),
        "responsibility_taking": ("책임 수용", "Responsibility-taking"),
        "victim_harm_understanding": ("피해에 대한 이해", "Understanding of harm to victims"),
    }
)

INSTRUMENTS_DIR = Path(__file__).with_name("instruments")

_TEXT = {
    "type": "object",
    "required": ["ko", "en"],
    "additionalProperties": False,
    "properties": {
        "ko": {"type": "string", "minLength": 1},
        "en": {"type": "string", "minLength": 1},
    },
}
_CODE = {"type": "string", "pattern": r"^[a-z][a-z0-9_]*$"}

INSTRUMENT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "dscr instrument",
    "type": "object",
    "required": [
        "id",
        "version",
        "title",
        "kind",
        "stages",
        "scale",
        "items",
        "subscales",
        "scoring",
        "norms",
        "norms_source",
    ],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "pattern": r"^[A-Z][A-Z0-9]*-[0-9]+$"},
        "version": {"type": "integer", "minimum": 1},
        "title": _TEXT,
        "description": _TEXT,
        "kind": {"enum": list(KINDS)},
        "stages": {
            "type": "array",
            "minItems": 1,
            "uniqueItems": True,
            "items": {"enum": list(STAGES)},
        },
        "scale": {
            "type": "object",
            "required": ["min", "max", "labels"],
            "additionalProperties": False,
            "properties": {
                "min": {"type": "integer"},
                "max": {"type": "integer"},
                "labels": {"type": "array", "items": _TEXT},
            },
        },
        "items": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "text", "reverse", "subscale"],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "string", "pattern": r"^[A-Z][A-Z0-9]*-[0-9]+$"},
                    "text": _TEXT,
                    "reverse": {"type": "boolean"},
                    "subscale": _CODE,
                    # Behavioural anchors that replace the scale labels for this item.
                    "anchors": {"type": "array", "items": _TEXT},
                },
            },
        },
        "subscales": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "domain", "title"],
                "additionalProperties": False,
                "properties": {"id": _CODE, "domain": _CODE, "title": _TEXT},
            },
        },
        "scoring": {
            "type": "object",
            "required": ["method", "min_answered"],
            "additionalProperties": False,
            "properties": {
                "method": {"enum": ["mean", "sum"]},
                "min_answered": {"type": "number"},
            },
        },
        "norms": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {
                "type": "object",
                "required": ["mean", "sd", "reliability", "cutoff", "higher_is_better"],
                "additionalProperties": False,
                "properties": {
                    "mean": {"type": "number"},
                    "sd": {"type": "number"},
                    "reliability": {"type": "number"},
                    "cutoff": {"type": "number"},
                    "higher_is_better": {"type": "boolean"},
                },
            },
        },
        "norms_source": {"type": "string", "minLength": 1},
        "free_text_fields": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "label"],
                "additionalProperties": False,
                "properties": {"id": _CODE, "label": _TEXT, "hint": _TEXT},
            },
        },
    },
}

_VALIDATOR = jsonschema.Draft202012Validator(INSTRUMENT_SCHEMA)


@dataclass(frozen=True)
class LocalText:
    """A piece of text in Korean (shown first) and English."""

    ko: str
    en: str


@dataclass(frozen=True)
class ResponseScale:
    """The integer answers an item accepts, with one label for each point."""

    min: int
    max: int
    labels: tuple[LocalText, ...]

    @property
    def points(self) -> int:
        return self.max - self.min + 1


@dataclass(frozen=True)
class Item:
    id: str
    text: LocalText
    reverse: bool
    subscale: str
    anchors: tuple[LocalText, ...] = ()


@dataclass(frozen=True)
class Subscale:
    id: str
    domain: str
    title: LocalText


@dataclass(frozen=True)
class ScoringRule:
    """How answers become a score; missing when the answered share is below min_answered."""

    method: str
    min_answered: float


@dataclass(frozen=True)
class Norm:
    """Reference values of one domain score, on the scale the scoring rule produces."""

    mean: float
    sd: float
    reliability: float
    cutoff: float
    higher_is_better: bool


@dataclass(frozen=True)
class FreeTextField:
    """A text field on the form that is kept with the answers and never scored."""

    id: str
    label: LocalText
    hint: LocalText | None = None


@dataclass(frozen=True)
class Instrument:
    id: str
    version: int
    title: LocalText
    kind: str
    stages: tuple[str, ...]
    scale: ResponseScale
    items: tuple[Item, ...]
    subscales: tuple[Subscale, ...]
    scoring: ScoringRule
    norms: Mapping[str, Norm]
    norms_source: str
    description: LocalText | None = None
    free_text_fields: tuple[FreeTextField, ...] = ()
    source: str = field(default="", compare=False)

    def __hash__(self) -> int:
        # The generated hash would fail on the read-only norms mapping; (id, version) names an
        # instrument, and equal instruments share it, so callers can cache on instruments.
        return hash(self.key)

    @property
    def key(self) -> tuple[str, int]:
        return (self.id, self.version)

    @property
    def domains(self) -> tuple[str, ...]:
        """Domains this instrument scores, in the order their subscales are declared."""
        return tuple(dict.fromkeys(s.domain for s in self.subscales))

    @property
    def item_ids(self) -> tuple[str, ...]:
        return tuple(i.id for i in self.items)

    def item(self, item_id: str) -> Item:
        for it in self.items:
            if it.id == item_id:
                return it
        raise NotFound("assessment.instrument_no_item",
                       "instrument {id} v{version} has no item {item_id!r}",
                       id=self.id, version=self.version, item_id=item_id)

    def subscale(self, subscale_id: str) -> Subscale:
        for s in self.subscales:
            if s.id == subscale_id:
                return s
        raise NotFound("assessment.instrument_no_subscale",
                       "instrument {id} v{version} has no subscale {subscale_id!r}",
                       id=self.id, version=self.version, subscale_id=subscale_id)

    def items_of_subscale(self, subscale_id: str) -> tuple[Item, ...]:
        return tuple(i for i in self.items if i.subscale == subscale_id)

    def items_of_domain(self, domain: str) -> tuple[Item, ...]:
        subs = {s.id for s in self.subscales if s.domain == domain}
        return tuple(i for i in self.items if i.subscale in subs)

    def _range_for(self, n_items: int) -> tuple[float, float]:
        if self.scoring.method == "sum":
            return (float(n_items * self.scale.min), float(n_items * self.scale.max))
        return (float(self.scale.min), float(self.scale.max))

    def score_range(self, domain: str) -> tuple[float, float]:
        """Lowest and highest score the domain can take under the scoring rule."""
        items = self.items_of_domain(domain)
        if not items:
            raise ValidationError(
                "assessment.instrument_does_not_score",
                "instrument {id} v{version} does not score domain {domain!r}; it scores "
                "{domains}",
                id=self.id, version=self.version, domain=domain, domains=', '.join(self.domains)
            )
        return self._range_for(len(items))

    def subscale_range(self, subscale_id: str) -> tuple[float, float]:
        return self._range_for(len(self.items_of_subscale(self.subscale(subscale_id).id)))


# ---------------------------------------------------------------- loading


_TYPE_WORDS = {
    "boolean": Message("assessment.type_boolean", "true or false"),
    "integer": Message("assessment.type_integer", "a whole number"),
    "number": Message("assessment.type_number", "a number"),
    "string": Message("assessment.type_string", "text"),
    "array": Message("assessment.type_array", "a list"),
    "object": Message("assessment.type_object", "a mapping of fields"),
}


def _type_words(expected: Any) -> Message | str:
    """What a schema type asks for, in words: one type, or `a or b` for a list of them."""
    names = expected if isinstance(expected, list) else [expected]
    words: list[Message | str] = [_TYPE_WORDS.get(t, t) for t in names]
    out = words[0]
    for more in words[1:]:
        out = Message("assessment.type_either", "{first} or {second}", first=out, second=more)
    return out


def _describe_type(value: Any) -> Message | str:
    if isinstance(value, Mapping):
        return Message("assessment.given_mapping", "a mapping")
    if isinstance(value, list):
        return Message("assessment.given_list", "a list")
    return repr(value)


def _format_path(path: Iterable[Any], data: Any) -> str:
    """Render a path inside the file as `items[3] (GS-04).text`, naming list entries by their id."""
    out = ""
    node = data
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, Mapping) and isinstance(node.get("id"), str):
                out += f" ({node['id']})"
        else:
            out += f".{part}" if out else str(part)
            node = node.get(part) if isinstance(node, Mapping) else None
    return out


def _subject(path: list[Any], data: Any) -> str:
    """The thing an error is about: `items[3] (GS-04): reverse` or `version` or `stages[1]`."""
    if path and isinstance(path[-1], str) and len(path) > 1:
        return f"{_format_path(path[:-1], data)}: {path[-1]}"
    return _format_path(path, data)


def _schema_message(err: jsonschema.ValidationError, data: Any) -> Message:
    path = list(err.absolute_path)
    subject = _subject(path, data)
    where = _format_path(path, data)
    v = err.validator
    if v == "type":
        return Message("assessment.schema_type", "{subject} must be {words}, got {given}",
                       subject=subject, words=_type_words(err.validator_value),
                       given=_describe_type(err.instance))
    if v == "required":
        missing = [k for k in err.validator_value if k not in err.instance]
        names = ", ".join(repr(k) for k in missing)
        if where:
            return Message("assessment.schema_required_at", "{where}: missing required field {names}",
                           where=where, names=names)
        return Message("assessment.schema_required", "missing required field {names}", names=names)
    if v == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {}))
        extra = sorted(k for k in err.instance if k not in allowed)
        names = ", ".join(repr(k) for k in extra)
        if where:
            return Message("assessment.schema_unknown_field_at",
                           "{where}: unknown field {names}; allowed fields are {allowed}",
                           where=where, names=names, allowed=", ".join(allowed))
        return Message("assessment.schema_unknown_field",
                       "unknown field {names}; allowed fields are {allowed}",
                       names=names, allowed=", ".join(allowed))
    if v == "enum":
        options = ", ".join(repr(o) for o in err.validator_value)
        return Message("assessment.schema_enum", "{subject} must be one of {options}, got {value!r}",
                       subject=subject, options=options, value=err.instance)
    if v == "pattern":
        return Message("assessment.schema_pattern",
                       "{subject} must match {pattern!r} (for example 'GS-12' or 'awareness'), "
                       "got {value!r}",
                       subject=subject, pattern=err.validator_value, value=err.instance)
    if v in ("minItems", "minProperties"):
        least = err.validator_value
        given = len(err.instance) or Message("assessment.schema_none", "none")
        if least == 1:
            return Message("assessment.schema_min_entry",
                           "{subject} must have at least {least} entry, got {given}",
                           subject=subject, least=least, given=given)
        return Message("assessment.schema_min_entries",
                       "{subject} must have at least {least} entries, got {given}",
                       subject=subject, least=least, given=given)
    if v == "uniqueItems":
        return Message("assessment.schema_unique", "{subject} must not repeat an entry, got {value!r}",
                       subject=subject, value=err.instance)
    if v == "minimum":
        return Message("assessment.schema_minimum",
                       "{subject} must be at least {least}, got {value!r}",
                       subject=subject, least=err.validator_value, value=err.instance)
    if v == "minLength":
        return Message("assessment.schema_empty", "{subject} must not be empty", subject=subject)
    return Message("assessment.schema_other", "{subject}: {detail}", subject=subject,
                   detail=err.message)


def _path_key(err: jsonschema.ValidationError) -> tuple[Any, ...]:
    return tuple((0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in err.absolute_path)


def _check_schema(data: Any, source: str) -> None:
    if not isinstance(data, Mapping):
        raise ValidationError(
            "assessment.file_hold_mapping_fields",
            "{source}: the file must hold a mapping of fields (id, version, title, ...), got "
            "{type_name}",
            source=source, type_name=type(data).__name__
        )
    errors = sorted(_VALIDATOR.iter_errors(data), key=_path_key)
    if errors:
        more: Message | str = Message(
            "assessment.more_problems", " (and {n} more problem(s) in the file)",
            n=len(errors) - 1) if len(errors) > 1 else ""
        raise ValidationError("assessment.schema_problem",
                              "{source}: {schema_message}{more}",
                              source=source, schema_message=_schema_message(errors[0], data),
                              more=more)


def _text(d: Mapping[str, str]) -> LocalText:
    return LocalText(ko=d["ko"], en=d["en"])


def _check_semantics(data: Mapping[str, Any], source: str) -> None:
    def fail(where: str, rule: Message) -> NoReturn:
        if where:
            raise ValidationError("assessment.file_rule_at", "{source}: {where}: {rule}",
                                  source=source, where=where, rule=rule)
        raise ValidationError("assessment.file_rule", "{source}: {rule}", source=source, rule=rule)

    def loc(*path: Any) -> str:
        return _format_path(path, data)

    scale = data["scale"]
    lo, hi = int(scale["min"]), int(scale["max"])
    if lo >= hi:
        fail("scale", Message("assessment.min_less_max_min",
                              "min must be less than max, got min={lo}, max={hi}",
                              lo=lo, hi=hi))
    points = hi - lo + 1
    if len(scale["labels"]) != points:
        fail(
            "scale.labels",
            Message("assessment.needs_one_label_per",
                    "needs one label per scale point ({points} for {lo}..{hi}), got {n_labels}",
                    points=points, lo=lo, hi=hi, n_labels=len(scale['labels'])),
        )

    kind = data["kind"]
    allowed_domains = DOMAINS_BY_KIND[kind]
    seen_sub: dict[str, int] = {}
    for i, sub in enumerate(data["subscales"]):
        if sub["id"] in seen_sub:
            fail(loc("subscales", i), Message("assessment.subscale_id_duplicates_subscales",
                                              "subscale id duplicates subscales[{seen_sub}]",
                                              seen_sub=seen_sub[sub['id']]))
        seen_sub[sub["id"]] = i
        if sub["domain"] not in allowed_domains:
            fail(
                loc("subscales", i),
                Message("assessment.domain_not_domain_instrument",
                        "domain {domain!r} is not a domain a {kind} instrument may score; use "
                        "one of {allowed_domains}",
                        domain=sub['domain'], kind=kind,
                        allowed_domains=', '.join(allowed_domains)),
            )

    seen_item: dict[str, int] = {}
    used_subs: set[str] = set()
    for i, it in enumerate(data["items"]):
        if it["id"] in seen_item:
            fail(loc("items", i), Message("assessment.item_id_duplicates_items",
                                          "item id duplicates items[{seen_item}]",
                                          seen_item=seen_item[it['id']]))
        seen_item[it["id"]] = i
        if it["subscale"] not in seen_sub:
            fail(
                loc("items", i),
                Message("assessment.subscale_not_declared_under",
                        "subscale {subscale!r} is not declared under subscales (declared: "
                        "{value})",
                        subscale=it['subscale'], value=', '.join(seen_sub) or 'none'),
            )
        used_subs.add(it["subscale"])
        if "anchors" in it and len(it["anchors"]) != points:
            fail(
                loc("items", i, "anchors"),
                Message("assessment.needs_one_anchor_per",
                        "needs one anchor per scale point ({points} for {lo}..{hi}), got "
                        "{n_anchors}",
                        points=points, lo=lo, hi=hi, n_anchors=len(it['anchors'])),
            )
    for i, sub in enumerate(data["subscales"]):
        if sub["id"] not in used_subs:
            fail(loc("subscales", i), Message("assessment.no_item_belongs_subscale",
                                              "no item belongs to this subscale; add items or "
                                              "remove it"))

    for j, ft in enumerate(data.get("free_text_fields", [])):
        if ft["id"] in seen_item or ft["id"] in seen_sub:
            fail(
                loc("free_text_fields", j),
                Message("assessment.id_already_used_item",
                        "id {id!r} is already used by an item or subscale",
                        id=ft['id']),
            )

    min_answered = float(data["scoring"]["min_answered"])
    if not (0.0 < min_answered <= 1.0):
        fail(
            "scoring",
            Message("assessment.min_answered_share",
                    "min_answered must be a share in (0, 1], got {min_answered!r}",
                    min_answered=data['scoring']['min_answered']),
        )

    domains = list(dict.fromkeys(s["domain"] for s in data["subscales"]))
    norms = data["norms"]
    for d in norms:
        if d not in domains:
            fail(
                "norms",
                Message("assessment.norms_given_no_subscale",
                        "norms given for {d!r}, which no subscale scores; scored: {domains}",
                        d=d, domains=', '.join(domains)),
            )
    method = data["scoring"]["method"]
    for d in domains:
        if d not in norms:
            fail("norms", Message("assessment.missing_norms_domain",
                                  "missing norms for domain {d!r}",
                                  d=d))
        nm = norms[d]
        where = f"norms.{d}"
        if not (0.0 < float(nm["reliability"]) < 1.0):
            fail(
                where, Message("assessment.reliability_between_exclusive",
                               "reliability must be between 0 and 1 (exclusive), got "
                               "{reliability!r}",
                               reliability=nm['reliability'])
            )
        if not float(nm["sd"]) > 0.0:
            fail(where, Message("assessment.sd_greater",
                                "sd must be greater than 0, got {sd!r}",
                                sd=nm['sd']))
        n_items = sum(
            1
            for it in data["items"]
            if any(s["id"] == it["subscale"] and s["domain"] == d for s in data["subscales"])
        )
        rlo, rhi = (n_items * lo, n_items * hi) if method == "sum" else (lo, hi)
        for key in ("mean", "cutoff"):
            value = float(nm[key])
            if not math.isfinite(value) or not (rlo <= value <= rhi):
                fail(where, Message("assessment.lie_within_score_range",
                                    "{key} must lie within the score range {rlo}..{rhi}, got "
                                    "{nm!r}",
                                    key=key, rlo=rlo, rhi=rhi, nm=nm[key]))


def instrument_from_dict(data: Any, source: str = "<instrument>") -> Instrument:
    """Validate parsed YAML (schema, then meaning) and build it; `source` names it in errors."""
    _check_schema(data, source)
    _check_semantics(data, source)
    scale = data["scale"]
    return Instrument(
        id=data["id"],
        version=int(data["version"]),
        title=_text(data["title"]),
        kind=data["kind"],
        stages=tuple(s for s in STAGES if s in data["stages"]),
        scale=ResponseScale(
            min=int(scale["min"]),
            max=int(scale["max"]),
            labels=tuple(_text(t) for t in scale["labels"]),
        ),
        items=tuple(
            Item(
                id=it["id"],
                text=_text(it["text"]),
                reverse=bool(it["reverse"]),
                subscale=it["subscale"],
                anchors=tuple(_text(a) for a in it.get("anchors", [])),
            )
            for it in data["items"]
        ),
        subscales=tuple(
            Subscale(id=s["id"], domain=s["domain"], title=_text(s["title"]))
            for s in data["subscales"]
        ),
        scoring=ScoringRule(
            method=data["scoring"]["method"], min_answered=float(data["scoring"]["min_answered"])
        ),
        norms=MappingProxyType(
            {
                d: Norm(
                    mean=float(n["mean"]),
                    sd=float(n["sd"]),
                    reliability=float(n["reliability"]),
                    cutoff=float(n["cutoff"]),
                    higher_is_better=bool(n["higher_is_better"]),
                )
                for d, n in data["norms"].items()
            }
        ),
        norms_source=data["norms_source"],
        description=_text(data["description"]) if "description" in data else None,
        free_text_fields=tuple(
            FreeTextField(
                id=f["id"],
                label=_text(f["label"]),
                hint=_text(f["hint"]) if "hint" in f else None,
            )
            for f in data.get("free_text_fields", [])
        ),
        source=source,
    )


def load_instrument(path: str | Path) -> Instrument:
    """Read one instrument file; a malformed one raises ValidationError naming file, entry, rule."""
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationError(
            "assessment.read_instrument_file",
            "{p_name}: cannot read the instrument file ({exc_strerror})",
            p_name=p.name, exc_strerror=exc.strerror
        ) from exc
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at: Message | str = Message(
            "assessment.yaml_at", " at line {line}, column {column}",
            line=mark.line + 1, column=mark.column + 1) if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ValidationError("assessment.not_valid_yaml",
                              "{p_name}: not valid YAML{at}: {problem}",
                              p_name=p.name, at=at, problem=problem) from exc
    return instrument_from_dict(data, source=p.name)


def build_registry(instruments: Iterable[Instrument]) -> dict[tuple[str, int], Instrument]:
    """Index instruments by (id, version); the same id and version twice is refused."""
    registry: dict[tuple[str, int], Instrument] = {}
    for inst in instruments:
        if inst.key in registry:
            first = registry[inst.key].source or "another instrument"
            raise ValidationError(
                "assessment.instrument_version_already_defined",
                "{value}: instrument {inst_id} version {inst_version} is already defined by "
                "{first}; give the new file a higher version",
                value=inst.source or inst.id, inst_id=inst.id, inst_version=inst.version,
                first=first
            )
        registry[inst.key] = inst
    return registry


def load_instruments(directory: str | Path) -> dict[tuple[str, int], Instrument]:
    """Load every `*.yaml` file of a folder into a registry keyed by (id, version)."""
    files = sorted(Path(directory).glob("*.yaml"))
    return build_registry(load_instrument(f) for f in files)


@functools.lru_cache(maxsize=1)
def _default_registry() -> dict[tuple[str, int], Instrument]:
    # Instruments are immutable project files, not personal data, so caching them is safe.
    return load_instruments(INSTRUMENTS_DIR)


def _latest(registry: Mapping[tuple[str, int], Instrument]) -> dict[str, Instrument]:
    latest: dict[str, Instrument] = {}
    for (iid, _version), inst in sorted(registry.items()):
        latest[iid] = inst
    return latest


def default_instruments() -> dict[str, Instrument]:
    """The instruments shipped with dscr, the newest version of each, keyed by id."""
    return _latest(_default_registry())


def all_instrument_versions() -> dict[tuple[str, int], Instrument]:
    """Every shipped version, keyed by (id, version): old answers keep their own version."""
    return dict(_default_registry())


def get_instrument(instrument_id: str, version: int | None = None) -> Instrument:
    """A shipped instrument by id, the newest version unless `version` is given."""
    registry = _default_registry()
    if version is None:
        latest = _latest(registry)
        if instrument_id not in latest:
            raise NotFound(
                "assessment.no_instrument_known_instruments",
                "no instrument {instrument_id!r}; known instruments: {latest}",
                instrument_id=instrument_id, latest=', '.join(sorted(latest))
            )
        return latest[instrument_id]
    if (instrument_id, version) not in registry:
        versions = sorted(v for i, v in registry if i == instrument_id)
        known = (
            Message("assessment.known_versions", "known versions: {versions}",
                    versions=", ".join(map(str, versions)))
            if versions else Message("assessment.no_such_instrument", "no such instrument")
        )
        raise NotFound("assessment.no_instrument_version",
                       "no instrument {instrument_id!r} version {version}; {known}",
                       instrument_id=instrument_id, version=version, known=known)
    return registry[(instrument_id, version)]
