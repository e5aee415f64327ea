"""The real dashboard as a child process (`streamlit run dashboard/serve.py` on 127.0.0.1), and the
headless Chromium that drives it: shared by the end-to-end tests and `bench.browser`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.pg import free_port

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("DSCR_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


def start(env: dict[str, str], log_path: Path, *, timeout: float = 120) -> tuple[subprocess.Popen, str]:
    """(process, base URL) of a dashboard with this environment, once its health check answers.
    Its output goes to log_path, which the error quotes if it does not start."""
    port = free_port()
    with open(log_path, "w") as log:  # the child keeps its own handle
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "dashboard/serve.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true",
             "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(base + "/_stcore/health", timeout=2) as r:
                if r.read() == b"ok":
                    return proc, base
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("the dashboard did not start:\n" + log_path.read_text())
        time.sleep(0.3)  # polling the health check, not waiting a fixed time


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
