"""Accounts and log-in: argon2id, lock-out, one message for every failure, server-side sessions."""

from __future__ import annotations

import datetime as dt

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update

from db import passwords
from accounts import service as accounts
from db.schema import Account, AuditLog, LoginSession, utcnow
from errors import Conflict, PermissionDenied, ValidationError

T0 = dt.datetime(2026, 11, 2, 9, 0)


def test_passwords_are_argon2id_and_checked(rt, make_account):
    make_account("counselor", "lee", "right password 1")
    with rt.sessions() as s:
        stored = s.scalar(select(Account.password_hash).where(Account.username == "lee"))
    assert stored.startswith("$argon2id$") and "right password" not in stored
    assert accounts.authenticate(rt, "lee", "right password 1", now=T0).username == "lee"


def test_default_parameters_are_argon2_cffi_defaults():
    default = PasswordHasher()
    with pytest.MonkeyPatch.context():
        old = passwords.use_hasher(default)
        try:
            h = passwords.hash_password("some password 1")
        finally:
            passwords.use_hasher(old)
    assert f"m={default.memory_cost},t={default.time_cost},p={default.parallelism}" in h


def test_login_rehashes_when_the_parameters_change(rt, make_account):
    make_account("analyst", "park", "right password 1")
    old = passwords.use_hasher(PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1))
    try:
        accounts.authenticate(rt, "park", "right password 1", now=T0)
        with rt.sessions() as s:
            stored = s.scalar(select(Account.password_hash).where(Account.username == "park"))
        assert "m=2048,t=2,p=1" in stored
    finally:
        passwords.use_hasher(old)


def test_failed_logins_give_one_message_and_lock_the_account(rt, make_account):
    make_account("counselor", "choi", "right password 1")
    messages = set()
    for _ in range(accounts.MAX_FAILED_LOGINS):
        with pytest.raises(accounts.LoginFailed) as err:
            accounts.authenticate(rt, "choi", "wrong password", now=T0)
        messages.add(str(err.value))
    with pytest.raises(accounts.LoginFailed) as unknown:
        accounts.authenticate(rt, "nobody", "whatever", now=T0)
    messages.add(str(unknown.value))
    # Locked: even the right password is refused, with the same message, until the lock ends.
    with pytest.raises(accounts.LoginFailed) as locked:
        accounts.authenticate(rt, "choi", "right password 1", now=T0 + dt.timedelta(minutes=1))
    messages.add(str(locked.value))
    assert messages == {accounts.LOGIN_FAILED_MESSAGE}
    later = T0 + accounts.LOCKOUT + dt.timedelta(seconds=1)
    assert accounts.authenticate(rt, "choi", "right password 1", now=later).username == "choi"


def test_sessions_idle_out_expire_and_end_everywhere(rt, make_account):
    actor = make_account("committee", "han", "right password 1")
    T0 = utcnow() + dt.timedelta(seconds=1)  # sessions start after the password was set
    tok = accounts.start_login_session(rt, actor, now=T0)
    assert accounts.resume_login_session(rt, tok, now=T0 + dt.timedelta(minutes=19)) == actor
    assert accounts.resume_login_session(rt, tok, now=T0 + dt.timedelta(minutes=40)) is None
    a = accounts.start_login_session(rt, actor, now=T0)
    b = accounts.start_login_session(rt, actor, now=T0)
    accounts.end_login_session(rt, a, everywhere=True)
    assert accounts.resume_login_session(rt, b, now=T0 + dt.timedelta(minutes=1)) is None
    c = accounts.start_login_session(rt, actor, now=T0)
    step = T0
    while step < T0 + accounts.SESSION_LIFETIME - dt.timedelta(minutes=15):
        step += dt.timedelta(minutes=15)
        assert accounts.resume_login_session(rt, c, now=step) == actor
    assert accounts.resume_login_session(rt, c, now=T0 + accounts.SESSION_LIFETIME) is None


def last_seen(rt, token: str) -> dt.datetime:
    with rt.sessions() as s:
        return s.scalar(select(LoginSession.last_seen_at)
                        .where(LoginSession.token_hash == accounts._token_hash(token)))


def test_a_page_view_only_reads_its_session_and_waits_for_no_writer(rt, make_account):
    import threading

    actor = make_account("counselor", "seo", "right password 1")
    start = utcnow() + dt.timedelta(seconds=1)
    tok = accounts.start_login_session(rt, actor, now=start)
    # Views within LAST_SEEN_EVERY of the last recorded one write nothing ...
    assert accounts.resume_login_session(rt, tok, now=start + dt.timedelta(seconds=30)) == actor
    assert last_seen(rt, tok) == start
    # ... a later one records itself, and the idle time-out counts from there.
    later = start + accounts.LAST_SEEN_EVERY
    assert accounts.resume_login_session(rt, tok, now=later) == actor
    assert last_seen(rt, tok) == later
    assert accounts.resume_login_session(rt, tok, now=later + accounts.IDLE_TIMEOUT) == actor
    # While another user's transaction holds the write lock (SQLite) or this very row
    # (PostgreSQL), the next view still answers at once: it does not wait for the writer.
    answers: list = []
    with rt.engine.connect() as other:
        other.execute(update(LoginSession).where(LoginSession.token_hash == accounts._token_hash(tok))
                      .values(created_at=LoginSession.created_at))
        view = threading.Thread(target=lambda: answers.append(accounts.resume_login_session(
            rt, tok, now=later + accounts.IDLE_TIMEOUT + dt.timedelta(seconds=20))), daemon=True)
        view.start()
        view.join(timeout=10)
        answered_while_held = list(answers)
        other.rollback()
    view.join(timeout=40)
    assert answered_while_held == [actor]


def test_disabling_or_changing_the_password_revokes_sessions(rt, make_account):
    admin = make_account("admin", "root1")
    actor = make_account("reviewer", "yoon", "right password 1")
    tok = accounts.start_login_session(rt, actor)
    with rt.context(actor) as ctx:
        accounts.set_password(ctx, "yoon", "a new password 2", current_password="right password 1")
    assert accounts.resume_login_session(rt, tok) is None
    tok = accounts.start_login_session(rt, actor)
    with rt.context(admin) as ctx:
        accounts.disable_account(ctx, "yoon")
    assert accounts.resume_login_session(rt, tok) is None
    with pytest.raises(accounts.LoginFailed):
        accounts.authenticate(rt, "yoon", "a new password 2")


def test_account_rules(rt, make_account):
    admin = make_account("admin", "root2")
    counselor = make_account("counselor", "kang")
    with rt.context(admin) as ctx:
        with pytest.raises(ValidationError, match="at least 12"):
            accounts.add_account(ctx, username="new1", role="analyst", password="short")
        with pytest.raises(ValidationError, match="Role 'boss'"):
            accounts.add_account(ctx, username="new1", role="boss", password="long enough 12")
        with pytest.raises(Conflict, match="exists already"):
            accounts.add_account(ctx, username="kang", role="analyst", password="long enough 12")
        with pytest.raises(Conflict, match="acting as"):
            accounts.disable_account(ctx, "root2")
        names = [a.username for a in accounts.list_accounts(ctx)]
    assert names == sorted(names) and {"root2", "kang"} <= set(names)
    with rt.context(counselor) as ctx, pytest.raises(PermissionDenied, match="'counselor'"):
        accounts.add_account(ctx, username="new2", role="admin", password="long enough 12")


@pytest.mark.parametrize("password, code, why", [
    ("short pw 11", "accounts.password_short", "this one has 11"),
    ("password1234", "accounts.password_weak", "very common password"),
    ("qwertyuiopasdf", "accounts.password_weak", "commonly used password"),
    ("abcdefghijklmn", "accounts.password_weak", "sequences"),
    ("jiwoo.kim2026", "accounts.password_weak", "username or name"),
    ("Kim Ji-woo 2026", "accounts.password_weak", "username or name"),
    (" padded password ", "accounts.password_spaces", "start or end with spaces"),
])
def test_short_common_or_guessable_passwords_are_refused(rt, make_account, password, code, why):
    admin = make_account("admin", "root3")
    with rt.context(admin) as ctx, pytest.raises(ValidationError) as err:
        accounts.add_account(ctx, username="jiwoo.kim", display_name="Kim Ji-woo", role="analyst",
                             password=password)
    assert err.value.code == code and why in str(err.value)
    with rt.sessions() as s:
        assert s.scalar(select(Account.id).where(Account.username == "jiwoo.kim")) is None


def test_changing_ones_own_password_needs_the_current_one_and_an_admin_reset_does_not(
        rt, make_account):
    admin = make_account("admin", "root4")
    actor = make_account("counselor", "seo", "right password 1")
    with rt.context(actor) as ctx:
        with pytest.raises(ValidationError) as err:
            accounts.set_password(ctx, "seo", "a new password 2")
        assert err.value.code == "accounts.current_password_needed"
        with pytest.raises(PermissionDenied) as err:
            accounts.set_password(ctx, "seo", "a new password 2", current_password="not it at all")
        assert err.value.code == "accounts.current_password_wrong"
        with pytest.raises(ValidationError) as err:
            accounts.set_password(ctx, "seo", "seo seo seo seo",
                                  current_password="right password 1")
        assert err.value.code == "accounts.password_weak"
    with rt.sessions() as s:
        acc = s.scalar(select(Account).where(Account.username == "seo"))
        assert acc.failed_logins == 1  # the wrong current password counts as a failed log-in
    assert accounts.authenticate(rt, "seo", "right password 1").username == "seo"
    with rt.context(actor) as ctx:
        accounts.set_password(ctx, "seo", "a new password 2", current_password="right password 1")
    assert accounts.authenticate(rt, "seo", "a new password 2").username == "seo"
    # An admin resets another account's password without knowing it; a counselor may not.
    with rt.context(admin) as ctx:
        accounts.set_password(ctx, "seo", "an admin chose this 3")
    assert accounts.authenticate(rt, "seo", "an admin chose this 3").username == "seo"
    with rt.context(actor) as ctx, pytest.raises(PermissionDenied):
        accounts.set_password(ctx, "root4", "a new password 4", current_password="x")


def test_what_was_typed_for_an_unknown_account_is_not_logged_but_a_real_account_still_locks(
        rt, make_account):
    make_account("counselor", "seo", "right password 1")
    typed = "피해자박서연 010-2468-1357"  # invented: typed into the username box by mistake
    with pytest.raises(accounts.LoginFailed):
        accounts.authenticate(rt, typed, "whatever", now=T0)
    for _ in range(accounts.MAX_FAILED_LOGINS):
        with pytest.raises(accounts.LoginFailed):
            accounts.authenticate(rt, "seo", "wrong password", now=T0)
    with rt.sessions() as s:
        rows = s.scalars(select(AuditLog).order_by(AuditLog.id)).all()
        locked_until = s.scalar(select(Account.locked_until).where(Account.username == "seo"))
    logged = " ".join(f"{r.actor} {r.detail or ''} {r.row_id or ''}" for r in rows)
    assert "박서연" not in logged and "2468" not in logged
    unknown = [r for r in rows if r.action == "login_failed" and r.account_id is None]
    assert [(r.actor, r.detail) for r in unknown] == [("unknown account", "unknown account")]
    # The lock-out of a real account is unchanged, and its attempts name it.
    assert locked_until is not None and locked_until > T0
    assert any(r.action == "lockout" and r.actor == "seo" for r in rows)
    assert sum(r.action == "login_failed" and r.actor == "seo" for r in rows) == accounts.MAX_FAILED_LOGINS
