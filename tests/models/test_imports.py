"""The models package's import graph: no cycle, and pure logic never reaches the store or a page."""

from __future__ import annotations

import ast
from pathlib import Path

import models

PACKAGE = Path(models.__file__).resolve().parent
# Only the use cases touch the store (DESIGN.md: which way data flows).
STORE_OR_PAGES = ("db", "streamlit", "dashboard", "sqlalchemy")


def imported(path: Path) -> set[str]:
    """Every module name a file imports, at the top or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def graph() -> dict[str, set[str]]:
    modules = {f"models.{p.stem}": p for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    return {name: imported(path) & set(modules) for name, path in modules.items()}


def test_no_module_of_models_imports_one_that_imports_it_back():
    edges = graph()
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        for nxt in sorted(edges[node]):
            if nxt in path:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif len(path) < len(edges):
                visit(nxt, path + [nxt])

    for start in sorted(edges):
        visit(start, [start])
    assert cycles == []


def test_only_the_service_reads_the_store():
    reaching = {
        name: sorted(n for n in imported(PACKAGE / f"{name.split('.')[1]}.py")
                     if n.split(".")[0] in STORE_OR_PAGES)
        for name in graph() if name != "models.service"
    }
    assert reaching == {name: [] for name in reaching}
