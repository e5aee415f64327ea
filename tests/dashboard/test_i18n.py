"""Every label exists in Korean and English, and every page's keys are defined."""

from __future__ import annotations

import re
from pathlib import Path

from dashboard.i18n import TEXT

DASH = Path(__file__).resolve().parents[2] / "dashboard"


def test_every_label_has_korean_and_english():
    for key, entry in TEXT.items():
        assert set(entry) == {"ko", "en"}, key
        assert entry["ko"].strip() and entry["en"].strip(), key
        # The Korean side is Korean (or a symbol-only label such as "RCI").
        assert re.search(r"[가-힣]", entry["ko"]) or not re.search(r"[A-Za-z]{4,}", entry["ko"]), key


def test_every_key_a_page_uses_is_defined():
    used = set()
    for path in DASH.rglob("*.py"):
        # Whole keys only: t("mod_" + value) builds a key from a coded value, checked below.
        used |= set(re.findall(r"""\bt\(\s*["']([a-z0-9_]+)["']\s*[,)]""", path.read_text()))
    assert not (used - set(TEXT)), sorted(used - set(TEXT))


def test_every_coded_value_has_a_label():
    from db.schema import ATTENDANCE, MODALITIES, PARTICIPANT_STATUSES, ROLES
    from vocab import AUDIENCES, EDUCATION_FORMATS, INSTITUTION_KINDS, SEOUL_DISTRICTS

    for prefix, values in (("mod_", MODALITIES), ("att_", ATTENDANCE), ("role_", ROLES),
                           ("status_", PARTICIPANT_STATUSES), ("pv_aud_", AUDIENCES),
                           ("pv_fmt_", EDUCATION_FORMATS), ("pv_inst_", INSTITUTION_KINDS),
                           ("pv_dist_", SEOUL_DISTRICTS)):
        for value in values:
            assert prefix + value in TEXT, prefix + value


def test_no_catalogue_defines_a_key_twice():
    """A key written twice in one dict literal silently keeps the last text (the first is lost)."""
    import ast

    twice = []
    for path in sorted((Path(__file__).resolve().parents[2] / "dashboard").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Dict):
                keys = [k.value for k in node.keys if isinstance(k, ast.Constant)]
                twice += [f"{path.name}: {k}" for k in {k for k in keys if keys.count(k) > 1}]
    assert twice == []
