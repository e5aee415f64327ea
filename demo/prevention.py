"""Synthetic prevention education with known true effects: schools, classes, anonymous survey sheets.

Invented from a seeded generator, no I/O: about 20 institutions and 100 classes a year of 15-30
children over three years, across audiences and formats. The true change (POMP points, 0-100) is
largest for elementary students, and the tailored puppet show works better than the lecture for
kindergartens (`TRUE_EFFECTS`), so tests can check that the statistics recover both. Sheets carry
answers to the real instruments (`prevention/instruments/`), so they are imported through the
same checks as a school's file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

import vocab
from prevention.instruments import SurveyInstrument, get_survey_instrument, instrument_for

LECTURE = "디지털 성범죄 예방 강의"
# name, format, audiences, tailored from (a name above it or None)
PROGRAMMES = (
    (LECTURE, "lecture", vocab.AUDIENCES, None),
    ("인형극 '내 몸은 내가 지켜요'", "puppet_show", ("kindergarten",), LECTURE),
    ("보드게임 '온라인 안전 탐험'", "board_game", ("elementary_lower", "elementary_upper"), LECTURE),
    ("역할극 '멈춰, 퍼뜨리지 마'", "role_play", ("middle", "high"), LECTURE),
)
TRUE_EFFECTS: dict = {
    # The lecture's mean pre -> post change by audience, POMP points.
    "lecture": {"kindergarten": 5.0, "elementary_lower": 13.0, "elementary_upper": 14.0,
                "middle": 7.0, "high": 5.0, "guardians": 5.0, "teachers": 4.0},
    # What each tailored format adds to the lecture's change for its audiences.
    "format_bonus": {"puppet_show": 8.0, "board_game": 2.0, "role_play": 2.0},
    "baseline_mean": 50.0,
    "child_sd": 12.0,      # children's baseline spread
    "class_sd": 5.0,       # a class's own level
    "class_change_sd": 2.5,  # a class's own change around its audience's
    "occasion_sd": 6.0,
    "item_sd": 0.45,       # noise of one answer, in scale points
    "satisfaction_mean": 4.5,
}
# Institution kinds in the demo, how many of each, and the audiences their classes are.
INSTITUTIONS = (
    ("kindergarten", 4, ("kindergarten",)),
    ("elementary", 8, ("elementary_lower", "elementary_upper", "guardians")),
    ("middle", 4, ("middle", "teachers")),
    ("high", 4, ("high", "teachers")),
)
YEARS = (2024, 2025, 2026)


@dataclass
class SyntheticPrevention:
    seed: int
    programmes: pd.DataFrame   # name, format, audiences, tailored_from
    deliveries: pd.DataFrame   # key, programme, delivered_on, audience, institution, institution_kind, district, present, paired, educator
    sheets: pd.DataFrame       # delivery, time, pair_code, satisfaction, answers, score, instrument
    true_change: pd.DataFrame  # delivery, change (the class's true change)


def true_change(programme_format: str, audience: str) -> float:
    """The true mean change of a programme's format for an audience (POMP points)."""
    return (TRUE_EFFECTS["lecture"][audience]
            + (TRUE_EFFECTS["format_bonus"].get(programme_format, 0.0)
               if programme_format != "lecture" else 0.0))


def _answers(rng: np.random.Generator, inst: SurveyInstrument, pomp: float) -> dict[str, int]:
    lo, hi = inst.scale
    target = lo + np.clip(pomp, 0, 100) / 100 * (hi - lo)
    out = {}
    for item in inst.items:
        v = int(np.clip(np.rint(target + rng.normal(0, TRUE_EFFECTS["item_sd"])), lo, hi))
        out[item.id] = lo + hi - v if item.reverse else v
    return out


def generate(classes_per_year: int = 100, seed: int = 17, educators: int = 2
             ) -> SyntheticPrevention:
    rng = np.random.default_rng(seed)
    te = TRUE_EFFECTS
    progs = pd.DataFrame([{"name": n, "format": f, "audiences": list(a), "tailored_from": t}
                          for n, f, a, t in PROGRAMMES])
    formats = dict(zip(progs["name"], progs["format"]))
    schools = []
    for kind, count, audiences in INSTITUTIONS:
        for i in range(count):
            schools.append({"institution": f"{kind}-{i + 1:02d}", "kind": kind,
                            "audiences": audiences,
                            "district": vocab.SEOUL_DISTRICTS[rng.integers(len(vocab.SEOUL_DISTRICTS))]})
    deliveries, sheets, truth = [], [], []
    key = 0
    for year in YEARS:
        for _ in range(classes_per_year):
            school = schools[rng.integers(len(schools))]
            audience = school["audiences"][rng.integers(len(school["audiences"]))]
            options = [n for n, _f, a, _t in PROGRAMMES if audience in a]
            # Tailored programmes are taken up more once they exist; the lecture stays everywhere.
            name = options[rng.integers(len(options))]
            fmt = formats[name]
            present = int(rng.integers(15, 31))
            day = dt.date(year, 3, 2) + dt.timedelta(days=int(rng.integers(0, 260)))
            paired = audience != "kindergarten" and bool(rng.random() < 0.5)
            key += 1
            deliveries.append({"key": key, "programme": name, "delivered_on": day,
                               "audience": audience, "institution": school["institution"],
                               "institution_kind": school["kind"], "district": school["district"],
                               "present": present, "paired": paired,
                               "educator": f"educator{1 + key % educators}"})
            inst = instrument_for(audience)
            change = true_change(fmt, audience) + rng.normal(0, te["class_change_sd"])
            truth.append({"delivery": key, "change": change})
            level = te["baseline_mean"] + rng.normal(0, te["class_sd"])
            base = level + rng.normal(0, te["child_sd"], present)
            pre = base + rng.normal(0, te["occasion_sd"], present)
            post = base + change + rng.normal(0, te["occasion_sd"], present)
            if inst.kind == "observation":
                for time, values in (("pre", pre), ("post", post)):
                    answers = _answers(rng, inst, float(values.mean()))
                    sheets.append({"delivery": key, "time": time, "pair_code": None,
                                   "satisfaction": None, "answers": answers,
                                   "score": inst.score(answers), "instrument": inst.id})
                continue
            # Some children miss one of the two times: a few absent at each.
            here_pre = rng.random(present) > 0.05
            here_post = rng.random(present) > 0.05
            codes = [f"{rng.integers(36**4):06d}"[-6:] for _ in range(present)]
            codes = [f"K{i:02d}{c[:3]}" for i, c in enumerate(codes)]
            for i in range(present):
                for time, values, here in (("pre", pre, here_pre), ("post", post, here_post)):
                    if not here[i]:
                        continue
                    answers = _answers(rng, inst, float(values[i]))
                    sat = None
                    if time == "post" and inst.satisfaction:
                        sat = int(np.clip(np.rint(rng.normal(te["satisfaction_mean"], 0.7)), 1, 5))
                    sheets.append({"delivery": key, "time": time,
                                   "pair_code": codes[i] if paired else None,
                                   "satisfaction": sat, "answers": answers,
                                   "score": inst.score(answers), "instrument": inst.id})
    return SyntheticPrevention(seed, progs, pd.DataFrame(deliveries), pd.DataFrame(sheets),
                               pd.DataFrame(truth))


def effect_frame(world: SyntheticPrevention) -> pd.DataFrame:
    """The sheets in the shape `prevention.effects` reads (what the service builds from the store)."""
    d = world.deliveries.rename(columns={"key": "delivery"})
    formats = dict(zip(world.programmes["name"], world.programmes["format"]))
    d["format"] = d["programme"].map(formats)
    d["programme"] = d["programme"] + " v1"
    return world.sheets.merge(d[["delivery", "programme", "audience", "format", "present"]],
                              on="delivery")


def survey_file(world: SyntheticPrevention, delivery: int) -> bytes:
    """One delivery's sheets as the CSV a school returns."""
    part = world.sheets[world.sheets["delivery"] == delivery]
    items = list(part["answers"].iloc[0])
    asks = get_survey_instrument(part["instrument"].iloc[0]).satisfaction
    lines = [",".join(["time", "pair_code", *(["satisfaction"] if asks else []), *items])]
    for r in part.itertuples():
        sat = "" if r.satisfaction is None or pd.isna(r.satisfaction) else str(int(r.satisfaction))
        lines.append(",".join([r.time, r.pair_code or "", *([sat] if asks else []),
                               *(str(r.answers[i]) for i in items)]))
    return ("\n".join(lines) + "\n").encode()
