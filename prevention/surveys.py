"""Reading the survey files schools return: every row checked first, every problem named by line and column.

Pure: the file's text in, checked sheets out, or one ValidationError that lists the problems (the
first `MAX_SHOWN` of them, each "line L, column C (name): ..."). Nothing is half-read: a caller
writes the sheets only when `parse_survey` returns.

The file is one delivery's sheets for one instrument: a header naming `time` (pre/post, or
사전/사후), optionally `pair_code` (an anonymous code the class made up, used by every row or by
none) and `satisfaction` (1-5, blank allowed; only on instruments that ask it), and every item id.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from errors import Message, ValidationError, joined
from prevention.instruments import SurveyInstrument

MAX_SHOWN = 10
MAX_BYTES = 1_000_000
TIMES = {"pre": "pre", "post": "post", "사전": "pre", "사후": "post"}
# A pairing code is short and made of letters and digits only: never a name, never a student number.
PAIR_CODE = re.compile(r"^[A-Za-z0-9]{1,8}$")


@dataclass(frozen=True)
class SurveySheet:
    line: int
    time: str
    pair_code: str | None
    satisfaction: int | None
    answers: dict[str, int | None]
    score: float


def _at(line: int, col: int, name: str, what: Message) -> Message:
    return Message("prevention.survey_cell", "line {line}, column {col} ({name}): {what}",
                   line=line, col=col, name=name, what=what)


def _refuse(problems: list[Message], file_name: str) -> ValidationError:
    shown = problems[:MAX_SHOWN]
    more = len(problems) - len(shown)
    return ValidationError("prevention.survey_refused",
                           "{file} was not imported, nothing was saved: {problems}{more}",
                           file=file_name, problems=joined(shown),
                           more=Message("prevention.survey_more", " (and {count} more)",
                                        count=more) if more else "")


def _int_in(text: str, lo: int, hi: int) -> int | None:
    if not re.fullmatch(r"[0-9]+", text):
        return None
    value = int(text)
    return value if lo <= value <= hi else None


def parse_survey(data: bytes, instrument: SurveyInstrument, *, file_name: str = "survey.csv"
                 ) -> list[SurveySheet]:
    """The checked sheets of a returned survey file, or ValidationError naming every bad cell."""
    if len(data) > MAX_BYTES:
        raise ValidationError("prevention.survey_too_large",
                              "{file} is larger than {limit} bytes; one delivery's sheets are far "
                              "smaller: check that this is the right file",
                              file=file_name, limit=f"{MAX_BYTES:,}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError("prevention.survey_encoding",
                              "{file} is not UTF-8 text; save it as CSV UTF-8 and upload again",
                              file=file_name) from None
    rows = list(csv.reader(io.StringIO(text, newline="")))
    rows = [(n, r) for n, r in enumerate(rows, start=1) if any(c.strip() for c in r)]
    if not rows:
        raise ValidationError("prevention.survey_empty",
                              "{file} is empty; it needs a header line: time,{items}",
                              file=file_name, items=",".join(instrument.item_ids))
    header_line, header = rows[0]
    names = [h.strip() for h in header]
    allowed = {"time", "pair_code", *instrument.item_ids}
    if instrument.satisfaction:
        allowed.add("satisfaction")
    problems: list[Message] = []
    for col, name in enumerate(names, start=1):
        if name not in allowed:
            problems.append(_at(header_line, col, name or "(blank)", Message(
                "prevention.survey_unknown_column",
                "not a column of {instrument}; the columns are {allowed}",
                instrument=instrument.id, allowed=", ".join(
                    ["time", "pair_code"] + (["satisfaction"] if instrument.satisfaction else [])
                    + list(instrument.item_ids)))))
        elif names.index(name) != col - 1:
            problems.append(_at(header_line, col, name, Message(
                "prevention.survey_repeated_column", "this column is named twice")))
    for need in ("time", *instrument.item_ids):
        if need not in names:
            problems.append(Message("prevention.survey_missing_column",
                                    "line {line}: the header lacks the column {name}",
                                    line=header_line, name=need))
    if problems:
        raise _refuse(problems, file_name)
    pos = {name: i for i, name in enumerate(names)}
    lo, hi = instrument.scale
    sheets: list[SurveySheet] = []
    for line, raw in rows[1:]:
        if len(raw) > len(names):
            problems.append(_at(line, len(names) + 1, "(none)", Message(
                "prevention.survey_extra_field",
                "more fields than the header names; check for an unquoted comma")))
            continue
        cells = [c.strip() for c in raw] + [""] * (len(names) - len(raw))
        bad = len(problems)
        time = TIMES.get(cells[pos["time"]].lower())
        if time is None:
            problems.append(_at(line, pos["time"] + 1, "time", Message(
                "prevention.survey_time", "must be pre or post (사전/사후), got {value!r}",
                value=cells[pos["time"]])))
        code = cells[pos["pair_code"]] if "pair_code" in pos else ""
        if code and not PAIR_CODE.match(code):
            problems.append(_at(line, pos["pair_code"] + 1, "pair_code", Message(
                "prevention.survey_pair_code",
                "a pairing code is 1-8 letters or digits the class made up (never a name or a "
                "student number); got {length} characters", length=len(code))))
        satisfaction = None
        if "satisfaction" in pos and cells[pos["satisfaction"]]:
            satisfaction = _int_in(cells[pos["satisfaction"]], 1, 5)
            if satisfaction is None:
                problems.append(_at(line, pos["satisfaction"] + 1, "satisfaction", Message(
                    "prevention.survey_satisfaction", "must be a whole number 1..5 or blank, got "
                    "{value!r}", value=cells[pos["satisfaction"]])))
        answers: dict[str, int | None] = {}
        for item in instrument.item_ids:
            cell = cells[pos[item]]
            if not cell:
                answers[item] = None
                continue
            value = _int_in(cell, lo, hi)
            if value is None:
                problems.append(_at(line, pos[item] + 1, item, Message(
                    "prevention.survey_item_range", "must be a whole number {lo}..{hi} or blank, "
                    "got {value!r}", lo=lo, hi=hi, value=cell)))
            answers[item] = value
        if len(problems) > bad:
            continue
        answered = sum(v is not None for v in answers.values())
        if answered * 2 < len(instrument.items):
            problems.append(Message("prevention.survey_too_blank",
                                    "line {line}: {answered} of {items} items answered; a sheet "
                                    "needs at least half", line=line, answered=answered,
                                    items=len(instrument.items)))
            continue
        sheets.append(SurveySheet(line, time, code or None, satisfaction, answers,
                                  instrument.score(answers)))
    if not problems:
        problems = _whole_file(sheets, instrument, pos)
    if problems:
        raise _refuse(problems, file_name)
    if not sheets:
        raise ValidationError("prevention.survey_no_sheets",
                              "{file} has a header but no answer sheets", file=file_name)
    return sheets


def _whole_file(sheets: list[SurveySheet], instrument: SurveyInstrument, pos: dict[str, int]
                ) -> list[Message]:
    problems: list[Message] = []
    coded = [s for s in sheets if s.pair_code]
    if coded and len(coded) != len(sheets):
        first = next(s for s in sheets if not s.pair_code)
        problems.append(_at(first.line, pos["pair_code"] + 1, "pair_code", Message(
            "prevention.survey_pairing_mixed",
            "some sheets carry a pairing code and this one does not: use codes on every sheet "
            "or on none")))
    seen: dict[tuple[str, str], int] = {}
    for s in coded:
        key = (s.time, s.pair_code)
        if key in seen:
            problems.append(_at(s.line, pos["pair_code"] + 1, "pair_code", Message(
                "prevention.survey_pair_repeated",
                "the same code is on line {first} for the same time", first=seen[key])))
        seen.setdefault(key, s.line)
    if instrument.kind == "observation":
        for time in ("pre", "post"):
            lines = [s.line for s in sheets if s.time == time]
            if len(lines) > 1:
                problems.append(Message(
                    "prevention.survey_one_observation",
                    "line {line}: an observation checklist is one sheet for the group at each "
                    "time; {time} is already on line {first}", line=lines[1], time=time,
                    first=lines[0]))
    return problems
