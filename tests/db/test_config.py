"""Configuration: every DSCR_ variable is read in db/config.py, has a safe default, and is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from db.config import (
    DEFAULT_SUPPRESSION_THRESHOLD,
    VARIABLES,
    Settings,
    load_settings,
)
from errors import ConfigurationError

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_are_the_embedded_demo_and_a_threshold_of_ten(tmp_path):
    s = load_settings({"DSCR_DATA_DIR": str(tmp_path)})
    assert s.database_url == f"sqlite:///{tmp_path.resolve() / 'dscr.sqlite3'}"
    assert s.key_file == tmp_path.resolve() / "field.key"
    assert s.suppression_threshold == DEFAULT_SUPPRESSION_THRESHOLD == 10
    assert s.retention_years == 5
    assert s.scan_folders == (tmp_path.resolve() / "scan-inbox",)


def test_each_variable_is_read():
    s = load_settings({"DSCR_SUPPRESSION_THRESHOLD": "12", "DSCR_RETENTION_YEARS": "7",
                       "DSCR_PG_BINDIR": "/opt/pg/bin", "DSCR_USER": "admin"})
    assert (s.suppression_threshold, s.retention_years, s.pg_bindir, s.user) == (
        12, 7, Path("/opt/pg/bin"), "admin")


@pytest.mark.parametrize("raw", ["4", "0", "-10", "ten", "9.5"])
def test_a_suppression_threshold_under_five_or_not_whole_is_refused(raw):
    with pytest.raises(ConfigurationError, match="DSCR_SUPPRESSION_THRESHOLD"):
        load_settings({"DSCR_SUPPRESSION_THRESHOLD": raw})


def test_settings_made_in_code_obey_the_same_floor(tmp_path):
    with pytest.raises(ConfigurationError, match="at least 5"):
        Settings(tmp_path, "sqlite://", tmp_path / "k", tmp_path / "s", None, suppression_threshold=3)


def test_no_module_but_the_configuration_reads_a_dscr_variable():
    readers = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith((".venv/", "tests/", "bench/")) or rel == "db/config.py":
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r"environ(\.get)?\s*[\[(]\s*['\"]DSCR_|getenv\(\s*['\"]DSCR_", text):
            readers.append(rel)
    assert readers == []


def test_the_readme_table_lists_every_variable_and_no_other():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(DSCR_[A-Z_]+)`", section, flags=re.M))
    assert documented == set(VARIABLES)


def test_the_matching_apis_rate_burst_and_refresh_are_read_and_bounded(tmp_path):
    s = load_settings({"DSCR_DATA_DIR": str(tmp_path)})
    assert (s.api_rate, s.api_burst, s.api_refresh_seconds) == (120, 20, 2)
    s = load_settings({"DSCR_DATA_DIR": str(tmp_path), "DSCR_API_RATE": "30",
                       "DSCR_API_BURST": "5", "DSCR_API_REFRESH_SECONDS": "10"})
    assert (s.api_rate, s.api_burst, s.api_refresh_seconds) == (30, 5, 10)
    for name, raw in (("DSCR_API_RATE", "0"), ("DSCR_API_BURST", "many"),
                      ("DSCR_API_REFRESH_SECONDS", "7200")):
        with pytest.raises(ConfigurationError, match=name):
            load_settings({"DSCR_DATA_DIR": str(tmp_path), name: raw})
