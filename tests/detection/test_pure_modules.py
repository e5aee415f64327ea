"""The detection package's pure logic imports nothing from the store or the dashboard."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import detection

PURE = ("sources", "analysis", "matching", "hashing", "hashlist", "takedowns", "index", "media",
        "regions")
FORBIDDEN = ("db", "streamlit", "dashboard", "sqlalchemy")


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    # ast.walk also sees the imports inside functions (the matcher imports detection.regions lazily).
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("module", PURE)
def test_a_pure_detection_module_imports_no_store_and_no_dashboard(module):
    path = Path(detection.__file__).parent / f"{module}.py"
    bad = {n for n in imported(path) if n.split(".")[0] in FORBIDDEN}
    assert bad == set()
