"""The dscr command on a new database: set-up, accounts, demo data, audit, and its error messages."""

from __future__ import annotations

import io
import os
import sqlite3
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
    for key in ("field.key", "study-code.key", "audit-chain.key"):
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
def test_users_passwd_asks_for_ones_own_current_password_not_for_an_admin_reset(
        env, capsys, monkeypatch):
    run(capsys, monkeypatch, "db", "upgrade")
    run(capsys, monkeypatch, "users", "add", "boss", "--role", "admin", "--password-stdin",
        stdin="a long password 1\n")
    run(capsys, monkeypatch, "--user", "boss", "users", "add", "kim", "--role", "counselor",
        "--password-stdin", stdin="a long password 2\n")
    # The admin resets kim's password: one line, the new password.
    code, out, err = run(capsys, monkeypatch, "--user", "boss", "users", "passwd", "kim",
                         "--password-stdin", stdin="kim was reset 3\n")
    assert code == 0 and "password of kim changed" in out, err
    # kim changes her own: the current password first, then the new one.
    code, _, err = run(capsys, monkeypatch, "--user", "kim", "users", "passwd", "kim",
                       "--password-stdin", stdin="not the password\nkim chose this 4\n")
    assert code == 2 and "current password is not right" in err
    code, _, err = run(capsys, monkeypatch, "--user", "kim", "users", "passwd", "kim",
                       "--password-stdin", stdin="kim was reset 3\npassword1234\n")
    assert code == 2 and "too easy to guess" in err
    code, out, err = run(capsys, monkeypatch, "--user", "kim", "users", "passwd", "kim",
                         "--password-stdin", stdin="kim was reset 3\nkim chose this 4\n")
    assert code == 0 and "password of kim changed" in out, err
    from accounts import service as accounts
    from db.context import Runtime
    rt = Runtime()
    try:
        assert accounts.authenticate(rt, "kim", "kim chose this 4").username == "kim"
    finally:
        rt.dispose()


@pytest.fixture
def umask_022():
    old = os.umask(0o022)  # the usual default, under which a plain open() makes 0644 files
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_database_its_side_files_and_the_data_folder_are_private(env, capsys, monkeypatch,
                                                                       umask_022):
    env.mkdir(mode=0o755)
    code, _, _ = run(capsys, monkeypatch, "db", "upgrade")
    assert code == 0
    code, _, _ = run(capsys, monkeypatch, "users", "add", "boss", "--role", "admin",
                     "--password-stdin", stdin="a long password 1\n")
    assert code == 0
    db = env / "dscr.sqlite3"
    # A connection held open keeps the -wal and -shm files beside the database.
    held = sqlite3.connect(db)
    try:
        held.execute("SELECT count(*) FROM accounts").fetchone()
        wal, shm = Path(f"{db}-wal"), Path(f"{db}-shm")
        assert wal.exists() and shm.exists()
        assert {p.name: _mode(p) for p in (db, wal, shm)} == {
            db.name: 0o600, wal.name: 0o600, shm.name: 0o600}
        assert _mode(env) == 0o700
        # Files left readable by an older version are tightened by the next command.
        for p in (env, db, wal):
            p.chmod(0o755 if p == env else 0o644)
        code, _, _ = run(capsys, monkeypatch, "--user", "boss", "users", "list")
        assert code == 0
        assert (_mode(env), _mode(db), _mode(wal)) == (0o700, 0o600, 0o600)
    finally:
        held.close()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_demo_data_loads_once_and_says_so_the_second_time(env, capsys, monkeypatch):
    run(capsys, monkeypatch, "db", "upgrade")
    accounts = env / "accounts.txt"
    accounts.write_text("left by hand\n")
    accounts.chmod(0o644)
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
    monkeypatch.delenv("DSCR_KEY_FILE")
    from db.pseudonym import create_study_key
    create_study_key(tmp_path / "other-study.key")
    monkeypatch.setenv("DSCR_STUDY_KEY_FILE", str(tmp_path / "other-study.key"))
    code, _, err = run(capsys, monkeypatch, "users", "add", "x1", "--role", "admin",
                       "--password-stdin", stdin="a long password 1\n")
    assert code == 2 and "DSCR_STUDY_KEY_FILE" in err and "second study code" in err


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


def test_a_downgrade_is_an_admins_confirmed_act_taken_after_a_backup(env, capsys, monkeypatch):
    assert run(capsys, monkeypatch, "db", "upgrade")[0] == 0
    run(capsys, monkeypatch, "users", "add", "boss", "--role", "admin", "--password-stdin",
        stdin="a long password 1\n")
    run(capsys, monkeypatch, "--user", "boss", "users", "add", "kim", "--role", "counselor",
        "--password-stdin", stdin="a long password 2\n")
    code, _, err = run(capsys, monkeypatch, "db", "downgrade", "base", "--yes")
    assert code == 2 and "--user" in err
    code, _, err = run(capsys, monkeypatch, "--user", "kim", "db", "downgrade", "base", "--yes")
    assert code == 2 and "may not downgrade" in err
    code, _, err = run(capsys, monkeypatch, "--user", "boss", "db", "downgrade", "base")
    assert code == 2 and "--yes" in err
    code, _, err = run(capsys, monkeypatch, "--user", "boss", "db", "downgrade", "base", "--yes")
    assert code == 2 and "holds data" in err
    code, out, _ = run(capsys, monkeypatch, "--user", "boss", "db", "current")
    assert out.strip() != "(empty database)"  # nothing was dropped by the refusals
    backups = env / "backups"
    assert not backups.exists() or not list(backups.iterdir())
    code, out, err = run(capsys, monkeypatch, "--user", "boss", "db", "downgrade", "base",
                         "--yes", "--force")
    assert code == 0, err
    assert "backup taken first" in out and "database at revision None" in out
    (taken,) = list(backups.iterdir())
    assert taken.name.startswith("before-downgrade-") and stat.S_IMODE(taken.stat().st_mode) == 0o600


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_db_upgrade_encrypts_the_break_glass_reasons_a_migration_left_in_plain_text(
        env, capsys, monkeypatch):
    from db.crypto import Keyring

    assert run(capsys, monkeypatch, "db", "upgrade", "0003")[0] == 0
    reason = "담당 상담사 부재 중 위기 대응 필요"
    db = sqlite3.connect(env / "dscr.sqlite3")
    try:
        db.executescript(
            "INSERT INTO accounts (id, username, display_name, role, password_hash, active,"
            " failed_logins, password_changed_at, created_at, version) VALUES"
            " (1, 'c1', '', 'counselor', 'x', 1, 0, '2026-01-01', '2026-01-01', 1);"
            "INSERT INTO programmes (id, name, description) VALUES (1, 'p', '');"
            "INSERT INTO cohorts (id, programme_id, name, start_date) VALUES (1, 1, 'c', '2026-01-01');"
            "INSERT INTO participants (id, study_code, cohort_id, sex, age_at_referral,"
            " prior_offences, enrolled_on, status, created_at, version) VALUES"
            " (1, 'P-0000000001', 1, 'male', 15, 0, '2026-01-02', 'active', '2026-01-02', 1);")
        db.execute("INSERT INTO access_grants (counselor_id, participant_id, reason, granted_at,"
                   " expires_at) VALUES (1, 1, ?, '2026-03-01 09:00:00', '2026-03-01 17:00:00')",
                   (reason,))
        db.commit()
    finally:
        db.close()
    code, out, _ = run(capsys, monkeypatch, "db", "upgrade")
    assert code == 0 and "1 break-glass reason(s) moved into reason_texts, encrypted" in out
    db = sqlite3.connect(env / "dscr.sqlite3")
    try:
        plain, reason_id = db.execute("SELECT reason, reason_id FROM access_grants").fetchone()
        kind, token = db.execute("SELECT kind, text_enc FROM reason_texts WHERE id = ?",
                                 (reason_id,)).fetchone()
    finally:
        db.close()
    assert plain is None and kind == "break_glass" and reason not in token
    assert Keyring.from_file(env / "field.key").decrypt(token) == reason
    assert "moved" not in run(capsys, monkeypatch, "db", "upgrade")[1]  # once only
