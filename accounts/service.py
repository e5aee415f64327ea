"""Accounts and their log-in sessions, the audit log's reads and the admin's monthly access review."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import func, select, update

import vocab
from db import access, audit, reasons
from db.context import SYSTEM, Actor, Context, Runtime, utc_start_of
from db.engine import begin_writing
from db.passwords import hash_password, needs_rehash, password_problem, verify_password
from db.schema import (
    ROLES,
    Account,
    AuditLog,
    LoginSession,
    utcnow,
)
from errors import Conflict, NotFound, PermissionDenied, StoreUnavailable, ValidationError

MAX_FAILED_LOGINS = 5
LOCKOUT = dt.timedelta(minutes=15)
IDLE_TIMEOUT = dt.timedelta(minutes=20)
SESSION_LIFETIME = dt.timedelta(hours=10)



# --- accounts -------------------------------------------------------------------------------

@dataclass(frozen=True)
class AccountView:
    id: int
    username: str
    display_name: str
    role: str
    active: bool
    locked: bool
    created_at: dt.datetime


def _view(a: Account, now: dt.datetime) -> AccountView:
    locked = a.locked_until is not None and a.locked_until > now
    return AccountView(a.id, a.username, a.display_name, a.role, a.active, locked, a.created_at)


def count_accounts(runtime: Runtime) -> int:
    with runtime.sessions() as s:
        return s.scalar(select(func.count()).select_from(Account)) or 0


def add_account(ctx: Context, *, username: str, role: str, password: str,
                display_name: str = "", supervisor: str | None = None) -> int:
    """Create an account. With no account in the database yet, the first one is made by the system.

    `supervisor` puts a new counselor in that supervisor's team (see `set_supervisor`).
    """
    if ctx.actor is not SYSTEM:
        access.require(ctx, "account.manage")
    username = username.strip()
    if not username or len(username) > 64 or not username.replace("_", "").replace(".", "").replace("-", "").isalnum():
        raise ValidationError(
            "accounts.username_not_allowed_use",
            "Username {username!r} is not allowed: use 1-64 letters, digits, '.', '-' or '_'.",
            username=username
        )
    if role not in ROLES:
        raise ValidationError("accounts.role_does_not_exist",
                              "Role {role!r} does not exist; choose one of {roles}.",
                              role=role, roles=', '.join(ROLES))
    problem = password_problem(password, (username, display_name))
    if problem:
        raise ValidationError.of(problem)
    with ctx.transaction() as s:
        if s.scalar(select(Account.id).where(Account.username == username)) is not None:
            raise Conflict("accounts.account_named_exists_already",
                           "An account named {username!r} exists already.",
                           username=username)
        acc = Account(username=username, role=role, display_name=display_name or username,
                      password_hash=hash_password(password))
        if supervisor is not None:
            acc.supervisor_id = _team_lead(ctx, acc, supervisor)
        s.add(acc)
        s.flush()
        return acc.id


def _team_lead(ctx: Context, member: Account, supervisor: str) -> int:
    """The id of the supervisor who is to lead a counselor; only counselors are in a team."""
    if member.role != "counselor":
        raise ValidationError("accounts.team_member_role",
                              "Only a counselor is in a supervisor's team; {username} is a {role}.",
                              username=member.username, role=member.role)
    lead = ctx.session.scalars(select(Account).where(Account.username == supervisor)).one_or_none()
    if lead is None or lead.role != "supervisor" or not lead.active:
        raise ValidationError("accounts.not_a_supervisor",
                              "{supervisor} is not an active supervisor account; a counselor's "
                              "team is led by one.", supervisor=supervisor)
    return lead.id


def set_supervisor(ctx: Context, username: str, supervisor: str | None) -> None:
    """Put a counselor in a supervisor's team (None: in no team). The supervisor then reads the
    counselor's caseload and reviews, countersigns and unlocks its steps."""
    access.require(ctx, "account.manage")
    with ctx.transaction():
        acc = _account_by_name(ctx, username)
        acc.supervisor_id = None if supervisor is None else _team_lead(ctx, acc, supervisor)


def list_accounts(ctx: Context) -> list[AccountView]:
    access.require(ctx, "account.list")
    now = utcnow()
    return [_view(a, now) for a in ctx.session.scalars(select(Account).order_by(Account.username))]


def _account_by_name(ctx: Context, username: str) -> Account:
    acc = ctx.session.scalars(select(Account).where(Account.username == username)).one_or_none()
    if acc is None:
        raise NotFound("accounts.no_account_named",
                       "No account named {username!r}.",
                       username=username)
    return acc


def _end_sessions(ctx: Context, account_id: int, reason: str) -> None:
    ctx.session.execute(
        update(LoginSession)
        .where(LoginSession.account_id == account_id, LoginSession.ended_at.is_(None))
        .values(ended_at=utcnow(), ended_reason=reason)
    )
    audit.record(ctx.session, "sessions_ended", table_name="login_sessions",
                 row_id=account_id, detail=reason)


def disable_account(ctx: Context, username: str) -> None:
    """Disable an account and end its open dashboard sessions everywhere."""
    access.require(ctx, "account.manage")
    with ctx.transaction():
        acc = _account_by_name(ctx, username)
        if acc.id == ctx.actor.id:
            raise Conflict("accounts.you_disable_account_you",
                           "You cannot disable the account you are acting as.")
        acc.active = False
        if acc.role == "supervisor":
            # A disabled lead leads nobody: the team waits for a new one, named by the admin.
            for member in ctx.session.scalars(select(Account).where(Account.supervisor_id == acc.id)):
                member.supervisor_id = None
        _end_sessions(ctx, acc.id, "account disabled")


def change_role(ctx: Context, username: str, role: str) -> None:
    """Give an account another role; its open sessions end (they were opened with the old one).

    A supervisor who becomes something else leads nobody any more: the team waits for a new lead.
    A counselor who is no longer one keeps their caseload assignments on record; transfer the
    participants first (casework.transfer_participant), or they are left without a counselor.
    """
    access.require(ctx, "account.manage")
    if role not in ROLES:
        raise ValidationError("accounts.role_does_not_exist",
                              "Role {role!r} does not exist; choose one of {roles}.",
                              role=role, roles=', '.join(ROLES))
    with ctx.transaction() as s:
        acc = _account_by_name(ctx, username)
        if acc.id == ctx.actor.id:
            raise Conflict("accounts.own_role",
                           "You cannot change the role of the account you are acting as.")
        if acc.role == role:
            return
        old = acc.role
        if old == "supervisor":
            for member in s.scalars(select(Account).where(Account.supervisor_id == acc.id)):
                member.supervisor_id = None
        if role != "counselor":
            acc.supervisor_id = None
        acc.role = role
        audit.record(s, "role_change", table_name="accounts", row_id=acc.id,
                     detail=f"{old} -> {role}")
        _end_sessions(ctx, acc.id, "role changed")


def reset_password(ctx: Context, username: str) -> str:
    """An admin's reset: a one-time password, returned once to hand to its owner, that works for
    one log-in only, at which its owner sets a password of their own. Open sessions end; a lock
    from failed log-ins is lifted. The password is never stored or logged in the clear."""
    access.require(ctx, "account.manage")
    with ctx.transaction() as s:
        acc = _account_by_name(ctx, username)
        if acc.id == ctx.actor.id:
            raise Conflict("accounts.own_reset",
                           "Change your own password with your current one, not by a reset.")
        one_time = "-".join(secrets.token_hex(3) for _ in range(4))  # 48 random bits, readable
        acc.password_hash = hash_password(one_time)
        acc.password_changed_at = utcnow()
        acc.must_change_password = True
        acc.failed_logins = 0
        acc.locked_until = None
        audit.record(s, "password_reset", table_name="accounts", row_id=acc.id)
        _end_sessions(ctx, acc.id, "password reset")
    return one_time


def unlock_account(ctx: Context, username: str) -> bool:
    """Lift a lock-out left by failed log-ins before it runs out; False when it was not locked."""
    access.require(ctx, "account.manage")
    with ctx.transaction() as s:
        acc = _account_by_name(ctx, username)
        if acc.locked_until is None or acc.locked_until <= utcnow():
            return False
        acc.locked_until = None
        acc.failed_logins = 0
        audit.record(s, "unlock", table_name="accounts", row_id=acc.id)
        return True


def set_password(ctx: Context, username: str, new_password: str, *,
                 current_password: str | None = None) -> None:
    """Change a password; open sessions are revoked.

    An account changing its own password gives its current one too (a dashboard left open, or a
    stolen session, must not be enough to take the account over); a wrong one counts as a failed
    log-in. An admin resetting another account's password does not need it.
    """
    own = ctx.actor.id is not None and ctx.actor.username == username
    if not own:
        access.require(ctx, "account.manage")
    wrong_current = False
    with ctx.transaction():
        acc = _account_by_name(ctx, username)
        if own and not current_password:
            raise ValidationError(
                "accounts.current_password_needed",
                "To change your own password, give your current password too.")
        if own and not verify_password(acc.password_hash, current_password):
            # Counted as a failed log-in: guessing through the change form locks the account alike.
            wrong_current = True
            acc.failed_logins += 1
            if acc.failed_logins >= MAX_FAILED_LOGINS:
                acc.locked_until = utcnow() + LOCKOUT
                acc.failed_logins = 0
                audit.record(ctx.session, "lockout", table_name="accounts", row_id=acc.id,
                             detail=f"{MAX_FAILED_LOGINS} wrong current passwords")
            audit.record(ctx.session, "password_change_refused", table_name="accounts",
                         row_id=acc.id, detail="wrong current password")
        else:
            problem = password_problem(new_password, (acc.username, acc.display_name))
            if problem:
                raise ValidationError.of(problem)
            acc.password_hash = hash_password(new_password)
            acc.password_changed_at = utcnow()
            acc.failed_logins = 0
            acc.locked_until = None
            _end_sessions(ctx, acc.id, "password changed")
    if wrong_current:
        raise PermissionDenied(
            "accounts.current_password_wrong",
            "The current password is not right, so the password of {username} was not changed.",
            username=username)


# --- log-in and server-side sessions -----------------------------------------------------------

class LoginFailed(PermissionDenied):
    """Wrong username or password, or a locked or disabled account: one message for all of them."""


UNKNOWN_ACCOUNT = "unknown account"


def _login_failed() -> LoginFailed:
    return LoginFailed("accounts.login_failed",
                       "The username or password is not right, or the account cannot log in now.")


LOGIN_FAILED_MESSAGE = str(_login_failed())


class PasswordChangeRequired(PermissionDenied):
    """The password was right and is a one-time one (an admin's reset): give a new one to log in."""


def authenticate(runtime: Runtime, username: str, password: str, *, now: dt.datetime | None = None,
                 new_password: str | None = None) -> Actor:
    """Check a password; lock the account after repeated failures. Every outcome is audited.

    After an admin's reset the password is a one-time one: it logs in only together with a
    `new_password`, which replaces it (PasswordChangeRequired without one; a weak one is refused
    with what is wrong, and the one-time password stays usable)."""
    now = now or utcnow()
    with runtime.sessions() as s:
        begin_writing(s)  # every outcome writes (the audit entry, the failure count)
        acc = s.scalars(select(Account).where(Account.username == username)).one_or_none()
        # What was typed into the username box is not logged unless it names an account: people
        # type passwords, names and notes there by mistake, and the log can never be corrected.
        who = audit.AuditActor(acc.id, acc.username) if acc else audit.AuditActor(None, UNKNOWN_ACCOUNT)
        s.info["audit_actor"] = who
        if acc is None or not acc.active:
            # Hash anyway so that a missing account takes as long as a wrong password.
            verify_password(_DUMMY_HASH, password)
            audit.record(s, "login_failed", table_name="accounts" if acc else None,
                         row_id=acc.id if acc else None,
                         detail="disabled account" if acc else "unknown account")
            s.commit()
            raise _login_failed()
        if acc.locked_until is not None and acc.locked_until > now:
            audit.record(s, "login_refused_locked", table_name="accounts", row_id=acc.id)
            s.commit()
            raise _login_failed()
        if not verify_password(acc.password_hash, password):
            acc.failed_logins += 1
            if acc.failed_logins >= MAX_FAILED_LOGINS:
                acc.locked_until = now + LOCKOUT
                acc.failed_logins = 0
                audit.record(s, "lockout", table_name="accounts", row_id=acc.id,
                             detail=f"{MAX_FAILED_LOGINS} failed log-ins")
            audit.record(s, "login_failed", table_name="accounts", row_id=acc.id)
            s.commit()
            raise _login_failed()
        if acc.must_change_password:
            if new_password is None:
                audit.record(s, "password_change_required", table_name="accounts", row_id=acc.id)
                s.commit()
                raise PasswordChangeRequired(
                    "accounts.password_change_required",
                    "This is a one-time password: choose a new password of your own to log in.")
            problem = password_problem(new_password, (acc.username, acc.display_name))
            if problem is None and new_password == password:
                problem = ValidationError("accounts.new_password_same",
                                          "The new password must differ from the one-time one.")
                s.rollback()
                raise problem
            if problem:
                s.rollback()
                raise ValidationError.of(problem)
            acc.password_hash = hash_password(new_password)
            acc.password_changed_at = now
            acc.must_change_password = False
        elif needs_rehash(acc.password_hash):
            acc.password_hash = hash_password(password)
        acc.failed_logins = 0
        acc.locked_until = None
        audit.record(s, "login", table_name="accounts", row_id=acc.id)
        s.commit()
        return Actor(acc.id, acc.username, acc.role)


_DUMMY_HASH = hash_password("not-a-real-password-" + secrets.token_hex(8))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_login_session(runtime: Runtime, actor: Actor, *, now: dt.datetime | None = None) -> str:
    """Open a server-side session; the browser holds only the random token."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    with runtime.context(actor, task="log-in") as ctx, ctx.transaction() as s:
        s.add(LoginSession(token_hash=_token_hash(token), account_id=actor.id, created_at=now,
                           last_seen_at=now, expires_at=now + SESSION_LIFETIME))
    return token


def resume_login_session(runtime: Runtime, token: str, *, now: dt.datetime | None = None,
                         idle: dt.timedelta = IDLE_TIMEOUT) -> Actor | None:
    """The actor of a live session, or None when it ended, idled out, expired or was revoked.

    Every page view asks this, so a live session is only read: no page view waits for another
    user's write (SQLite readers never wait) or fails because one holds the store. Its
    `last_seen_at` is written at most once per LAST_SEEN_EVERY, so the idle time-out is reached
    between `idle` and `idle` + LAST_SEEN_EVERY after the last page view; a touch that finds the
    store busy is left for the next view.
    """
    now = now or utcnow()
    with runtime.sessions() as s:
        row = s.scalars(select(LoginSession).where(LoginSession.token_hash == _token_hash(token))
                        ).one_or_none()
        if row is None or row.ended_at is not None:
            return None
        acc = s.get(Account, row.account_id)
        reason = None
        if acc is None or not acc.active:
            reason = "account disabled"
        elif acc.password_changed_at > row.created_at:
            reason = "password changed"
        elif now >= row.expires_at:
            reason = "lifetime reached"
        elif now - row.last_seen_at > idle:
            reason = "idle time-out"
        session_id, last_seen = row.id, row.last_seen_at
        who = audit.AuditActor(row.account_id, acc.username if acc else "?")
        actor = Actor(acc.id, acc.username, acc.role) if acc is not None else None
        s.rollback()  # the read ends here
    if reason:
        _write_session(runtime, session_id, who, ended_at=now, ended_reason=reason)
        return None
    if now - last_seen >= LAST_SEEN_EVERY:
        try:
            _write_session(runtime, session_id, who, last_seen_at=now)
        except StoreUnavailable:
            pass  # another user's long write: the next page view records this one
    return actor


LAST_SEEN_EVERY = dt.timedelta(minutes=1)


def _write_session(runtime: Runtime, session_id: int, who: audit.AuditActor, **values) -> None:
    with runtime.sessions() as s:
        begin_writing(s)
        s.info["audit_actor"] = who
        row = s.get(LoginSession, session_id)  # an ORM change, so the store's audit sees an end
        if row is not None and row.ended_at is None:  # never undo an end written meanwhile
            for name, value in values.items():
                setattr(row, name, value)
        s.commit()


def end_login_session(runtime: Runtime, token: str, *, everywhere: bool = False) -> None:
    with runtime.sessions() as s:
        row = s.scalars(select(LoginSession).where(LoginSession.token_hash == _token_hash(token))
                        ).one_or_none()
        if row is None:
            return
        acc = s.get(Account, row.account_id)
        s.info["audit_actor"] = audit.AuditActor(row.account_id, acc.username if acc else "?")
        q = update(LoginSession).where(LoginSession.ended_at.is_(None))
        q = q.where(LoginSession.account_id == row.account_id) if everywhere else q.where(
            LoginSession.id == row.id)
        s.execute(q.values(ended_at=utcnow(), ended_reason="log-out"))
        audit.record(s, "logout", table_name="login_sessions", row_id=row.id,
                     detail="everywhere" if everywhere else None)
        s.commit()


# --- the audit log --------------------------------------------------------------------------

def data_version(ctx: Context) -> str:
    """A token that changes whenever the store's data changes: the id and hash of the newest audit
    entry that records a change.

    Every write through dscr appends to the audit log (`db.audit`: a flush event, and the few
    non-row events such as a role change or a restore), and the hash covers the whole chain, so a
    restored backup or a rotated key gives a new token too. Entries that only record an access
    (`vocab.ACCESS_ACTIONS`: a decrypted field read, a denial, a log-in) do not move it: at 10,000
    participants every counselor's opened record would otherwise make every other user's memo
    compute again. A result computed after reading the token holds for as long as the token is the
    same; the dashboard's per-session memo keys on it. (Changes made to the database behind dscr's
    back are not seen: they are not supported.)
    """
    row = ctx.session.execute(select(AuditLog.id, AuditLog.row_hash)
                              .where(AuditLog.action.not_in(vocab.ACCESS_ACTIONS))
                              .order_by(AuditLog.id.desc()).limit(1)).first()
    ctx.session.rollback()
    return "empty" if row is None else f"{row.id}:{row.row_hash}"


def verify_audit(ctx: Context) -> audit.ChainReport:
    access.require(ctx, "audit.verify")
    report = audit.verify_chain(ctx.session.connection(), ctx.runtime.audit_chain)
    with ctx.transaction() as s:
        audit.record(s, "audit_verify", detail=report.message())
    return report


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: dt.datetime
    actor: str
    action: str
    table_name: str | None
    row_id: str | None
    subject_participant_id: int | None
    fields: list[str] | None
    detail: str | None
    study_code: str | None = None  # the subject's, for the admin's page (never a name)


def _utc_bounds(start: dt.date | None, end: dt.date | None) -> tuple[dt.datetime | None, dt.datetime | None]:
    """Seoul's days from `start` to `end` (both included) as the naive UTC the log keeps."""
    return (utc_start_of(start) if start else None,
            utc_start_of(end + dt.timedelta(days=1)) if end else None)


def audit_entries(ctx: Context, *, limit: int = 200, actor: str | None = None,
                  action: str | None = None, actions: Sequence[str] | None = None,
                  start: dt.date | None = None, end: dt.date | None = None,
                  study_code: str | None = None) -> list[AuditEntry]:
    """The newest audit entries, filtered: by account, by action codes (vocab.AUDIT_ACTIONS;
    `action` for one), by Seoul's days from `start` to `end`, and by the participant the entry is
    about, named by study code. An unknown action or study code is an error that says so, never
    an empty table that looks like "nothing happened"."""
    from db.schema import Participant
    from vocab import AUDIT_ACTIONS

    access.require(ctx, "audit.read")
    wanted = list(actions or ()) + ([action] if action else [])
    unknown = [a for a in wanted if a not in AUDIT_ACTIONS]
    if unknown:
        raise ValidationError("accounts.unknown_audit_action",
                              "{unknown} is no audit action; the actions are {known}.",
                              unknown=", ".join(unknown), known=", ".join(AUDIT_ACTIONS))
    if start and end and start > end:
        raise ValidationError("casework.period_backwards",
                              "The period starts ({start}) after it ends ({end}).",
                              start=start, end=end)
    # The filters choose ids first (a narrow sort: with a date range SQLite reads the range from
    # the `at` index and sorts it, at 500,000 entries 1 s when whole rows were sorted, 0.1 s for
    # ids); the rows are read for the `limit` newest only.
    stmt = select(AuditLog.id).order_by(AuditLog.id.desc()).limit(limit)
    if actor:
        stmt = stmt.where(AuditLog.actor == actor)
    if wanted:
        stmt = stmt.where(AuditLog.action.in_(wanted))
    lo, hi = _utc_bounds(start, end)
    if lo is not None:
        stmt = stmt.where(AuditLog.at >= lo)
    if hi is not None:
        stmt = stmt.where(AuditLog.at < hi)
    if study_code:
        pid = ctx.session.scalar(select(Participant.id).where(
            Participant.study_code == study_code.strip()))
        if pid is None:
            raise NotFound("casework.no_participant_study_code",
                           "No participant with study code {study_code!r}.",
                           study_code=study_code.strip())
        stmt = stmt.where(AuditLog.subject_participant_id == pid)
    stmt = (select(AuditLog, Participant.study_code)
            .outerjoin(Participant, Participant.id == AuditLog.subject_participant_id)
            .where(AuditLog.id.in_(stmt.scalar_subquery()))
            .order_by(AuditLog.id.desc()))
    out = [AuditEntry(a.id, a.at, a.actor, a.action, a.table_name, a.row_id,
                      a.subject_participant_id, a.fields, a.detail, code)
           for a, code in ctx.session.execute(stmt)]
    ctx.session.rollback()
    return out


# --- the monthly access review ---------------------------------------------------------------

def access_review(ctx: Context, *, start: dt.date, end: dt.date) -> dict[str, pd.DataFrame]:
    """What the admin reviews each month: break-glass openings, denials, re-identifications, exports.

    A break-glass opening and a re-identification name the kept reason by its `reason_id`
    (None for an entry made before reasons were kept); `reason_for_review` decrypts one on
    request, and that read is recorded.
    """
    from db.schema import AccessGrant, ExportManifest, Participant

    access.require(ctx, "audit.read")
    lo, hi = _utc_bounds(start, end)  # Seoul's days
    s = ctx.session
    codes = dict(s.execute(select(Participant.id, Participant.study_code)).all())
    grants = pd.DataFrame(
        [{"id": g.id, "counselor": a.username, "participant_id": g.participant_id,
          "study_code": codes.get(g.participant_id),
          "reason_id": g.reason_id, "granted_at": g.granted_at, "expires_at": g.expires_at}
         for g, a in s.execute(select(AccessGrant, Account).join(Account, AccessGrant.counselor_id == Account.id)
                               .where(AccessGrant.granted_at >= lo, AccessGrant.granted_at < hi)
                               .order_by(AccessGrant.id))],
        columns=["id", "counselor", "participant_id", "study_code", "reason_id", "granted_at",
                 "expires_at"])
    grants["reason_id"] = grants["reason_id"].astype("Int64")
    events = pd.DataFrame(
        [{"id": e.id, "at": e.at, "actor": e.actor, "action": e.action, "detail": e.detail,
          "subject_participant_id": e.subject_participant_id,
          "study_code": codes.get(e.subject_participant_id),
          "reason_id": audit.kept_as(e.detail) if e.action in ("reidentify", "transfer") else None}
         for e in s.scalars(select(AuditLog).where(
             AuditLog.at >= lo, AuditLog.at < hi,
             AuditLog.action.in_(("denied", "reidentify", "transfer", "role_change",
                                  "password_reset", "lockout", "login_failed")))
             .order_by(AuditLog.id))],
        columns=["id", "at", "actor", "action", "detail", "subject_participant_id", "study_code",
                 "reason_id"])
    events["reason_id"] = events["reason_id"].astype("Int64")
    exports = pd.DataFrame(
        [{"id": m.id, "account": a.username, "kind": m.kind, "purpose": m.purpose, "rows": m.rows,
          "sha256": m.sha256, "created_at": m.created_at}
         for m, a in s.execute(select(ExportManifest, Account).join(Account, ExportManifest.account_id == Account.id)
                               .where(ExportManifest.created_at >= lo, ExportManifest.created_at < hi)
                               .order_by(ExportManifest.id))],
        columns=["id", "account", "kind", "purpose", "rows", "sha256", "created_at"])
    return {"break_glass": grants, "events": events, "exports": exports}


ACCESS_REVIEWED = "access_reviewed"  # the audit action of a month's review marked done


def _month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def mark_access_reviewed(ctx: Context, month: dt.date, *, today: dt.date | None = None) -> None:
    """Record that the admin has gone through a month's access review (`access_review` of that
    month). Only a month that has ended can be marked; marking one twice changes nothing."""
    access.require(ctx, "audit.read")
    month = _month(month)
    today = today or ctx.today
    if month >= _month(today):
        raise ValidationError("accounts.review_month_not_over",
                              "{month} has not ended yet; its access review is done after it.",
                              month=month.strftime("%Y-%m"))
    with ctx.transaction() as s:
        if month in _reviewed_months(s):
            return
        audit.record(s, ACCESS_REVIEWED, detail=f"month={month:%Y-%m}")


def _reviewed_months(s) -> set[dt.date]:
    found = set()
    for detail in s.scalars(select(AuditLog.detail).where(AuditLog.action == ACCESS_REVIEWED)):
        if detail and detail.startswith("month="):
            found.add(dt.date.fromisoformat(detail[len("month="):] + "-01"))
    return found


@dataclass(frozen=True)
class AccessReviewStatus:
    """Whether the monthly access review is due: `due_month` is the last month that has ended,
    `done` whether it was marked reviewed, `last_done` the newest month marked (or None)."""

    due_month: dt.date
    done: bool
    last_done: dt.date | None


def access_review_status(ctx: Context, today: dt.date | None = None) -> AccessReviewStatus:
    access.require(ctx, "audit.read")
    today = today or ctx.today
    due = _month(_month(today) - dt.timedelta(days=1))
    with ctx.transaction() as s:
        months = _reviewed_months(s)
    return AccessReviewStatus(due, due in months, max(months) if months else None)


def locked_accounts(ctx: Context) -> list[AccountView]:
    """Active accounts locked out now by failed log-ins: the admin unlocks them or waits."""
    return [a for a in list_accounts(ctx) if a.active and a.locked]


def reason_for_review(ctx: Context, reason_id: int) -> reasons.ReasonView:
    """The text of a re-identification or break-glass reason, for the access review; the read is
    recorded. An erased one comes back with `text` None and who erased it when."""
    row = access.access_reason(ctx, reason_id, "reason.read")
    with ctx.transaction():
        return reasons.views(ctx, [row])[0]


def correct_reason(ctx: Context, reason_id: int, *, text: str) -> None:
    """Correct a re-identification or break-glass reason (the log keeps the new text's hash)."""
    from casework.notes_guard import check_note

    text = (text or "").strip()
    row = access.access_reason(ctx, reason_id, "reason.amend")
    if len(text) < 10:
        raise ValidationError("accounts.corrected_reason_short",
                              "Write the corrected reason (at least 10 characters).")
    check_note(text, field="re-identification reason" if row.kind == "reidentify"
               else "break-glass reason")
    with reasons.changing(ctx, row):
        reasons.correct(ctx, row, text)


def erase_reason(ctx: Context, reason_id: int) -> bool:
    """Erase a re-identification or break-glass reason for good (say, a victim's detail the guard
    missed); the act it explained stays in the log. False when it was erased already."""
    row = access.access_reason(ctx, reason_id, "reason.amend")
    with reasons.changing(ctx, row):
        return reasons.erase(ctx, row)


# --- open dashboard sessions (admin) --------------------------------------------------------

def open_login_sessions(ctx: Context) -> pd.DataFrame:
    access.require(ctx, "account.manage")
    rows = ctx.session.execute(
        select(LoginSession, Account.username).join(Account, LoginSession.account_id == Account.id)
        # A browser closed without logging out leaves its session open until it idles out; it is
        # refused at its next use from then on (resume_login_session), so it is listed no more.
        .where(LoginSession.ended_at.is_(None), LoginSession.expires_at > utcnow(),
               LoginSession.last_seen_at > utcnow() - IDLE_TIMEOUT)
        .order_by(LoginSession.last_seen_at.desc()))
    return pd.DataFrame([{"id": ls.id, "username": u, "created_at": ls.created_at,
                          "last_seen_at": ls.last_seen_at, "expires_at": ls.expires_at}
                         for ls, u in rows],
                        columns=["id", "username", "created_at", "last_seen_at", "expires_at"])


def end_login_session_by_id(ctx: Context, session_id: int) -> None:
    access.require(ctx, "account.manage")
    with ctx.transaction() as s:
        row = s.get(LoginSession, session_id)
        if row is None:
            raise NotFound("accounts.no_dashboard_session",
                           "No dashboard session {session_id}.",
                           session_id=session_id)
        if row.ended_at is None:
            row.ended_at, row.ended_reason = utcnow(), f"ended by {ctx.actor.username}"


