"""The Streamlit configuration keeps the protections the privacy rules rely on."""

from __future__ import annotations

import tomllib
from pathlib import Path

CONFIG = Path(__file__).resolve().parents[2] / ".streamlit" / "config.toml"


def test_server_config_hides_errors_keeps_xsrf_and_limits_uploads():
    cfg = tomllib.loads(CONFIG.read_text())
    assert cfg["client"]["showErrorDetails"] == "none"
    assert cfg["client"]["disableDataExport"] is True
    assert cfg["browser"]["gatherUsageStats"] is False
    assert cfg["server"]["enableXsrfProtection"] is True
    assert cfg["server"]["address"] == "127.0.0.1"
    assert 0 < cfg["server"]["maxUploadSize"] <= 500
