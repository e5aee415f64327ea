"""Crawl manifests: the CSV a crawler writes of the items it found, each with where it was found.

A manifest has one line per item, ``uri,platform,page_url,first_seen``: the item's URI (a local
path, or a URL under a prefix the deployment allows, read by the workers with fsspec), the
platform it was found on, the page that shows it and when the crawler first saw it. ``parse``
reads the text of one, all or nothing: every line is checked first and the bad ones are named
with their line numbers. ``items`` turns the rows into a scan's items and their sources. The
source stays with each flag, so that a confirmed flag's takedown request names the platform and
the page to send it to. Plain text in, plain data out; the scan use case writes the store.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from urllib.parse import urlsplit

from detection.sources import Item, _Labels, is_url, local_path
from errors import Message, ValidationError, joined

COLUMNS: tuple[str, ...] = ("uri", "platform", "page_url", "first_seen")
MAX_URI = 1024
MAX_PLATFORM = 128  # takedown_requests.platform
MAX_PAGE_URL = 2048
# A crawl is scanned in manifests of at most this many items (a day's crawl in a few hundred).
MAX_ROWS = 100_000
MAX_PROBLEMS = 10


@dataclass(frozen=True)
class ItemSource:
    """Where a crawled item was found: what a takedown request is sent about."""

    platform: str
    page_url: str
    first_seen: dt.datetime  # UTC, without tzinfo, as the store keeps times


@dataclass(frozen=True)
class ManifestRow:
    line: int
    uri: str
    source: ItemSource


def _printable(value: str, what: str, most: int) -> str:
    if not value:
        raise ValidationError("detection.manifest_field_empty", "{what} is empty", what=what)
    if len(value) > most or not value.isprintable():
        raise ValidationError(
            "detection.manifest_field_form",
            "{what} must be at most {most} printable characters",
            what=what, most=most)
    return value


def check_page_url(value: str) -> str:
    """An http(s) URL with a host, at most MAX_PAGE_URL printable characters."""
    url = _printable(value, "page_url", MAX_PAGE_URL)
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ValidationError(
            "detection.manifest_page_url",
            "page_url {url!r} must be an http or https address with a host (the page a "
            "takedown request names)",
            url=url[:80])
    return url


def check_first_seen(value: str) -> dt.datetime:
    """An ISO 8601 date or date and time; one with an offset is converted to UTC."""
    text = _printable(value, "first_seen", 40)
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            "detection.manifest_first_seen",
            "first_seen {value!r} is not an ISO 8601 date or time (for example "
            "2026-12-01T08:30:00Z)",
            value=text) from None
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC).replace(tzinfo=None)
    return when


def check_uri(value: str, roots: Sequence[Path], prefixes: Sequence[str]) -> str:
    """The item's URI, if it is a local path inside ``roots`` or a URL under one of ``prefixes``.

    A manifest must not make the scanner read whatever else the server or its network holds.
    """
    uri = _printable(value, "uri", MAX_URI)
    if is_url(uri):
        if not any(p and uri.startswith(p) for p in prefixes):
            raise ValidationError(
                "detection.manifest_url_not_allowed",
                "uri {uri!r} is not under a URL prefix scans may read ({prefixes}); the "
                "administrator lists them in DSCR_SCAN_URLS",
                uri=uri[:80], prefixes=", ".join(prefixes) or "none")
        return uri
    path = Path(local_path(uri))
    if not path.is_absolute():
        raise ValidationError(
            "detection.manifest_uri_relative",
            "uri {uri!r} is a relative path; give an absolute path or a URL", uri=uri[:80])
    real = path.resolve()
    if not any(real == r or real.is_relative_to(r) for r in (r.resolve() for r in roots)):
        raise ValidationError(
            "detection.manifest_path_outside",
            "uri {uri!r} is outside the folders scans may read ({roots})",
            uri=uri[:80], roots=", ".join(map(os.fspath, roots)))
    return os.fspath(real)


def parse(
    text: str, path: PurePath, *, roots: Sequence[Path], prefixes: Sequence[str] = ()
) -> list[ManifestRow]:
    """Every row of a manifest, or ValidationError naming its bad lines (all or nothing)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    problems: list[Message] = []
    rows: list[ManifestRow] = []
    seen: dict[str, int] = {}
    try:
        header = next(reader, None)
        if header is None:
            raise ValidationError(
                "detection.manifest_empty",
                "crawl manifest {name} is empty; it needs a header line: {columns}",
                name=path.name, columns=",".join(COLUMNS))
        names = [h.strip().lower().lstrip("\ufeff") for h in header]
        missing = [c for c in COLUMNS if c not in names]
        if missing:
            raise ValidationError(
                "detection.manifest_header",
                "line 1 of {name}: the header lacks {missing}; it must name the columns {columns}",
                name=path.name, missing=", ".join(missing), columns=",".join(COLUMNS))
        at = {c: names.index(c) for c in COLUMNS}
        for fields in reader:
            line = reader.line_num
            if not any(f.strip() for f in fields):
                continue
            try:
                if len(fields) != len(names):
                    raise ValidationError(
                        "detection.manifest_field_count",
                        "{n} fields where the header names {m}; check for an unquoted comma",
                        n=len(fields), m=len(names))
                row = {c: fields[i].strip() for c, i in at.items()}
                uri = check_uri(row["uri"], roots, prefixes)
                if uri in seen:
                    raise ValidationError(
                        "detection.manifest_duplicate_uri",
                        "uri {uri!r} is already on line {first}", uri=uri[:80], first=seen[uri])
                seen[uri] = line
                source = ItemSource(_printable(row["platform"], "platform", MAX_PLATFORM),
                                    check_page_url(row["page_url"]),
                                    check_first_seen(row["first_seen"]))
                rows.append(ManifestRow(line, uri, source))
            except ValidationError as exc:
                problems.append(Message("detection.manifest_line", "line {line}: {problem}",
                                        line=line, problem=exc.message))
                if len(problems) >= MAX_PROBLEMS:
                    break
            if len(rows) > MAX_ROWS:
                raise ValidationError(
                    "detection.manifest_too_long",
                    "crawl manifest {name} lists more than {most:,} items; split it into "
                    "smaller manifests", name=path.name, most=MAX_ROWS)
    except csv.Error as exc:
        problems.append(Message("detection.manifest_csv", "line {line}: not valid CSV ({reason})",
                                line=reader.line_num, reason=str(exc)))
    if problems:
        raise ValidationError(
            "detection.manifest_refused",
            "crawl manifest {name} was refused (nothing was scanned or written): {problems}",
            name=path.name, problems=joined(problems))
    if not rows:
        raise ValidationError("detection.manifest_no_items",
                              "crawl manifest {name} lists no items", name=path.name)
    return rows


def items(rows: Sequence[ManifestRow]) -> tuple[list[Item], dict[tuple[str, int], ItemSource]]:
    """A scan's items (labelled by their URI, in manifest order) and each one's source."""
    label = _Labels()
    out: list[Item] = []
    sources: dict[tuple[str, int], ItemSource] = {}
    for row in rows:
        item = Item(label(row.uri), row.uri)
        out.append(item)
        sources[item.key] = row.source
    return out, sources
