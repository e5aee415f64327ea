"""The dscr command on a new database: set-up, accounts, demo data, audit, and its error messages."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from alembic.script import ScriptDirectory

import cli
from db import migrate

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(monkeypatch, tmp_path, backend, request):
    data = tmp_path / "data"
    monkeypatch.setenv("DSCR_DATA_DIR", str(data))
    monkeypatch.delenv("DSCR_KEY_FILE", raising=False)
    monkeypatch.delenv("DSCR_STUDY_KEY_FILE", raising=False)
    monkeypatch.delenv("DSCR_USER", raising=False)
    if backend == "postgresql":
        monkeypatch.setenv("DSCR_DATABASE_URL", request.getfixturevalue("database_url"))
    else:
        monkeypatch.delenv("DSCR_DATABASE_URL", raising=False)
    return data


def run(capsys, monkeypatch, *argv, stdin=""):
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_new_installation_from_the_command_line(env, capsys, monkeypatch):
    code, out, _ = run(capsys, monkeypatch, "db", "upgrade")
    head = ScriptDirectory(str(migrate.MIGRATIONS)).get_current_head()
    assert code == 0 and f"database at revision {head}" in out
    for key in ("field.key", "study-code.key"):
        assert stat.S_IMODE(os.stat(env / key).st_mode) == 0o600
    code, out, _ = run(capsys, monkeypatch, "users", "add", "boss", "--role", "admin",
                       "--password-stdin", stdin="a long password 1\n")
    assert code == 0 and "account boss (admin) created" in out
    # After the first account, every action names the account it acts as.
    code, _, err = run(capsys, monkeypatch, "users", "add", "kim", "--role", "counselor",
                       "--password-stdin", stdin="a long password 2\n")
    assert code == 2 and "--user" in err
    code, out, _ = run(capsys, monkeypatch, "--user", "boss", "users", "add", "kim", "--role",
                       "counselor", "--password-stdin", stdin="a long password 2\n")
    assert code == 0
    code, _, err = run(capsys, monkeypatch, "--user", "kim", "users", "add", "lee", "--role",
                       "admin", "--password-stdin", stdin="a long password 3\n")
    assert code == 2 and "'counselor' may not create" in err
    monkeypatch.setenv("DSCR_USER", "boss")
    code, out, _ = run(capsys, monkeypatch, "users", "disable", "kim")
    assert code == 0
    code, out, _ = run(capsys, monkeypatch, "users", "list")
    assert "kim" in out and "boss" in out and out.splitlines()[2].split()[2] == "no"
    code, out, _ = run(capsys, monkeypatch, "audit", "verify")
    assert code == 0 and "no broken link" in out, err
    code, out, _ = run(capsys, monkeypatch, "audit", "log", "--limit", "200")
    assert '"actor": "boss"' in out and '"action": "denied"' in out
    assert "a long password" not in out


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_demo_data_loads_once_and_says_so_the_second_time(env, capsys, monkeypatch):
    run(capsys, monkeypatch, "db", "upgrade")
    accounts = env / "accounts.txt"
    code, out, _ = run(capsys, monkeypatch, "demo-data", "--participants", "12", "--seed", "4",
                       "--accounts-file", str(accounts))
    assert code == 0 and "12 participants" in out
    assert stat.S_IMODE(os.stat(accounts).st_mode) == 0o600
    assert "counselor1" in accounts.read_text()
    code, _, err = run(capsys, monkeypatch, "demo-data", "--participants", "12")
    assert code == 2 and "not empty" in err
    code, out, _ = run(capsys, monkeypatch, "demo-data", "--if-empty")
    assert code == 0 and "nothing loaded" in out


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_wrong_key_is_refused_before_anything_is_read(env, capsys, monkeypatch, tmp_path):
    run(capsys, monkeypatch, "db", "upgrade")
    from cryptography.fernet import Fernet
    other = tmp_path / "other.key"
    other.write_bytes(Fernet.generate_key())
    other.chmod(0o600)
    monkeypatch.setenv("DSCR_KEY_FILE", str(other))
    code, _, err = run(capsys, monkeypatch, "users", "add", "x1", "--role", "admin",
                       "--password-stdin", stdin="a long password 1\n")
    assert code == 2 and "not the key this database was encrypted with" in err


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("url, expected", [
    ("mysql://someone@127.0.0.1/db", "dscr runs on sqlite or postgresql"),
    ("not a url", "is not a database URL"),
    ("postgresql+psycopg://nobody@127.0.0.1:1/none", "Cannot connect to the database"),
])
def test_a_bad_database_url_gets_one_clear_line(env, tmp_path, url, expected):
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "db", "upgrade"], cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, "DSCR_DATABASE_URL": url, "DSCR_DATA_DIR": str(env)}, timeout=120)
    assert proc.returncode == 2
    assert expected in proc.stderr and "Traceback" not in proc.stderr
