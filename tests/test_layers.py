"""Which way the packages import: no use case reaches into another package's use cases, no cycles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOP_MODULES = ("cli", "errors", "vocab")
PACKAGES = ("accounts", "assessment", "casework", "db", "demo", "detection", "exports", "matrix",
            "models", "partners", "prevention")
# The export use cases compose the other packages' public use cases (they sit under the faces):
# the one service allowed to import another package's service module, never a private name.
COMPOSERS = {"exports"}
# What the store may import of the project: itself and the two modules under everything.
STORE_MAY_IMPORT = {"db", "errors", "vocab"}
# Modules that touch the database (use cases and the store's own helpers); everything else in the
# packages is pure logic and imports neither the store nor Streamlit nor the dashboard.
IMPURE = {"service"}


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    return ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)


def imports(path: Path) -> list[tuple[str, str]]:
    """(module, name) for every import in the file, at module level or inside a function."""
    found: list[tuple[str, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(a.name, "") for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(node.module, a.name) for a in node.names]
    return found


def project_modules() -> dict[str, Path]:
    found = {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).glob("*.py"))}
    return found | {m: ROOT / f"{m}.py" for m in TOP_MODULES}


def targets(module: str, name: str, known: dict[str, Path]) -> set[str]:
    """The project modules an import loads: `from matrix import stages` loads matrix.stages."""
    sub = f"{module}.{name}" if name else ""
    return {m for m in (module, sub) if m in known}


@pytest.mark.parametrize("path", sorted(ROOT.glob("*/service.py")),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_a_service_uses_no_other_packages_service_or_private_helpers(path):
    own = path.parent.name
    known = project_modules()
    wrong = []
    for module, name in imports(path):
        for target in targets(module, name, known):
            package, _, leaf = target.partition(".")
            if package == own:
                continue
            if leaf.startswith("_") or name.startswith("_") or (
                    leaf == "service" and own not in COMPOSERS):
                wrong.append(f"{module}:{name}" if name else module)
    assert wrong == []


def test_the_modules_of_assessment_and_matrix_import_each_other_without_a_cycle():
    known = project_modules()
    graph = {m: set().union(*(targets(mod, name, known) for mod, name in imports(p))) - {m}
             for m, p in known.items()}
    ours = {m for m in known if m.split(".")[0] in ("assessment", "matrix")}
    # Every module reachable from ours, and whether it reaches back: a cycle through ours.
    cycles = []
    for start in sorted(ours):
        stack, seen = [(start, (start,))], set()
        while stack:
            node, route = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == start:
                    cycles.append(" -> ".join((*route, nxt)))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, (*route, nxt)))
    assert cycles == []
    # The matrix modules assessment's use cases build on do not lean back on assessment.
    assert {"matrix.stages", "db.steps"} <= graph["assessment.service"]
    assert not any(t.startswith("assessment") for t in graph["matrix.stages"])


def test_the_store_imports_nothing_above_it():
    known = project_modules()
    wrong = sorted(f"{m} -> {t}" for m, p in known.items() if m.split(".")[0] == "db"
                   for mod, name in imports(p) for t in targets(mod, name, known)
                   if t.split(".")[0] not in STORE_MAY_IMPORT)
    assert wrong == []


def test_pure_logic_touches_no_store_no_streamlit_and_no_dashboard():
    wrong = []
    for m, p in project_modules().items():
        package, _, leaf = m.partition(".")
        if package in ("db", "dashboard", "demo") or not leaf or leaf in IMPURE or m in TOP_MODULES:
            continue
        for mod, _ in imports(p):
            if mod.split(".")[0] in ("db", "sqlalchemy", "streamlit", "dashboard"):
                wrong.append(f"{m} -> {mod}")
    assert wrong == []


def test_no_module_imports_itself_back_through_others():
    """No import cycle anywhere, counting imports inside functions too."""
    known = project_modules()
    graph = {m: set().union(*(targets(mod, name, known) for mod, name in imports(p))) - {m}
             for m, p in known.items()}
    index, low, on_stack, stack, cycles, counter = {}, {}, set(), [], [], [0]

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert cycles == []
