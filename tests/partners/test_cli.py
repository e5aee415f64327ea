"""`dscr partner issue|list|revoke` in-process, and `dscr api` started as the operator starts it."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import cli

ROOT = Path(__file__).resolve().parents[2]
SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture
def env(settings):
    return {"DSCR_DATA_DIR": str(settings.data_dir), "DSCR_DATABASE_URL": settings.database_url,
            "DSCR_KEY_FILE": str(settings.key_file),
            "DSCR_STUDY_KEY_FILE": str(settings.study_key_file)}


@pytest.fixture
def dscr(rt, env, make_account, monkeypatch, capsys):
    admin = make_account("admin")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("DSCR_USER", admin.username)

    def run(*argv: str) -> tuple[int, str, str]:
        code = cli.main([str(a) for a in argv])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@SQLITE_ONLY
def test_the_admin_issues_lists_and_revokes_tokens(dscr):
    code, out, err = dscr("partner", "issue", "hotline-seoul", "--scope", "match.hashes",
                          "--scope", "match.image", "--days", "30")
    secret = out.strip()
    assert code == 0 and secret.startswith("dscr_pt_") and "shown only now" in err
    code, out, _ = dscr("partner", "list")
    (row,) = [json.loads(line) for line in out.splitlines()]
    assert (row["partner"], row["scopes"], row["status"]) == (
        "hotline-seoul", ["match.hashes", "match.image"], "active")
    assert secret not in out
    code, out, _ = dscr("partner", "revoke", str(row["id"]))
    assert code == 0 and "revoked" in out
    assert json.loads(dscr("partner", "list")[1])["status"] == "revoked"
    code, _, err = dscr("partner", "issue", "Not A Name")
    assert code == 2 and "partner's name" in err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(port: int, path: str, body: bytes | None = None, token: str | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        conn.request("POST" if body else "GET", path, body=body, headers=headers)
        r = conn.getresponse()
        return r.status, json.loads(r.read() or b"{}"), dict(r.getheaders())
    finally:
        conn.close()


@SQLITE_ONLY
@pytest.mark.slow
def test_dscr_api_serves_with_two_processes_on_loopback(dscr, env, rt, make_account):
    from detection import service as detection

    with rt.context(make_account("reviewer")) as ctx:
        detection.import_hash_list_bytes(ctx, f"algorithm,hash,case\npdq,{'ab' * 32},SYN-1\n".encode(),
                                         new_cases=True)
    secret = dscr("partner", "issue", "platform-x")[1].strip()
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "api", "--port", str(port), "--workers", "2"], cwd=ROOT,
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline, status = time.monotonic() + 90, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status, health, _ = _get(port, "/v1/health")
                if status == 200 and health["ready"]:
                    break
            except OSError:
                pass
            time.sleep(0.1)  # the server is starting: ask again
        assert status == 200, proc.stdout.read().decode() if proc.poll() is not None else "no answer"
        answers = [_get(port, "/v1/match", json.dumps(
            {"hashes": [{"algorithm": "pdq", "hash": "ab" * 32}]}).encode(), secret)
            for _ in range(6)]
        assert [(s, b["matched"]) for s, b, _ in answers] == [(200, 1)] * 6
        assert all("server" not in {k.lower() for k in h} for _, _, h in answers)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
