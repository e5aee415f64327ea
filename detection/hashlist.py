"""The hash-list CSV format: its columns and header aliases, the check of every line, the export form.

A hash list is how registries exchange hashes (ThreatExchange, StopNCII, another agency): one line
per hash, ``algorithm,hash,case`` and optionally ``variant,media_kind,item``. ``parse`` reads the
text of one into rows, all or nothing: every line is checked first and the malformed ones are
reported with their line numbers. ``format_rows`` writes rows back in the same columns (formulas neutralised). Plain text
in, plain data out; the import and export use cases (detection.service) read and write the store.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePath

from detection.hashing import HASHERS
from detection.media import IMAGE, VIDEO
from errors import Message, ValidationError, joined
from exports.csvfile import rows_bytes

COLUMNS: tuple[str, ...] = ("algorithm", "hash", "case", "variant", "media_kind", "item")
REQUIRED: tuple[str, ...] = ("algorithm", "hash", "case")
# Header names other tools (and dscr's own database columns) use for the same columns.
ALIASES: dict[str, str] = {"hash_hex": "hash", "case_ref": "case", "source_label": "item"}
# A list with more bad lines than this is reported by its first ones: they show what is wrong.
MAX_PROBLEMS = 10
MEDIA_KINDS: tuple[str, ...] = (IMAGE, VIDEO)

Line = tuple[int, dict[str, str]]  # (line number in the file, {column: stripped value})


@dataclass(frozen=True)
class HashListRow:
    """One checked line of a hash list: canonical hex, a valid case reference, defaults filled."""

    line: int
    algorithm: str
    hash_hex: str
    case_ref: str
    variant: str
    media_kind: str
    item: str


def validate_case_ref(case_ref: str, where: str = "") -> str:
    """The case reference stripped, or ValidationError when it is not 1-32 printable characters."""
    ref = (case_ref or "").strip()
    # Printable only: a NUL or a line break in a reference would pass as a different case.
    if not ref or len(ref) > 32 or not ref.isprintable():
        raise ValidationError(
            "detection.case_reference_printable_characters",
            "{where}case reference {case_ref!r} must be 1-32 printable characters (for example "
            "SYN-CASE-1)",
            where=where, case_ref=case_ref
        )
    return ref


def read_lines(text: str, path: PurePath) -> list[Line]:
    """The lines of a hash list under canonical column names; ValidationError for a bad header.

    A line with more fields than the header is refused at once (an unquoted comma shifts every
    column after it, so nothing on that line can be trusted).
    """
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        fieldnames = reader.fieldnames
    except csv.Error as exc:
        raise _csv_error(exc, reader.reader.line_num or 1, path) from None
    if fieldnames is None:
        raise ValidationError(
            "detection.hash_list_empty_needs",
            "hash list {path} is empty; it needs a header line: algorithm,hash,case",
            path=path
        )
    names = [ALIASES.get(n.strip().lower(), n.strip().lower()) for n in fieldnames]
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise ValidationError(
            "detection.line_header_lacks_name",
            "line 1 of {path_name}: the header lacks {missing}; it must name the columns "
            "algorithm,hash,case (optionally variant,media_kind,item)",
            path_name=path.name, missing=', '.join(missing)
        )
    reader.fieldnames = names
    rows = []
    try:
        for raw in reader:
            if None in raw:
                raise ValidationError(
                    "detection.line_more_fields_header",
                    "line {reader_line_num} of {path_name}: more fields than the header names; "
                    "check for an unquoted comma",
                    reader_line_num=reader.line_num, path_name=path.name
                )
            rows.append((reader.line_num, {k: (v or "").strip() for k, v in raw.items()}))
    except csv.Error as exc:
        raise _csv_error(exc, reader.reader.line_num, path) from None
    return rows


def _csv_error(exc: csv.Error, line: int, path: PurePath) -> ValidationError:
    """The one-line refusal of a line Python's csv module cannot read."""
    limit = csv.field_size_limit()
    if "field larger than field limit" in str(exc):
        # Most often a quote that is never closed: the rest of the file reads as one field.
        return ValidationError(
            "detection.hashlist_field_size",
            "line {line} of {file} has a field longer than {limit} characters, more than a "
            "hash list holds; check for a quote that is never closed",
            line=line, file=path.name, limit=f"{limit:,}")
    return ValidationError(
        "detection.hashlist_csv", "line {line} of {file} is not valid CSV ({reason})",
        line=line, file=path.name, reason=str(exc))


def check_line(line: int, row: dict[str, str]) -> HashListRow:
    """One line checked (known algorithm, its hex, case reference, field lengths), or ValidationError."""
    alg = row["algorithm"].lower()
    hasher = HASHERS.get(alg)
    if hasher is None:
        raise ValidationError(
            "detection.unknown_algorithm_use_one",
            "unknown algorithm {algorithm!r}; use one of {hashers}",
            algorithm=row['algorithm'], hashers=', '.join(sorted(HASHERS))
        )
    hx = hasher.validate_hex(row["hash"])
    ref = validate_case_ref(row["case"])
    variant = row.get("variant") or "original"
    kind = row.get("media_kind") or IMAGE
    item = row.get("item") or f"import:{alg}:{hx[:16]}"
    if len(variant) > 16:
        raise ValidationError("detection.variant_longer_characters",
                              "variant {variant!r} is longer than 16 characters",
                              variant=variant)
    if kind not in MEDIA_KINDS:
        raise ValidationError("detection.media_kind_image_video",
                              "media_kind must be image or video, got {kind!r}",
                              kind=kind)
    if len(item) > 64:
        raise ValidationError("detection.item_longer_characters",
                              "item {item!r} is longer than 64 characters",
                              item=item[:70])
    return HashListRow(line, alg, hx, ref, variant, kind, item)


def check_rows(lines: Iterable[Line]) -> tuple[list[HashListRow], list[Message]]:
    """The good rows and the problems (``line N: why``), at most MAX_PROBLEMS; blank lines skipped."""
    problems: list[Message] = []
    parsed: list[HashListRow] = []
    for line, row in lines:
        if not any(row.values()):
            continue
        try:
            parsed.append(check_line(line, row))
        except ValidationError as exc:
            problems.append(Message("detection.hash_list_line", "line {line}: {problem}",
                                    line=line, problem=exc.message))
            if len(problems) >= MAX_PROBLEMS:
                break
    return parsed, problems


def parse(text: str, path: PurePath) -> list[HashListRow]:
    """Every row of a hash list, or ValidationError naming its bad lines (all or nothing)."""
    parsed, problems = check_rows(read_lines(text, path))
    if problems:
        raise ValidationError(
            "detection.hash_list_not_imported",
            "hash list {name} was not imported (nothing was written): {problems}",
            name=path.name, problems=joined(problems))
    return parsed


def format_rows(rows: Iterable[Sequence[str]]) -> bytes:
    """A hash list as UTF-8 CSV bytes: the header line of COLUMNS, then one line per row.

    Written by the one CSV writer of every export, so a case reference that a spreadsheet would
    run as a formula is neutralised here too.
    """
    return rows_bytes(COLUMNS, rows)
