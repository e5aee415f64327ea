r"""The service's error messages in the reader's language: English templates from the source, Korean from text_messages.

The use cases raise `errors` classes with English f-strings. `extract()` reads those templates from
the source files with `ast`: every `<DscrError class>(<str or f-string>)` in SOURCES, constant text
kept, each formatted value a placeholder. The keys of dashboard/text_messages.py are exactly these
templates (tests/dashboard/test_messages.py checks it both ways), so at run time the catalogue is
compiled from those keys alone (~5 ms once per process) instead of parsing ~600 KB of source
(~150 ms of ast.parse, ~0.4 s in all on this machine) in a page's first run.

Key form: the constant text with `{` and `}` doubled, each formatted value `{0}`, `{1}`, ... in
order. Each key becomes `\A<escaped text>(.*?)<escaped text>...\Z`: lazy groups, anchored at both
ends so that they still take everything; `.*?` rather than `.+?` because optional pieces such as
`{now}` or `{where}` are often empty. The template with the most constant text is tried first, so a
generic one ("{0}, got {1}") never wins over a specific one.

Besides whole messages, "fragments" are read: strings that flow into a message's placeholder (a
local `where = f"..."`, a module-level dict looked up in the placeholder, a same-module helper's
return value, the piece of a `"; ".join(f"..." for ...)`). A captured value that matches a fragment
or a message, or is a code word of WORDS, is translated too. A message that matches nothing is
shown in English unchanged: the reader never loses the detail.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import inspect
import re
from dataclasses import dataclass
from pathlib import Path

import errors

# The modules whose messages reach the dashboard: packages are read whole, db only in part
# (crypto and engine too: their ConfigurationError reaches the log-in page).
SOURCES = (
    "db.operations", "db.access", "db.context", "db.crypto", "db.engine",
    "accounts", "casework", "exports",
    "matrix", "models", "detection", "assessment",
)

_MAX_ALTERNATIVES = 8  # `f"..." + ("a" if c else "b")` gives 2; a cap keeps odd code from exploding
_MAX_DEPTH = 3  # fragments nest two deep in the code (scoring's `where`); deeper is not written
_LETTER = re.compile(r"[A-Za-z]{2}")


@dataclass(frozen=True)
class Template:
    key: str  # the key form, e.g. "item {0} must be {1}..{2}, got {3}"
    pattern: re.Pattern[str]
    fixed: int  # characters of constant text: the more, the more specific
    where: str  # "assessment/scoring.py:53", the first site that makes it
    fragment: bool  # a piece of a message, not a whole message
    worded: bool  # its constant text has words (not just ", " or ": ")
    adjacent: tuple[int, ...] = ()  # group i is followed directly by group i + 1 ("{2}{3}")


@dataclass(frozen=True)
class Catalogue:
    messages: tuple[Template, ...]  # most specific first
    fragments: tuple[Template, ...]  # fragments that are not also messages, most specific first
    values: tuple[Template, ...]  # both, most specific first: what a captured value may be


# ------------------------------------------------------------------ extraction


def _source_files() -> list[Path]:
    files: list[Path] = []
    for name in SOURCES:
        spec = importlib.util.find_spec(name)  # finds the file without running the module
        if spec is None:
            continue
        if spec.submodule_search_locations:
            for folder in spec.submodule_search_locations:
                files += sorted(Path(folder).glob("*.py"))
        elif spec.origin:
            files.append(Path(spec.origin))
    return files


def _error_names(trees: list[ast.Module]) -> set[str]:
    """The errors.py classes, and the subclasses of them the scanned modules define (LoginFailed)."""
    names = {n for n, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, errors.DscrError)}
    grew = True
    while grew:
        grew = False
        for tree in trees:
            for node in tree.body:  # error classes are defined at module level
                if isinstance(node, ast.ClassDef) and node.name not in names and any(
                    _name_of(b) in names for b in node.bases
                ):
                    names.add(node.name)
                    grew = True
    return names


def _name_of(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


# A part is constant text (str) or a placeholder (the expression formatted into it).
Part = str | ast.expr


def _alternatives(node: ast.expr) -> list[list[Part]]:
    """Every sequence of parts the expression can produce: `+` concatenates, `a if c else b` branches."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [[node.value]]
    if isinstance(node, ast.JoinedStr):
        # A Constant's .value is its text, a FormattedValue's .value the expression formatted.
        return [[v.value for v in node.values if not (isinstance(v, ast.Constant) and v.value == "")]]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _alternatives(node.left), _alternatives(node.right)
        return [a + b for a in left for b in right][:_MAX_ALTERNATIVES]
    if isinstance(node, ast.IfExp):
        return (_alternatives(node.body) + _alternatives(node.orelse))[:_MAX_ALTERNATIVES]
    return [[node]]


def key_of(parts: list[Part]) -> str:
    """The key form of a sequence of parts: constant text with braces doubled, placeholders numbered."""
    out, n = [], 0
    for p in parts:
        if isinstance(p, str):
            out.append(p.replace("{", "{{").replace("}", "}}"))
        else:
            out.append(f"{{{n}}}")
            n += 1
    return "".join(out)


def _compile(key: str, where: str, fragment: bool) -> Template:
    # Split the key back into constant text and placeholders; `{{`/`}}` are literal braces.
    pieces, text_only, i = [], [], 0
    for m in re.finditer(r"\{\{|\}\}|\{\d+\}", key):
        text = key[i:m.start()]
        pieces.append(re.escape(text))
        text_only.append(text)
        token = m.group()
        if token in ("{{", "}}"):
            pieces.append(re.escape(token[0]))
            text_only.append(token[0])
        else:
            # `.*?`, not `.+?`: optional pieces such as `{now}` or `{where}` are often empty, and
            # the anchors (\A ... \Z) make the lazy groups take everything they must.
            pieces.append("(.*?)")
        i = m.end()
    tail = key[i:]
    pieces.append(re.escape(tail))
    text_only.append(tail)
    fixed = "".join(text_only)
    adjacent = tuple(int(m.group(1)) for m in re.finditer(r"\{(\d+)\}(?=\{\d+\})", key))
    return Template(key, re.compile(r"\A" + "".join(pieces) + r"\Z", re.DOTALL), len(fixed), where,
                    fragment, bool(_LETTER.search(fixed)), adjacent)


class _Module:
    """One source file: its functions' local string assignments, module dicts and helper returns."""

    def __init__(self, tree: ast.Module, rel: str):
        self.tree, self.rel = tree, rel
        self._assigned: dict[int, dict[str, list[ast.expr]]] = {}
        self.functions: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] = {}
        self.dicts: dict[str, ast.Dict] = {}
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.functions.setdefault(node.name, []).append(node)
        for node in tree.body:
            target, value = _assignment(node)
            if target is not None and isinstance(value, ast.Dict):
                self.dicts[target] = value

    def sources_of(self, expr: ast.expr, scope: ast.AST | None) -> list[ast.expr]:
        """The string expressions a placeholder's value may come from, where the code says so."""
        if isinstance(expr, ast.Name):
            found = list(self._assignments(scope).get(expr.id, ())) if scope is not None else []
            return found + list(self._assignments(self.tree, top=True).get(expr.id, ()))
        if isinstance(expr, ast.Subscript) and isinstance(expr.value, ast.Name):
            table = self.dicts.get(expr.value.id)
            return [v for v in table.values if v is not None] if table is not None else []
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name):
            return [r.value for f in self.functions.get(expr.func.id, ())
                    for r in ast.walk(f) if isinstance(r, ast.Return) and r.value is not None]
        if _joined(expr) is not None:
            return [_joined(expr)]
        if isinstance(expr, (ast.IfExp, ast.JoinedStr, ast.BinOp)):
            return [expr]
        return []


    def _assignments(self, where: ast.AST, top: bool = False) -> dict[str, list[ast.expr]]:
        if id(where) not in self._assigned:
            table: dict[str, list[ast.expr]] = {}
            for node in (where.body if top else ast.walk(where)):
                target, value = _assignment(node)
                if target is not None and value is not None:
                    table.setdefault(target, []).append(value)
            self._assigned[id(where)] = table
        return self._assigned[id(where)]


def _joined(expr: ast.AST) -> ast.expr | None:
    """The piece of `"; ".join(f"..." for f in findings)`: localise translates each piece."""
    if (isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute)
            and expr.func.attr == "join" and expr.args
            and isinstance(expr.args[0], (ast.GeneratorExp, ast.ListComp))):
        return expr.args[0].elt
    return None


def _assignment(node: ast.AST) -> tuple[str | None, ast.expr | None]:
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id, node.value
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id, node.value
    return None, None


def _has_text(parts: list[Part]) -> bool:
    return any(isinstance(p, str) and _LETTER.search(p) for p in parts)


def _collect(module: _Module, names: set[str], messages: dict[str, str],
             fragments: dict[str, str]) -> None:
    def visit(node: ast.AST, scope: ast.AST | None) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            scope = node
        if (isinstance(node, ast.Call) and _name_of(node.func) in names and node.args
                and not isinstance(node.args[0], ast.Name)):
            where = f"{module.rel}:{node.lineno}"
            for parts in _alternatives(node.args[0]):
                if not any(isinstance(p, str) and p for p in parts):
                    continue  # a bare variable: nothing to match against
                messages.setdefault(key_of(parts), where)
                pieces(parts, scope, where, 1)
        for child in ast.iter_child_nodes(node):
            visit(child, scope)

    def pieces(parts: list[Part], scope: ast.AST | None, where: str, depth: int) -> None:
        if depth > _MAX_DEPTH:
            return
        for p in parts:
            if isinstance(p, str):
                continue
            for source in module.sources_of(p, scope):
                for alt in _alternatives(_joined(source) or source):
                    if _has_text(alt):
                        fragments.setdefault(key_of(alt), where)
                        pieces(alt, scope, where, depth + 1)

    visit(module.tree, None)


def extract(files: list[Path] | None = None) -> Catalogue:
    """Read every `raise <DscrError class>(<string>)` (and every such error built) in the sources."""
    files = _source_files() if files is None else files
    root = Path(errors.__file__).resolve().parent
    modules = []
    for path in files:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except (OSError, SyntaxError, UnicodeDecodeError):
            continue  # a file that cannot be read gives no templates; its messages stay English
        try:
            rel = path.resolve().relative_to(root).as_posix()
        except ValueError:
            rel = path.name
        modules.append(_Module(tree, rel))
    names = _error_names([m.tree for m in modules])
    messages: dict[str, str] = {}
    fragments: dict[str, str] = {}
    for module in modules:
        _collect(module, names, messages, fragments)

    def order(found: dict[str, str], fragment: bool) -> tuple[Template, ...]:
        made = [_compile(k, w, fragment) for k, w in found.items()]
        # Most constant text first, so a short generic template ("{0}, got {1}") never wins.
        return tuple(sorted(made, key=lambda t: (-t.fixed, t.key)))

    whole = order(messages, False)
    parts = order({k: w for k, w in fragments.items() if k not in messages}, True)
    values = tuple(sorted(whole + parts, key=lambda t: (-t.fixed, t.key)))
    return Catalogue(messages=whole, fragments=parts, values=values)


@functools.lru_cache(maxsize=1)
def catalogue() -> Catalogue:
    """The templates of the Korean catalogue, compiled once per process (they hold no personal data).

    The keys of dashboard/text_messages.py are the English templates, and a test checks them
    against `extract()` both ways, so the running dashboard need not parse ~600 KB of source.
    """
    from dashboard.text_messages import FRAGMENTS, MESSAGES

    def order(keys, fragment: bool) -> tuple[Template, ...]:
        made = [_compile(k, "", fragment) for k in keys]
        return tuple(sorted(made, key=lambda t: (-t.fixed, t.key)))

    whole, parts = order(MESSAGES, False), order(FRAGMENTS, True)
    return Catalogue(whole, parts, tuple(sorted(whole + parts, key=lambda t: (-t.fixed, t.key))))


@functools.lru_cache(maxsize=1)
def _korean() -> dict[str, str]:
    from dashboard.text_messages import FRAGMENTS, MESSAGES

    return {**FRAGMENTS, **MESSAGES}


def _value(text: str, korean: dict[str, str], words: dict[str, str], depth: int) -> str:
    """A captured value in Korean: a code word, a fragment or message, or pieces joined by '; '."""
    if text in words:
        return words[text]
    if depth > _MAX_DEPTH or not _LETTER.search(text):
        return text
    if "; " in text:
        # The code joins several findings with "; " (the notes guard, hash lists). Read as one,
        # they would match a finding's template with the others inside a placeholder, so the
        # pieces go first when every piece is a known one.
        pieces = [_translate(p, catalogue().values, korean, words, depth) for p in text.split("; ")]
        if all(p is not None for p in pieces):
            return "; ".join(pieces)
    found = _translate(text, catalogue().values, korean, words, depth)
    return text if found is None else found


def _split(text: str, korean: dict[str, str], words: dict[str, str], depth: int) -> tuple[str, str]:
    """Two values written side by side ("version {expected}{now}"): where one ends, the other starts.

    No regex can tell; the pieces can. The code's second piece is an optional fragment that starts
    with a space (" (now version 4)", " at 2026-01-02 10:00 UTC", " on ..."), so the cut is tried
    at each space: the one that leaves the most known pieces wins, the latest on a tie.
    """
    def known(piece: str) -> bool:
        return piece in words or (bool(_LETTER.search(piece)) and _translate(
            piece, catalogue().values, korean, words, depth) is not None)

    best, best_score = (text, ""), -1
    for cut in [0, *(i for i, c in enumerate(text) if c == " "), len(text)]:
        first, second = text[:cut], text[cut:]
        score = (known(first) if first else 0) + (known(second) if second else 0)
        if score >= best_score:
            best, best_score = (first, second), score
    return best


def _translate(text: str, templates: tuple[Template, ...], korean: dict[str, str],
               words: dict[str, str], depth: int) -> str | None:
    for tpl in templates:
        if not tpl.worded:
            # "{0}: {1}" (an instrument file's path and problem) has no words to translate and
            # would take any message with a colon, splitting it where it should not.
            continue
        m = tpl.pattern.match(text)
        if m is None:
            continue
        values = list(m.groups())
        for i in tpl.adjacent:
            values[i], values[i + 1] = _split(values[i] + values[i + 1], korean, words, depth + 1)
        values = [_value(v, korean, words, depth + 1) for v in values]
        return korean[tpl.key].format(*values)
    return None


def localise(message: str, lang: str) -> str:
    """`message` in `lang`: Korean when it matches a known template, else the English as it is."""
    if lang != "ko" or not message:
        return message
    try:
        from dashboard.text_messages import WORDS

        return _translate(message, catalogue().messages, _korean(), WORDS, 0) or message
    except Exception:  # never fail, never lose the detail
        return message


__all__ = ["Catalogue", "Template", "catalogue", "extract", "key_of", "localise"]
