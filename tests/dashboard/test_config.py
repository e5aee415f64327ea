"""The Streamlit configuration keeps the protections the privacy rules rely on."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / ".streamlit" / "config.toml"
NGINX = ROOT / "deploy" / "nginx" / "dscr.conf"


def test_server_config_hides_errors_keeps_xsrf_and_limits_uploads():
    cfg = tomllib.loads(CONFIG.read_text())
    assert cfg["client"]["showErrorDetails"] == "none"
    assert cfg["client"]["disableDataExport"] is True
    assert cfg["browser"]["gatherUsageStats"] is False
    assert cfg["server"]["enableXsrfProtection"] is True
    assert cfg["server"]["address"] == "127.0.0.1"
    assert cfg["server"]["maxUploadSize"] == 50  # MiB: a scan's zip; the README's "Uploads"


def test_the_proxy_allows_an_upload_no_larger_than_streamlit_does():
    mib = tomllib.loads(CONFIG.read_text())["server"]["maxUploadSize"]
    conf = NGINX.read_text()
    upload = re.search(r"location \^~ /_stcore/upload_file/ \{(.*?)\}", conf, re.S).group(1)
    assert re.search(r"client_max_body_size (\d+)m;", upload).group(1) == str(mib + 1)  # + framing
    outside = conf.replace(upload, "")
    assert re.findall(r"client_max_body_size (\S+);", outside) == ["64k"]
