"""The admin's account and caseload tasks from the command line: `dscr users role | reset |
unlock` and `dscr participants transfer`, each through its use case and its audit entry."""

from __future__ import annotations

import io
import sys

import pytest
from sqlalchemy import select

import cli
from accounts import service as accounts
from casework import service as casework
from db.schema import Account, AuditLog

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def run(capsys, monkeypatch, *argv, stdin=""):
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def actions(rt) -> list[str]:
    with rt.sessions() as s:
        return list(s.scalars(select(AuditLog.action).order_by(AuditLog.id)))


def test_role_reset_and_unlock_go_through_their_use_cases(demo_cli, capsys, monkeypatch):
    code, out, err = run(capsys, monkeypatch, "--user", "admin", "users", "role", "analyst1",
                         "committee")
    assert code == 0, err
    assert "analyst1 is now committee" in out
    with demo_cli.sessions() as s:
        assert s.scalar(select(Account.role).where(Account.username == "analyst1")) == "committee"
    code, out, err = run(capsys, monkeypatch, "--user", "admin", "users", "reset", "counselor2")
    assert code == 0, err
    one_time = out.rsplit(": ", 1)[-1].strip()
    with pytest.raises(accounts.PasswordChangeRequired):  # it opens only the change of password
        accounts.authenticate(demo_cli, "counselor2", one_time)
    with demo_cli.sessions() as s:
        assert s.scalar(select(Account.must_change_password).where(Account.username == "counselor2"))
    code, out, _ = run(capsys, monkeypatch, "--user", "admin", "users", "unlock", "counselor2")
    assert code == 0 and "was not locked" in out
    # Only an admin: a counselor is refused, with the reason and nothing changed.
    code, _, err = run(capsys, monkeypatch, "--user", "counselor1", "users", "role", "counselor2",
                       "admin")
    assert code != 0 and err
    with demo_cli.sessions() as s:
        assert s.scalar(select(Account.role).where(Account.username == "counselor2")) == "counselor"
    assert {"role_change", "password_reset"} <= set(actions(demo_cli))


def test_a_transfer_needs_a_reason_and_moves_the_participant(demo_cli, capsys, monkeypatch):
    with demo_cli.context_for("admin") as ctx:
        owners = casework.current_assignments(ctx)
    code_, counselor, _ = next(row for row in owners if row[1] == "counselor1")
    code, _, err = run(capsys, monkeypatch, "--user", "admin", "participants", "transfer", code_,
                       "--to", "counselor2", "--reason-stdin", stdin="짧음")
    assert code != 0 and "10" in err  # the reason is too short; nothing moved
    code, _, err = run(capsys, monkeypatch, "--user", "admin", "participants", "transfer", code_,
                       "--to", "counselor2", "--on", "2026-13-01", "--reason-stdin",
                       stdin="담당 상담사 휴직으로 인한 이관")
    assert code != 0 and "2026-13-01" in err
    code, out, err = run(capsys, monkeypatch, "--user", "admin", "participants", "transfer", code_,
                         "--to", "counselor2", "--reason-stdin", stdin="담당 상담사 휴직으로 인한 이관")
    assert code == 0, err
    assert f"{code_} moves to counselor2" in out
    with demo_cli.context_for("admin") as ctx:
        now = dict((c, who) for c, who, _ in casework.current_assignments(ctx))
    assert now[code_] == "counselor2"
