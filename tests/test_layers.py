"""Which way the packages import: no use case reaches into another package's use cases, no cycles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("accounts", "assessment", "casework", "db", "demo", "detection", "exports", "matrix",
            "models")
# Known: sanitise_cell belongs to the export writing, which is becoming the exports use cases.
MOVING = {"detection/service.py": "sanitise_cell moves with the CSV writing into exports/"}


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
    return {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).glob("*.py"))}


def targets(module: str, name: str, known: dict[str, Path]) -> set[str]:
    """The project modules an import loads: `from matrix import stages` loads matrix.stages."""
    sub = f"{module}.{name}" if name else ""
    return {m for m in (module, sub) if m in known}


@pytest.mark.parametrize("path", sorted(ROOT.glob("*/service.py")),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_a_service_uses_no_other_packages_service_or_private_helpers(path):
    rel = str(path.relative_to(ROOT))
    if rel in MOVING:
        pytest.xfail(MOVING[rel])
    own = path.parent.name
    known = project_modules()
    wrong = []
    for module, name in imports(path):
        for target in targets(module, name, known):
            package, _, leaf = target.partition(".")
            if package == own:
                continue
            if leaf == "service" or leaf.startswith("_") or name.startswith("_"):
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
    assert {"matrix.stages", "matrix.steps"} <= graph["assessment.service"]
    assert not any(t.startswith("assessment") for t in graph["matrix.steps"] | graph["matrix.stages"])
