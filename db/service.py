"""Use cases of the store itself: accounts, log-in, participants' identities, assignments, the audit log."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import func, select, update

from db import access, audit
from db.context import SYSTEM, Actor, Context, Runtime
from db.passwords import hash_password, needs_rehash, password_problem, verify_password
from db.schema import (
    OFFENCE_TYPES,
    REFERRAL_SOURCES,
    ROLES,
    SEXES,
    Account,
    AuditLog,
    Case,
    CaseOffence,
    CounselingSession,
    Cohort,
    CounselorAssignment,
    LoginSession,
    Participant,
    ParticipantIdentity,
    Programme,
    utcnow,
)
from errors import Conflict, NotFound, PermissionDenied, ValidationError

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
                display_name: str = "") -> int:
    """Create an account. With no account in the database yet, the first one is made by the system."""
    if ctx.actor is not SYSTEM:
        access.require(ctx, "account.manage")
    username = username.strip()
    if not username or len(username) > 64 or not username.replace("_", "").replace(".", "").replace("-", "").isalnum():
        raise ValidationError(
            f"Username {username!r} is not allowed: use 1-64 letters, digits, '.', '-' or '_'."
        )
    if role not in ROLES:
        raise ValidationError(f"Role {role!r} does not exist; choose one of {', '.join(ROLES)}.")
    problem = password_problem(password)
    if problem:
        raise ValidationError(problem)
    with ctx.transaction() as s:
        if s.scalar(select(Account.id).where(Account.username == username)) is not None:
            raise Conflict(f"An account named {username!r} exists already.")
        acc = Account(username=username, role=role, display_name=display_name or username,
                      password_hash=hash_password(password))
        s.add(acc)
        s.flush()
        return acc.id


def list_accounts(ctx: Context) -> list[AccountView]:
    access.require(ctx, "account.list")
    now = utcnow()
    return [_view(a, now) for a in ctx.session.scalars(select(Account).order_by(Account.username))]


def _account_by_name(ctx: Context, username: str) -> Account:
    acc = ctx.session.scalars(select(Account).where(Account.username == username)).one_or_none()
    if acc is None:
        raise NotFound(f"No account named {username!r}.")
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
            raise Conflict("You cannot disable the account you are acting as.")
        acc.active = False
        _end_sessions(ctx, acc.id, "account disabled")


def set_password(ctx: Context, username: str, new_password: str) -> None:
    """Change a password (an admin, or the account itself); open sessions are revoked."""
    if ctx.actor.username != username:
        access.require(ctx, "account.manage")
    problem = password_problem(new_password)
    if problem:
        raise ValidationError(problem)
    with ctx.transaction():
        acc = _account_by_name(ctx, username)
        acc.password_hash = hash_password(new_password)
        acc.password_changed_at = utcnow()
        acc.failed_logins = 0
        acc.locked_until = None
        _end_sessions(ctx, acc.id, "password changed")


# --- log-in and server-side sessions -----------------------------------------------------------

class LoginFailed(PermissionDenied):
    """Wrong username or password, or a locked or disabled account: one message for all of them."""


LOGIN_FAILED_MESSAGE = "The username or password is not right, or the account cannot log in now."


def authenticate(runtime: Runtime, username: str, password: str, *, now: dt.datetime | None = None
                 ) -> Actor:
    """Check a password; lock the account after repeated failures. Every outcome is audited."""
    now = now or utcnow()
    with runtime.sessions() as s:
        acc = s.scalars(select(Account).where(Account.username == username)).one_or_none()
        who = audit.AuditActor(acc.id if acc else None, username[:64])
        s.info["audit_actor"] = who
        if acc is None or not acc.active:
            # Hash anyway so that a missing account takes as long as a wrong password.
            verify_password(_DUMMY_HASH, password)
            audit.record(s, "login_failed", detail="unknown or disabled account")
            s.commit()
            raise LoginFailed(LOGIN_FAILED_MESSAGE)
        if acc.locked_until is not None and acc.locked_until > now:
            audit.record(s, "login_refused_locked", table_name="accounts", row_id=acc.id)
            s.commit()
            raise LoginFailed(LOGIN_FAILED_MESSAGE)
        if not verify_password(acc.password_hash, password):
            acc.failed_logins += 1
            if acc.failed_logins >= MAX_FAILED_LOGINS:
                acc.locked_until = now + LOCKOUT
                acc.failed_logins = 0
                audit.record(s, "lockout", table_name="accounts", row_id=acc.id,
                             detail=f"{MAX_FAILED_LOGINS} failed log-ins")
            audit.record(s, "login_failed", table_name="accounts", row_id=acc.id)
            s.commit()
            raise LoginFailed(LOGIN_FAILED_MESSAGE)
        if needs_rehash(acc.password_hash):
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
    """The actor of a live session, or None when it ended, idled out, expired or was revoked."""
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
        s.info["audit_actor"] = audit.AuditActor(row.account_id, acc.username if acc else "?")
        if reason:
            row.ended_at, row.ended_reason = now, reason
            s.commit()
            return None
        row.last_seen_at = now
        s.commit()
        return Actor(acc.id, acc.username, acc.role)


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


# --- programmes, participants and identities --------------------------------------------------

def add_programme(ctx: Context, *, name: str, description: str = "") -> int:
    access.require(ctx, "programme.manage")
    with ctx.transaction() as s:
        if s.scalar(select(Programme.id).where(Programme.name == name)) is not None:
            raise Conflict(f"A programme named {name!r} exists already.")
        p = Programme(name=name, description=description)
        s.add(p)
        s.flush()
        return p.id


def add_cohort(ctx: Context, *, programme_id: int, name: str, start_date: dt.date,
               end_date: dt.date | None = None) -> int:
    access.require(ctx, "programme.manage")
    if end_date is not None and end_date < start_date:
        raise ValidationError(f"Cohort {name!r}: the end date {end_date} is before the start {start_date}.")
    with ctx.transaction() as s:
        c = Cohort(programme_id=programme_id, name=name, start_date=start_date, end_date=end_date)
        s.add(c)
        s.flush()
        return c.id


@dataclass(frozen=True)
class NewParticipant:
    intake_ref: str                 # the referral number, turned into the study code and not kept
    name: str
    birth_date: dt.date
    sex: str
    cohort_id: int
    enrolled_on: dt.date
    age_at_referral: int
    contact: str | None = None
    guardian_contact: str | None = None
    prior_offences: int = 0
    case_ref: str | None = None
    offence_types: tuple[str, ...] = ()
    offence_date: dt.date | None = None
    referral_date: dt.date | None = None
    referral_source: str = "police"


def _check_new_participant(p: NewParticipant) -> None:
    if not p.intake_ref.strip():
        raise ValidationError("The intake reference is empty; the study code is derived from it.")
    if not p.name.strip():
        raise ValidationError("The participant's name is empty.")
    if p.sex not in SEXES:
        raise ValidationError(f"sex must be one of {', '.join(SEXES)}, got {p.sex!r}.")
    if not 5 <= p.age_at_referral <= 24:
        raise ValidationError(f"age at referral must be 5..24, got {p.age_at_referral}.")
    if p.prior_offences < 0:
        raise ValidationError(f"prior offences must be 0 or more, got {p.prior_offences}.")
    for t in p.offence_types:
        if t not in OFFENCE_TYPES:
            raise ValidationError(f"offence type {t!r} is not in the taxonomy: {', '.join(OFFENCE_TYPES)}.")
    if p.referral_source not in REFERRAL_SOURCES:
        raise ValidationError(
            f"referral source {p.referral_source!r} is not one of {', '.join(REFERRAL_SOURCES)}.")
    if p.offence_date and p.referral_date and p.referral_date < p.offence_date:
        raise ValidationError(
            f"The referral date {p.referral_date} is before the offence date {p.offence_date}.")


def register_participant(ctx: Context, new: NewParticipant, *, counselor_id: int | None = None
                         ) -> int:
    """Register a young person: a research record under a study code, identity encrypted apart."""
    access.require(ctx, "participant.create")
    _check_new_participant(new)
    keyring = ctx.keyring
    code = ctx.study_coder.code(new.intake_ref.strip())
    with ctx.transaction() as s:
        if s.scalar(select(Participant.id).where(Participant.study_code == code)) is not None:
            raise Conflict(f"This intake reference is registered already (study code {code}).")
        part = Participant(
            study_code=code, cohort_id=new.cohort_id, sex=new.sex,
            age_at_referral=new.age_at_referral, prior_offences=new.prior_offences,
            enrolled_on=new.enrolled_on, status="active",
        )
        s.add(part)
        s.flush()
        s.add(ParticipantIdentity(
            participant_id=part.id, name_enc=keyring.encrypt(new.name),
            birth_date_enc=keyring.encrypt(new.birth_date.isoformat()),
            contact_enc=keyring.encrypt(new.contact),
            guardian_contact_enc=keyring.encrypt(new.guardian_contact),
            key_id=keyring.primary_id,
        ))
        if new.case_ref:
            case = Case(case_ref=new.case_ref, participant_id=part.id,
                        offence_date=new.offence_date or new.enrolled_on,
                        referral_date=new.referral_date or new.enrolled_on,
                        referral_source=new.referral_source)
            case.offences = [CaseOffence(offence_type=t) for t in new.offence_types]
            s.add(case)
        owner = counselor_id if counselor_id is not None else (
            ctx.actor.id if ctx.actor.role == "counselor" else None)
        if owner is not None:
            s.add(CounselorAssignment(counselor_id=owner, participant_id=part.id,
                                      start_date=new.enrolled_on))
        s.flush()
        return part.id


@dataclass(frozen=True)
class Identity:
    participant_id: int
    study_code: str
    name: str
    birth_date: str
    contact: str | None
    guardian_contact: str | None


def participant_identity(ctx: Context, participant_id: int) -> Identity:
    """Decrypt a participant's identifying fields for their counselor; the read is audited."""
    part = access.access_participant(ctx, participant_id, "participant.identify")
    with ctx.transaction() as s:
        ident = s.get(ParticipantIdentity, participant_id)
        if ident is None or ident.erased_at is not None:
            raise NotFound(f"The identity of participant {part.study_code} was erased.")
        dec = lambda tok, f: ctx.decrypt(tok, table="participant_identities",
                                         row_id=participant_id, field_name=f,
                                         participant_id=participant_id)
        return Identity(participant_id, part.study_code, dec(ident.name_enc, "name"),
                        dec(ident.birth_date_enc, "birth_date"), dec(ident.contact_enc, "contact"),
                        dec(ident.guardian_contact_enc, "guardian_contact"))


def reidentify(ctx: Context, study_code: str, *, reason: str) -> Identity:
    """Re-identification of a study code: an admin's separate act, with a reason, audited."""
    access.require(ctx, "participant.reidentify")
    if len(reason.strip()) < 10:
        raise ValidationError("Give the reason for re-identification (at least 10 characters); "
                              "it is kept in the audit log.")
    with ctx.transaction() as s:
        part = s.scalars(select(Participant).where(Participant.study_code == study_code)).one_or_none()
        if part is None:
            raise NotFound(f"No participant with study code {study_code!r}.")
        ident = s.get(ParticipantIdentity, part.id)
        if ident is None or ident.erased_at is not None:
            raise NotFound(f"The identity of {study_code} was erased.")
        audit.record(s, "reidentify", table_name="participants", row_id=part.id,
                     subject_participant_id=part.id, detail=reason.strip())
        dec = lambda tok, f: ctx.decrypt(tok, table="participant_identities",
                                         row_id=part.id, field_name=f, participant_id=part.id)
        return Identity(part.id, part.study_code, dec(ident.name_enc, "name"),
                        dec(ident.birth_date_enc, "birth_date"), dec(ident.contact_enc, "contact"),
                        dec(ident.guardian_contact_enc, "guardian_contact"))


def assign_counselor(ctx: Context, *, counselor_id: int, participant_id: int,
                     start_date: dt.date) -> int:
    access.require(ctx, "assignment.manage")
    with ctx.transaction() as s:
        acc = s.get(Account, counselor_id)
        if acc is None or acc.role != "counselor" or not acc.active:
            raise ValidationError(f"Account {counselor_id} is not an active counselor.")
        if s.get(Participant, participant_id) is None:
            raise NotFound(f"No participant {participant_id}.")
        a = CounselorAssignment(counselor_id=counselor_id, participant_id=participant_id,
                                start_date=start_date)
        s.add(a)
        s.flush()
        return a.id


@dataclass(frozen=True)
class CaseloadRow:
    participant_id: int
    study_code: str
    cohort: str
    programme: str
    enrolled_on: dt.date
    status: str


def my_caseload(ctx: Context) -> list[CaseloadRow]:
    stmt = access.scoped_participants(ctx).join(Cohort, Participant.cohort_id == Cohort.id).join(
        Programme, Cohort.programme_id == Programme.id).add_columns(
        Cohort.name, Programme.name).order_by(Participant.enrolled_on, Participant.id)
    return [CaseloadRow(p.id, p.study_code, c, prog, p.enrolled_on, p.status)
            for p, c, prog in ctx.session.execute(stmt)]


# --- the audit log --------------------------------------------------------------------------

def data_version(ctx: Context) -> str:
    """A token that changes whenever the store's data changes: the newest audit entry's id and hash.

    Every write through dscr appends to the audit log (`db.audit`: a flush event, and the few
    non-row events such as logins and denials), and the hash covers the whole chain, so a restored
    backup or a rotated key gives a new token too. A result computed after reading the token
    holds for as long as the token is the same; the dashboard's per-session memo keys on it.
    (Changes made to the database behind dscr's back are not seen: they are not supported.)
    """
    row = ctx.session.execute(select(AuditLog.id, AuditLog.row_hash)
                              .order_by(AuditLog.id.desc()).limit(1)).first()
    ctx.session.rollback()
    return "empty" if row is None else f"{row.id}:{row.row_hash}"


def verify_audit(ctx: Context) -> audit.ChainReport:
    access.require(ctx, "audit.verify")
    report = audit.verify_chain(ctx.session.connection())
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


def audit_entries(ctx: Context, *, limit: int = 200, actor: str | None = None,
                  action: str | None = None) -> list[AuditEntry]:
    access.require(ctx, "audit.read")
    stmt = select(AuditLog).order_by(AuditLog.id.desc()).limit(limit)
    if actor:
        stmt = stmt.where(AuditLog.actor == actor)
    if action:
        stmt = stmt.where(AuditLog.action == action)
    return [AuditEntry(a.id, a.at, a.actor, a.action, a.table_name, a.row_id,
                       a.subject_participant_id, a.fields, a.detail)
            for a in ctx.session.scalars(stmt)]




# --- break-glass and the monthly access review ------------------------------------------------

BREAK_GLASS_HOURS = 8


def break_glass(ctx: Context, participant_id: int, *, reason: str) -> int:
    """Open a participant outside the caseload, for a stated reason; logged and reviewed monthly."""
    from db.schema import AccessGrant

    access.require(ctx, "participant.break_glass")
    if len(reason.strip()) < 10:
        raise ValidationError("Say why you must open this record (at least 10 characters); "
                              "the reason goes to the monthly access review.")
    with ctx.transaction() as s:
        if s.get(Participant, participant_id) is None:
            raise NotFound(f"No participant {participant_id} in your caseload.")
        now = utcnow()
        grant = AccessGrant(counselor_id=ctx.actor.id, participant_id=participant_id,
                            reason=reason.strip(), granted_at=now,
                            expires_at=now + dt.timedelta(hours=BREAK_GLASS_HOURS))
        s.add(grant)
        s.flush()
        audit.record(s, "break_glass", table_name="participants", row_id=participant_id,
                     subject_participant_id=participant_id, detail=reason.strip())
        return grant.id


def access_review(ctx: Context, *, start: dt.date, end: dt.date) -> dict[str, pd.DataFrame]:
    """What the admin reviews each month: break-glass openings, denials, re-identifications, exports."""
    from db.schema import AccessGrant, ExportManifest

    access.require(ctx, "audit.read")
    lo = dt.datetime.combine(start, dt.time.min)
    hi = dt.datetime.combine(end, dt.time.max)
    s = ctx.session
    grants = pd.DataFrame(
        [{"id": g.id, "counselor": a.username, "participant_id": g.participant_id, "reason": g.reason,
          "granted_at": g.granted_at, "expires_at": g.expires_at}
         for g, a in s.execute(select(AccessGrant, Account).join(Account, AccessGrant.counselor_id == Account.id)
                               .where(AccessGrant.granted_at.between(lo, hi)).order_by(AccessGrant.id))],
        columns=["id", "counselor", "participant_id", "reason", "granted_at", "expires_at"])
    events = pd.DataFrame(
        [{"id": e.id, "at": e.at, "actor": e.actor, "action": e.action, "detail": e.detail,
          "subject_participant_id": e.subject_participant_id}
         for e in s.scalars(select(AuditLog).where(
             AuditLog.at.between(lo, hi),
             AuditLog.action.in_(("denied", "reidentify", "lockout", "login_failed")))
             .order_by(AuditLog.id))],
        columns=["id", "at", "actor", "action", "detail", "subject_participant_id"])
    exports = pd.DataFrame(
        [{"id": m.id, "account": a.username, "kind": m.kind, "purpose": m.purpose, "rows": m.rows,
          "sha256": m.sha256, "created_at": m.created_at}
         for m, a in s.execute(select(ExportManifest, Account).join(Account, ExportManifest.account_id == Account.id)
                               .where(ExportManifest.created_at.between(lo, hi)).order_by(ExportManifest.id))],
        columns=["id", "account", "kind", "purpose", "rows", "sha256", "created_at"])
    return {"break_glass": grants, "events": events, "exports": exports}


# --- exports ---------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def sanitise_cell(value: object) -> object:
    """Neutralise spreadsheet formulas (CSV injection): a text cell starting with = + - @ gets a '."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def export_csv(ctx: Context, frame: pd.DataFrame, *, kind: str, purpose: str, action: str,
               filters: dict | None = None, suppression: dict | None = None) -> bytes:
    """Turn a use case's output into a CSV download, after recording who, why and what (a manifest)."""
    from db.schema import ExportManifest

    access.require(ctx, action)
    if len(purpose.strip()) < 5:
        raise ValidationError("State the purpose of this download (at least 5 characters); "
                              "it is kept with the export record.")
    clean = frame.copy()
    for col in clean.columns:
        if clean[col].dtype == object:
            clean[col] = clean[col].map(sanitise_cell)
    data = clean.to_csv(index=False).encode("utf-8-sig")
    with ctx.transaction() as s:
        s.add(ExportManifest(account_id=ctx.actor.id, kind=kind, purpose=purpose.strip(),
                             filters=filters or {}, suppression=suppression, rows=len(clean),
                             sha256=hashlib.sha256(data).hexdigest()))
    return data


# --- open dashboard sessions (admin) --------------------------------------------------------

def open_login_sessions(ctx: Context) -> pd.DataFrame:
    access.require(ctx, "account.manage")
    rows = ctx.session.execute(
        select(LoginSession, Account.username).join(Account, LoginSession.account_id == Account.id)
        .where(LoginSession.ended_at.is_(None), LoginSession.expires_at > utcnow())
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
            raise NotFound(f"No dashboard session {session_id}.")
        if row.ended_at is None:
            row.ended_at, row.ended_reason = utcnow(), f"ended by {ctx.actor.username}"


# --- counseling sessions ---------------------------------------------------------------------

@dataclass(frozen=True)
class SessionRecord:
    id: int
    session_date: dt.date
    minutes: int
    modality: str
    attendance: str
    topics: tuple[str, ...]
    has_notes: bool
    version: int


def _check_session(session_date: dt.date, minutes: int, modality: str, attendance: str,
                   today: dt.date) -> None:
    from db.schema import ATTENDANCE, MODALITIES

    if not 1 <= minutes <= 480:
        raise ValidationError(f"minutes must be 1..480, got {minutes}.")
    if modality not in MODALITIES:
        raise ValidationError(f"modality must be one of {', '.join(MODALITIES)}, got {modality!r}.")
    if attendance not in ATTENDANCE:
        raise ValidationError(f"attendance must be one of {', '.join(ATTENDANCE)}, got {attendance!r}.")
    if session_date > today:
        raise ValidationError(f"The session date {session_date} is in the future.")


def _guard_notes(notes: str | None) -> None:
    """Victims' identities are never written down (Youth Sex Protection Act Art. 31)."""
    from db.notes_guard import check_note

    check_note(notes, field="note")


def record_session(ctx: Context, *, participant_id: int, session_date: dt.date, minutes: int,
                   modality: str, attendance: str, topics: tuple[str, ...] = (),
                   notes: str | None = None) -> int:
    part = access.access_participant(ctx, participant_id, "session.record")
    _check_session(session_date, minutes, modality, attendance, ctx.today)
    if session_date < part.enrolled_on:
        raise ValidationError(f"The session date {session_date} is before enrolment ({part.enrolled_on}).")
    _guard_notes(notes)
    with ctx.transaction() as s:
        row = CounselingSession(participant_id=participant_id, counselor_id=ctx.actor.id,
                                session_date=session_date, minutes=minutes, modality=modality,
                                attendance=attendance, topics=list(topics),
                                notes_enc=ctx.keyring.encrypt(notes or None), created_by=ctx.actor.id)
        s.add(row)
        s.flush()
        return row.id


def update_session(ctx: Context, session_id: int, *, expected_version: int, **changes) -> int:
    """Edit a session; a save based on a stale version raises Conflict naming who changed it."""
    from sqlalchemy.orm.exc import StaleDataError

    with ctx.transaction() as s:
        row = s.get(CounselingSession, session_id)
        if row is None:
            raise NotFound(f"No session {session_id}.")
        access.access_participant(ctx, row.participant_id, "session.record")
        if row.version != expected_version:
            raise _conflict(s, row, "session")
        notes = changes.pop("notes", None)
        for key, value in changes.items():
            if key not in {"session_date", "minutes", "modality", "attendance", "topics"}:
                raise ValidationError(f"A session has no field {key!r}.")
            setattr(row, key, list(value) if key == "topics" else value)
        _check_session(row.session_date, row.minutes, row.modality, row.attendance, ctx.today)
        if notes is not None:
            _guard_notes(notes)
            row.notes_enc = ctx.keyring.encrypt(notes or None)
        row.updated_by, row.updated_at = ctx.actor.id, utcnow()
        try:
            s.flush()
        except StaleDataError:
            s.rollback()
            raise _conflict(ctx.session, ctx.session.get(CounselingSession, session_id), "session") from None
        return row.version


def _conflict(s, row, what: str) -> Conflict:
    who = s.get(Account, row.updated_by or row.created_by)
    when = row.updated_at or row.created_at
    return Conflict(
        f"This {what} was changed by {who.username if who else 'someone'} at "
        f"{when:%Y-%m-%d %H:%M} after you opened it. Your input is kept: compare and save again.")


def list_sessions(ctx: Context, participant_id: int) -> list[SessionRecord]:
    access.access_participant(ctx, participant_id, "session.read")
    rows = ctx.session.scalars(select(CounselingSession).where(
        CounselingSession.participant_id == participant_id).order_by(CounselingSession.session_date))
    return [SessionRecord(r.id, r.session_date, r.minutes, r.modality, r.attendance, tuple(r.topics),
                          r.notes_enc is not None, r.version) for r in rows]


def session_notes(ctx: Context, session_id: int) -> str | None:
    row = ctx.session.get(CounselingSession, session_id)
    if row is None:
        raise NotFound(f"No session {session_id}.")
    access.access_participant(ctx, row.participant_id, "session.read")
    with ctx.transaction():
        return ctx.decrypt(row.notes_enc, table="counseling_sessions", row_id=session_id,
                           field_name="notes", participant_id=row.participant_id)


def break_glass_by_code(ctx: Context, study_code: str, *, reason: str) -> int:
    """Break-glass by study code (what a counselor is told by a colleague); returns the participant id."""
    access.require(ctx, "participant.break_glass")
    pid = ctx.session.scalar(select(Participant.id).where(Participant.study_code == study_code.strip()))
    if pid is None:
        raise NotFound(f"No participant with study code {study_code.strip()!r}.")
    break_glass(ctx, pid, reason=reason)
    return pid
