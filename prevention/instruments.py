"""The prevention surveys as versioned data files: one YAML per instrument, loaded and checked once.

Like the counseling instruments (`assessment/instruments/`), an instrument is data: its items (in
Korean, written for this programme), its scale, the audiences it is for, and whether a child
answers it (`self_report`) or the educator fills it for the group (`observation`, the
kindergarten checklist). A new instrument or version is one new file, found by its id.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import yaml

import vocab
from errors import NotFound, ValidationError

FOLDER = Path(__file__).with_name("instruments")
KINDS = ("self_report", "observation")
AREAS = ("gender_stereotypes", "violence_myths", "online_sensitivity", "will_to_act")


@dataclass(frozen=True)
class Item:
    id: str
    area: str
    reverse: bool
    text_ko: str
    text_en: str


@dataclass(frozen=True)
class SurveyInstrument:
    id: str
    version: int
    title_ko: str
    title_en: str
    kind: str
    audiences: tuple[str, ...]
    satisfaction: bool  # whether the sheet carries the 1-5 satisfaction question
    scale: tuple[int, int]
    items: tuple[Item, ...]

    @property
    def item_ids(self) -> tuple[str, ...]:
        return tuple(i.id for i in self.items)

    def score(self, answers: dict[str, int | None]) -> float:
        """The sheet's mean item score (reverse items turned) as a percentage of the scale's range.

        POMP (percent of maximum possible) puts a 3-point and a 5-point form on one 0-100 axis.
        Blank items are left out; a sheet needs at least half of its items answered.
        """
        lo, hi = self.scale
        values = []
        for item in self.items:
            v = answers.get(item.id)
            if v is None:
                continue
            values.append(lo + hi - v if item.reverse else v)
        if len(values) * 2 < len(self.items):
            raise ValidationError("prevention.too_few_answers",
                                  "{answered} of {items} items answered; a sheet needs at least "
                                  "half", answered=len(values), items=len(self.items))
        return 100.0 * (sum(values) / len(values) - lo) / (hi - lo)


def _load(path: Path) -> SurveyInstrument:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        scale = (int(raw["scale"]["min"]), int(raw["scale"]["max"]))
        items = tuple(Item(str(i["id"]), str(i["area"]), bool(i["reverse"]), str(i["text"]["ko"]),
                           str(i["text"]["en"])) for i in raw["items"])
        inst = SurveyInstrument(str(raw["id"]), int(raw["version"]), str(raw["title"]["ko"]),
                                str(raw["title"]["en"]), str(raw["kind"]),
                                tuple(raw["audiences"]), bool(raw["satisfaction"]), scale, items)
    except (KeyError, TypeError, ValueError) as exc:
        raise RuntimeError(f"{path.name}: not a survey instrument ({exc!r})") from None
    problems = []
    if inst.kind not in KINDS:
        problems.append(f"kind {inst.kind!r} is not one of {KINDS}")
    if not set(inst.audiences) <= set(vocab.AUDIENCES) or not inst.audiences:
        problems.append(f"audiences {inst.audiences} must be among {vocab.AUDIENCES}")
    if scale[0] >= scale[1]:
        problems.append(f"scale {scale} must have min < max")
    if len(set(inst.item_ids)) != len(inst.items) or not inst.items:
        problems.append("item ids must be unique and at least one")
    if any(i.area not in AREAS for i in items):
        problems.append(f"every item's area must be one of {AREAS}")
    if inst.kind == "observation" and inst.satisfaction:
        problems.append("an observation checklist carries no satisfaction question")
    if problems:
        raise RuntimeError(f"{path.name}: " + "; ".join(problems))
    return inst


@functools.cache
def survey_instruments() -> dict[str, SurveyInstrument]:
    """Every instrument by id (the newest version of each)."""
    found: dict[str, SurveyInstrument] = {}
    for path in sorted(FOLDER.glob("*.yaml")):
        inst = _load(path)
        if inst.id in found and found[inst.id].version == inst.version:
            raise RuntimeError(f"{path.name}: {inst.id} version {inst.version} is defined twice")
        if inst.id not in found or found[inst.id].version < inst.version:
            found[inst.id] = inst
    return found


def get_survey_instrument(instrument_id: str) -> SurveyInstrument:
    try:
        return survey_instruments()[instrument_id]
    except KeyError:
        raise NotFound("prevention.no_instrument",
                       "No survey instrument {instrument_id}; there are {known}.",
                       instrument_id=instrument_id,
                       known=", ".join(sorted(survey_instruments()))) from None


def instrument_for(audience: str) -> SurveyInstrument:
    """The instrument written for an audience level (exactly one)."""
    matches = [i for i in survey_instruments().values() if audience in i.audiences]
    if len(matches) != 1:
        raise RuntimeError(f"audience {audience!r} has {len(matches)} survey instruments, not 1")
    return matches[0]
