"""The hash-list CSV format on plain text: header and aliases, every line's check, the export form."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from detection import hashlist
from detection.hashlist import HashListRow, check_rows, format_rows, parse, read_lines
from errors import ValidationError

PDQ = "0f" * 32
PHASH = "a" * 16
LIST = Path("lists/list.csv")


def test_a_list_with_aliases_and_optional_columns_gives_canonical_rows_with_their_lines():
    text = (
        "Algorithm , HASH_HEX,case_ref,variant,media_kind,source_label\n"
        f"PDQ,{PDQ.upper()}, SYN-CASE-1 ,rot90,video,clip-7\n"
        "\n"
        f"phash,{PHASH},SYN-CASE-2,,,\n"
    )
    assert parse(text, LIST) == [
        HashListRow(2, "pdq", PDQ, "SYN-CASE-1", "rot90", "video", "clip-7"),
        HashListRow(4, "phash", PHASH, "SYN-CASE-2", "original", "image", f"import:phash:{PHASH}"),
    ]


def test_only_the_three_required_columns_are_needed():
    [row] = parse(f"algorithm,hash,case\npdq,{PDQ},C-1\n", LIST)
    assert (row.variant, row.media_kind, row.item) == ("original", "image", f"import:pdq:{PDQ[:16]}")


def test_an_empty_list_or_a_header_without_the_required_columns_is_refused():
    with pytest.raises(ValidationError, match="hash list lists/list.csv is empty; it needs a header"):
        parse("", LIST)
    with pytest.raises(ValidationError, match="line 1 of list.csv: the header lacks hash, case"):
        parse("algorithm,digest\npdq,x\n", LIST)


def test_a_line_with_more_fields_than_the_header_is_refused_at_once_with_its_number():
    text = f"algorithm,hash,case\npdq,{PDQ},C-1\npdq,{PDQ},C,1\n"
    with pytest.raises(ValidationError, match="line 3 of list.csv: more fields than the header"):
        read_lines(text, LIST)


def test_bad_lines_are_problems_with_their_line_numbers_and_the_good_rows_are_kept():
    lines = read_lines(
        "algorithm,hash,case,variant,media_kind,item\n"
        f"pdq,{PDQ},C-1,,,\n"
        f"md5,{PDQ},C-1,,,\n"
        "pdq,xyz,C-1,,,\n"
        f"pdq,{PDQ},,,,\n"
        f"pdq,{PDQ},C-1,{'v' * 17},,\n"
        f"pdq,{PDQ},C-1,,audio,\n"
        f"pdq,{PDQ},C-1,,,{'i' * 65}\n"
        f"pdq,{PDQ},{'c' * 33},,,\n",
        LIST,
    )
    rows, problems = check_rows(lines)
    problems = [str(p) for p in problems]  # Messages: their English
    assert [r.line for r in rows] == [2]
    assert [p.split(":", 1)[0] for p in problems] == [f"line {n}" for n in range(3, 10)]
    assert "unknown algorithm 'md5'; use one of dhash, pdq, phash, whash" in problems[0]
    assert "a pdq hash must be 64 hex digits" in problems[1]
    assert "case reference '' must be 1-32 printable characters" in problems[2]
    assert "variant 'vvvvvvvvvvvvvvvvv' is longer than 16 characters" in problems[3]
    assert "media_kind must be image or video, got 'audio'" in problems[4]
    assert "is longer than 64 characters" in problems[5]
    assert "must be 1-32 printable characters" in problems[6]


def test_parse_refuses_the_whole_list_naming_every_bad_line():
    text = f"algorithm,hash,case\npdq,{PDQ},C-1\npdq,xyz,C-1\nmd5,{PDQ},C-1\n"
    with pytest.raises(ValidationError) as err:
        parse(text, LIST)
    message = str(err.value)
    assert message.startswith("hash list list.csv was not imported (nothing was written): line 3: ")
    assert "; line 4: unknown algorithm 'md5'" in message


def test_at_most_ten_problems_are_reported():
    text = "algorithm,hash,case\n" + "".join(f"pdq,bad{i},C-1\n" for i in range(15))
    _rows, problems = check_rows(read_lines(text, LIST))
    problems = [str(p) for p in problems]  # Messages: their English
    assert len(problems) == hashlist.MAX_PROBLEMS == 10
    assert problems[-1].startswith("line 11: ")


def test_case_references_are_stripped_and_must_be_printable():
    assert hashlist.validate_case_ref("  SYN-CASE-1 ") == "SYN-CASE-1"
    for bad in ("", "   ", "A" * 33, "SYN\x00CASE", "SYN\nCASE"):
        with pytest.raises(ValidationError, match="must be 1-32 printable characters"):
            hashlist.validate_case_ref(bad)
    with pytest.raises(ValidationError, match="^line 2: case reference"):
        hashlist.validate_case_ref("", where="line 2: ")


def test_formatted_rows_read_back_as_the_same_rows():
    rows = [("pdq", PDQ, "C-1", "original", "image", "sha256:ab"),
            ("phash", PHASH, "C,2", "rot90", "video", 'say "x"')]
    data = format_rows(rows)
    assert data.startswith(b"algorithm,hash,case,variant,media_kind,item\n")
    assert [tuple(r) for r in csv.reader(io.StringIO(data.decode("utf-8")))] == [
        hashlist.COLUMNS, *rows]
    parsed = parse(data.decode("utf-8"), LIST)
    assert [(p.algorithm, p.hash_hex, p.case_ref, p.variant, p.media_kind, p.item)
            for p in parsed] == rows
    assert format_rows([]) == b"algorithm,hash,case,variant,media_kind,item\n"
