"""The audit log: written by the store itself on every flush, hash-chained, verifiable."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, event, insert, inspect, select, text
from sqlalchemy.orm import Session

from db.schema import AuditLog, LoginSession, Participant, utcnow

GENESIS = "0" * 64
_PG_LOCK_KEY = 0x64736372  # "dscr": serialises appends to the chain across connections


@dataclass(frozen=True)
class AuditActor:
    account_id: int | None
    username: str


def _canonical(values: dict[str, Any]) -> bytes:
    return json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def row_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    body = {k: entry.get(k) for k in _HASHED}
    at = body["at"]
    body["at"] = at.isoformat(timespec="microseconds") if at is not None else None
    return hashlib.sha256(prev_hash.encode() + _canonical(body)).hexdigest()


_HASHED = (
    "at", "account_id", "actor", "action", "table_name", "row_id",
    "subject_participant_id", "fields", "detail",
)


def append(conn: Connection, entries: Iterable[dict[str, Any]]) -> None:
    """Append entries to the chain inside the caller's transaction."""
    entries = list(entries)
    if not entries:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    # SQLite: every transaction is BEGIN IMMEDIATE (db.engine), so this one already holds the lock.
    prev = conn.execute(
        select(AuditLog.row_hash).order_by(AuditLog.id.desc()).limit(1)
    ).scalar_one_or_none() or GENESIS
    rows = []
    for e in entries:
        e = dict(e)
        e.setdefault("at", utcnow())
        for k in _HASHED:
            e.setdefault(k, None)
        e["prev_hash"] = prev
        e["row_hash"] = prev = row_hash(prev, e)
        rows.append(e)
    conn.execute(insert(AuditLog), rows)


def about_text(what: str, text: str) -> str:
    """What the log keeps of a free-text reason: that one was given, its length and a hash.

    The text itself stays in its own table (where it can be corrected or erased); the log, which
    nothing may change, never holds what a person typed (Youth Sex Protection Act Art. 31).
    """
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return f"{what} given ({len(text)} characters, sha256 {digest})"


def record(
    session: Session,
    action: str,
    *,
    table_name: str | None = None,
    row_id: Any = None,
    subject_participant_id: int | None = None,
    fields: list[str] | None = None,
    detail: str | None = None,
    actor: AuditActor | None = None,
) -> None:
    """Record an event that is not a row write: a read of identifying fields, a login, a denial."""
    who = actor or session.info.get("audit_actor")
    if who is None:
        raise RuntimeError("audit.record needs an actor: use a Context")
    append(
        session.connection(),
        [{
            "account_id": who.account_id,
            "actor": who.username,
            "action": action,
            "table_name": table_name,
            "row_id": None if row_id is None else str(row_id),
            "subject_participant_id": subject_participant_id,
            "fields": fields,
            "detail": detail,
        }],
    )


def _pk(obj: Any) -> str | None:
    # From the mapped columns, not the identity map: a row inserted in this flush has its id by
    # now, but not yet its identity key.
    values = inspect(obj).mapper.primary_key_from_instance(obj)
    if all(v is None for v in values):
        return None
    return "/".join(str(v) for v in values)


def _subject(obj: Any) -> int | None:
    if isinstance(obj, Participant):
        return obj.id
    pid = getattr(obj, "participant_id", None)
    if pid is not None:
        return pid
    owner = getattr(obj, "assessment", None)
    return getattr(owner, "participant_id", None)


def _changed_fields(obj: Any) -> list[str]:
    state = inspect(obj)
    out = []
    for attr in state.mapper.column_attrs:
        hist = state.attrs[attr.key].history
        if hist.has_changes():
            out.append(attr.key)
    return out


def _set_fields(obj: Any) -> list[str]:
    state = inspect(obj)
    return [a.key for a in state.mapper.column_attrs if state.attrs[a.key].value is not None]


@event.listens_for(Session, "before_flush")
def _require_actor(session: Session, _ctx, _instances) -> None:
    if session.info.get("audit_actor") is None and (session.new or session.dirty or session.deleted):
        raise RuntimeError(
            "A write without an acting account: every write goes through a Context so that "
            "the audit log names who made it."
        )


@event.listens_for(Session, "after_flush")
def _audit_flush(session: Session, _ctx) -> None:
    who: AuditActor | None = session.info.get("audit_actor")
    if who is None:
        return
    entries = []
    for action, objs in (("insert", session.new), ("update", session.dirty), ("delete", session.deleted)):
        for obj in objs:
            if isinstance(obj, AuditLog):
                continue
            if action == "update":
                fields = _changed_fields(obj)
                if not fields or (isinstance(obj, LoginSession) and fields == ["last_seen_at"]):
                    # Unchanged, or the heartbeat of a dashboard session (it would flood the log).
                    continue
            elif action == "insert":
                fields = _set_fields(obj)
            else:
                fields = None
            entries.append({
                "account_id": who.account_id,
                "actor": who.username,
                "action": action,
                "table_name": obj.__tablename__,
                "row_id": _pk(obj),
                "subject_participant_id": _subject(obj),
                "fields": sorted(fields) if fields else fields,
                "detail": session.info.get("audit_task"),
            })
    append(session.connection(), entries)


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    rows_checked: int
    first_broken_id: int | None = None
    reason: str | None = None

    def message(self) -> str:
        if self.ok:
            return f"audit chain verified: {self.rows_checked} entries, no broken link"
        return (
            f"audit chain BROKEN at entry {self.first_broken_id}: {self.reason} "
            f"({self.rows_checked} entries checked before it)"
        )


def verify_chain(conn: Connection, batch: int = 5000) -> ChainReport:
    prev = GENESIS
    checked = 0
    cols = [getattr(AuditLog, k) for k in _HASHED] + [AuditLog.id, AuditLog.prev_hash, AuditLog.row_hash]
    # Per statement: Connection.execution_options() would change the caller's connection for good.
    result = conn.execute(select(*cols).order_by(AuditLog.id), execution_options={"yield_per": batch})
    for row in result:
        entry = row._asdict()
        if entry["prev_hash"] != prev:
            return ChainReport(False, checked, entry["id"], "it does not point to the entry before it "
                               "(an entry was removed or inserted)")
        if row_hash(prev, entry) != entry["row_hash"]:
            return ChainReport(False, checked, entry["id"], "its content does not match its hash "
                               "(the entry was changed)")
        prev = entry["row_hash"]
        checked += 1
    return ChainReport(True, checked)
