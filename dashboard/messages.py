"""The users' messages in their language: the gettext catalogue of every message code, and localise().

Every error the use cases raise and every `errors.Message` carries a stable code, an English
template and named params. The Korean lives in a gettext catalogue with the code as msgctxt and the
English template as msgid:

    dashboard/locale/ko/LC_MESSAGES/dscr.po   edited by hand (python-brace-format, named fields)
    dashboard/locale/ko/LC_MESSAGES/dscr.mo   compiled from it with Babel, checked in

To regenerate after adding or changing a message in the code:

    python -m dashboard.messages extract   # the .po from the source: new codes added (empty
                                           # Korean), stale ones dropped, Korean kept
    python -m dashboard.messages compile   # the .mo from the .po
    python -m dashboard.messages check     # lists codes without Korean (exit 1 if any)

tests/dashboard/test_messages.py checks that source, .po and .mo agree.
"""

from __future__ import annotations

import ast
import datetime as dt
import functools
import gettext
import io
import re
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import errors
import vocab

ROOT = Path(__file__).resolve().parent.parent
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "dscr"
PO = LOCALE_DIR / "ko" / "LC_MESSAGES" / f"{DOMAIN}.po"
MO = LOCALE_DIR / "ko" / "LC_MESSAGES" / f"{DOMAIN}.mo"

# What is read for messages: every package a user's message can come from, and the CLI.
SOURCES = ("accounts", "assessment", "bench", "casework", "dashboard", "db", "demo", "detection",
           "exports", "matrix", "models", "partners", "prevention", "api", "cli.py", "errors.py")
_MAX_DEPTH = 40  # Messages nest: a finding in a field in an error, or a list of problems joined


# ------------------------------------------------------------------ the source side


def source_files(root: Path = ROOT) -> list[Path]:
    """The non-test Python files whose messages the catalogue holds."""
    files: list[Path] = []
    for name in SOURCES:
        path = root / name
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files += sorted(p for p in path.rglob("*.py") if "__pycache__" not in p.parts)
    return files


def error_class_names(files: list[Path] | None = None) -> set[str]:
    """The classes of the dscr error family: errors.py's and the subclasses the sources define."""
    names = {n for n, c in vars(errors).items()
             if isinstance(c, type) and issubclass(c, errors.DscrError)}
    trees = [ast.parse(p.read_bytes()) for p in (files or source_files())]
    grew = True
    while grew:
        grew = False
        for tree in trees:
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name not in names and any(
                        (b.id if isinstance(b, ast.Name) else getattr(b, "attr", None)) in names
                        for b in node.bases):
                    names.add(node.name)
                    grew = True
    return names


def keywords(files: list[Path] | None = None) -> dict[str, Any]:
    """Babel's keywords: `ValidationError: 1c,2` for every error class, and for Message."""
    return {name: ((1, "c"), 2) for name in sorted(error_class_names(files) | {"Message"})}


def extract(root: Path = ROOT) -> Iterator[tuple[str, str, str, int]]:
    """(code, template, file, line) of every message in the source, read by Babel's extractor."""
    from babel.messages.extract import extract as babel_extract

    files = source_files(root)
    spec = keywords(files)
    for path in files:
        with path.open("rb") as fh, warnings.catch_warnings():
            # Babel warns about f-strings passed as params (`where=f"..."`): they are values.
            warnings.simplefilter("ignore")
            found = list(babel_extract("python", fh, keywords=spec, comment_tags=(), options={}))
        for line, template, _comments, code in found:
            if code is not None and isinstance(template, str):
                yield code, template, path.relative_to(root).as_posix(), line


def _read_po(path: Path = PO):
    from babel.messages.pofile import read_po

    with path.open("rb") as fh:
        return read_po(fh, locale="ko", domain=DOMAIN)


def _write_po(catalog, path: Path = PO) -> None:
    from babel.messages.pofile import write_po

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        write_po(fh, catalog, width=0, include_lineno=False, sort_output=True)


def compiled(path: Path = PO) -> bytes:
    """The .mo of the .po, as Babel compiles it (the checked-in .mo must be exactly this)."""
    from babel.messages.mofile import write_mo

    buf = io.BytesIO()
    write_mo(buf, _read_po(path), use_fuzzy=False)
    return buf.getvalue()


def update_po(root: Path = ROOT, path: Path = PO) -> tuple[int, int]:
    """Bring the .po in line with the source: (entries added, entries dropped). Korean is kept."""
    from babel.messages.catalog import Catalog

    old = _read_po(path) if path.exists() else Catalog(locale="ko", domain=DOMAIN, project="dscr")
    new = Catalog(locale="ko", domain=DOMAIN, project="dscr", version="0.1.0",
                  copyright_holder="dscr", charset="utf-8", fuzzy=False,
                  creation_date=old.creation_date, revision_date=old.revision_date)
    by_code = {m.context: m for m in old if m.id and m.context}
    added = 0
    for code, template, file, _line in extract(root):
        existing = new.get(template, context=code)
        if existing is not None:
            if (file, None) not in existing.locations:
                existing.locations.append((file, None))
            continue
        before = old.get(template, context=code)
        korean, flags = (before.string, set(before.flags)) if before is not None else ("", set())
        if before is None:
            added += 1
            moved = by_code.get(code)
            if moved is not None and moved.string:  # the English changed: keep the Korean, fuzzy
                korean, flags = moved.string, set(moved.flags) | {"fuzzy"}
        new.add(template, korean, locations=[(file, None)], context=code,
                flags=flags | {"python-brace-format"})
    dropped = sum(1 for m in old if m.id and new.get(m.id, context=m.context) is None)
    _write_po(new, path)
    return added, dropped


# ------------------------------------------------------------------ the reader's side


class _Missing(gettext.NullTranslations):
    """The fallback of the catalogue: says "no entry" instead of echoing the English."""

    def pgettext(self, context, message):
        return None


@functools.lru_cache(maxsize=1)
def _translations() -> gettext.NullTranslations:
    try:
        with MO.open("rb") as fh:
            translations = gettext.GNUTranslations(fh)
    except OSError:
        translations = gettext.NullTranslations()
    translations.add_fallback(_Missing())
    return translations


# The vocabulary codes a param may carry, with the label prefix of each word list in the
# dashboard's catalogues (dashboard/text_*.py). A code in two lists with different labels
# ("other") is shown in Korean only when the param's name says which list it belongs to.
_VOCAB: tuple[tuple[tuple[str, ...], str, tuple[str, ...]], ...] = (
    (vocab.STEPS, "co_stage_", ("stage", "step")),
    (vocab.STEP_STATUSES + vocab.ASSESSMENT_STATUSES, "co_st_", ("status",)),
    (vocab.DOMAINS, "cm_dom_", ("domain",)),
    (vocab.ROLES, "role_", ("role",)),
    (vocab.PARTICIPANT_STATUSES, "status_", ("status",)),
    (vocab.EVENT_TYPES, "an_evt_", ("event",)),
    (vocab.FLAG_STATES, "rv_flag_", ("flag", "status")),
    (vocab.TAKEDOWN_STATES, "rv_td_", ("takedown", "status")),
    (vocab.SCAN_STATES + vocab.SCAN_ITEM_STATES, "rv_st_", ("scan", "status")),
)


# Every word list of vocab.py: a code that is also in an unrelated list ("other": an event type, a
# sex, a referral source) needs the param's name to say which it is.
_ALL_LISTS = tuple(v for v in vars(vocab).values()
                   if isinstance(v, tuple) and v and all(isinstance(x, str) for x in v))


def vocabulary_label(name: str, value: str, lang: str = "ko") -> str:
    """The label of a vocabulary code a message carries as param `name`, else the code itself."""
    from dashboard.i18n import TEXT

    found = {}
    for codes, prefix, hints in _VOCAB:
        if value in codes and prefix + value in TEXT:
            label = TEXT[prefix + value].get(lang) or TEXT[prefix + value]["ko"]
            unrelated = any(value in other and not (set(other) <= set(codes) or set(codes) <= set(other))
                            for other in _ALL_LISTS)
            found[prefix] = (label, any(h in name for h in hints), unrelated)
    labels = {label for label, _, unrelated in found.values() if not unrelated}
    if len(labels) == 1 and len(found) == 1:
        return labels.pop()
    hinted = {label for label, hint, _ in found.values() if hint}
    return hinted.pop() if len(hinted) == 1 else value


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _param(name: str, value: Any, depth: int) -> Any:
    from dashboard import dates

    if isinstance(value, errors.DscrError):
        value = value.message
    if isinstance(value, errors.Message):
        return _korean(value, depth + 1)
    # Dates the Korean way ("2026. 12. 27."), moments in Seoul's time; use cases often give a date
    # as its ISO text, which the English sentence keeps.
    if isinstance(value, dt.datetime):
        return dates.moment(value, "ko")
    if isinstance(value, dt.date):
        return dates.day(value, "ko")
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return dates.day(dt.date.fromisoformat(value), "ko")
        except ValueError:  # "2026-02-30": shown as given
            return value
    if name == "covariates" and isinstance(value, str):  # "a, b": model covariates, each labelled
        from dashboard.text_analyst import covariate_label

        return ", ".join(covariate_label(part, "ko") for part in value.split(", "))
    if isinstance(value, str):
        return vocabulary_label(name, value)
    return value


def _korean(message: errors.Message, depth: int = 0) -> str:
    if depth > _MAX_DEPTH:
        return str(message)
    korean = _translations().pgettext(message.code, message.template)
    if korean is None:
        return str(message)  # no entry: the English, with every detail
    params = {k: _param(k, v, depth) for k, v in message.params.items()}
    try:
        return korean.format(**params)
    except (KeyError, IndexError, ValueError, TypeError):
        return str(message)


def localise(message: errors.DscrError | errors.Message | str, lang: str) -> str:
    """The message in `lang`: Korean from the catalogue, else (or for English) the English sentence."""
    if isinstance(message, errors.DscrError):
        message = message.message
    if isinstance(message, str):  # a sentence with no code (a model card written before codes)
        return message
    if lang != "ko":
        return str(message)
    try:
        return _korean(message)
    except Exception:  # never fail, never lose the detail
        return str(message)


# ------------------------------------------------------------------ python -m dashboard.messages


def main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    if command == "extract":
        added, dropped = update_po()
        print(f"{PO.relative_to(ROOT)}: {added} added, {dropped} dropped")
        return 0
    if command == "compile":
        MO.write_bytes(compiled())
        print(f"{MO.relative_to(ROOT)} compiled")
        return 0
    if command == "check":
        missing = [m.context for m in _read_po() if m.id and (not m.string or m.fuzzy)]
        for code in missing:
            print(f"no Korean (or fuzzy): {code}")
        return 1 if missing else 0
    print("usage: python -m dashboard.messages extract|compile|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


__all__ = ["compiled", "extract", "keywords", "localise", "update_po", "vocabulary_label"]
