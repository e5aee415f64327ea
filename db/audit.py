"""The audit log: written by the store itself on every flush, chained under a key, checkpointed outside.

Each entry's `row_hash` is an HMAC-SHA256, under a key kept with the other key files (never in
the database), of the previous entry's hash and the entry's content. Whoever can write to the
database but does not hold the key cannot forge an entry, rewrite one and re-hash the rest, or
append one that verifies. After every commit that appended, the newest entry's id and hash are
written to a checkpoint sink outside the database (by default an append-only file beside the
keys; a deployment may plug in another store): truncating the log, emptying it or rewinding it
to a backup then shows as entries that a checkpoint names and the log no longer holds.

What it cannot promise: whoever holds the audit key AND can rewrite the checkpoint sink can
rewrite history; keep the sink on another machine or write-once storage for that.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Connection, event, func, insert, inspect, select, text
from sqlalchemy.orm import Session

from db.engine import hold_write_lock
from db.schema import AuditLog, LoginSession, Participant, utcnow
from errors import Message

GENESIS = "0" * 64
_PG_LOCK_KEY = 0x64736372  # "dscr": serialises appends to the chain across connections


# --- the key and the checkpoints ----------------------------------------------------------------

def create_audit_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(secrets.token_hex(32).encode("ascii") + b"\n")


@dataclass(frozen=True)
class Checkpoint:
    entry_id: int
    row_hash: str
    at: str


class CheckpointSink(Protocol):
    """Where the chain's length and head are kept outside the database."""

    def write(self, entry_id: int, row_hash: str) -> None: ...

    def read(self) -> list[Checkpoint]: ...


class FileCheckpoints:
    """An append-only file of `id<TAB>hash<TAB>time` lines (mode 600), one per committed append."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, entry_id: int, row_hash: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = f"{entry_id}\t{row_hash}\t{utcnow().isoformat(timespec='seconds')}\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line.encode("ascii"))
        finally:
            os.close(fd)

    def read(self) -> list[Checkpoint]:
        if not self.path.exists():
            return []
        out = []
        for number, line in enumerate(self.path.read_text("ascii").splitlines(), start=1):
            parts = line.split("\t")
            if len(parts) != 3 or not parts[0].isdigit():
                raise ValueError(f"{self.path} line {number} is not a checkpoint: {line[:80]!r}")
            out.append(Checkpoint(int(parts[0]), parts[1], parts[2]))
        return out


class Chain:
    """The chain's key and checkpoint sink of one Runtime, handed to each of its sessions."""

    def __init__(self, key_file: Path, sink: CheckpointSink, *, create: bool = False) -> None:
        self.key_file, self.sink, self._create = key_file, sink, create
        self._key: bytes | None = None

    @property
    def key(self) -> bytes:
        if self._key is None:
            from db.crypto import read_key_lines

            if self._create and not self.key_file.exists():
                create_audit_key(self.key_file)
            key = read_key_lines(self.key_file, "DSCR_AUDIT_KEY_FILE")[0]
            if len(key) < 32:
                raise ValueError("the audit key must be at least 32 bytes")
            self._key = key
        return self._key


def _chain_of(session: Session) -> Chain:
    chain = session.info.get("audit_chain")
    if chain is None:
        raise RuntimeError("A session without the audit chain's key: take sessions from a Runtime.")
    return chain


@dataclass(frozen=True)
class AuditActor:
    account_id: int | None
    username: str


def _canonical(values: dict[str, Any]) -> bytes:
    return json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def row_hash(prev_hash: str, entry: dict[str, Any], key: bytes) -> str:
    body = {k: entry.get(k) for k in _HASHED}
    at = body["at"]
    body["at"] = at.isoformat(timespec="microseconds") if at is not None else None
    return hmac.new(key, prev_hash.encode() + _canonical(body), hashlib.sha256).hexdigest()


_HASHED = (
    "at", "account_id", "actor", "action", "table_name", "row_id",
    "subject_participant_id", "fields", "detail",
)


def append(session: Session, entries: Iterable[dict[str, Any]]) -> None:
    """Append entries to the chain inside the session's transaction; checkpointed at its commit."""
    entries = list(entries)
    if not entries:
        return
    key = _chain_of(session).key
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    else:
        # SQLite transactions begin deferred: take the write lock before reading the last hash,
        # so that no other writer can append between the read and this transaction's commit.
        hold_write_lock(conn)
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
        e["row_hash"] = prev = row_hash(prev, e, key)
        rows.append(e)
    conn.execute(insert(AuditLog), rows)
    # This transaction holds the chain's lock, so the newest id is this append's last entry.
    session.info["audit_head"] = (conn.execute(select(func.max(AuditLog.id))).scalar_one(), prev)


@event.listens_for(Session, "after_commit")
def _checkpoint(session: Session) -> None:
    head = session.info.pop("audit_head", None)
    if head is not None:
        _chain_of(session).sink.write(*head)


@event.listens_for(Session, "after_rollback")
def _forget_head(session: Session) -> None:
    session.info.pop("audit_head", None)


def about_text(what: str, text: str, *, kept_as: int | None = None) -> str:
    """What the log keeps of a free-text reason: that one was given, its length and a hash, and
    the `reason_texts` row that holds it (`kept_as`).

    The text itself stays in its own table (where it can be corrected or erased); the log, which
    nothing may change, never holds what a person typed (Youth Sex Protection Act Art. 31).
    """
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    where = "" if kept_as is None else f", {_KEPT_AS} {kept_as}"
    return f"{what} given ({len(text)} characters, sha256 {digest}{where})"


_KEPT_AS = "reason_texts row"
_KEPT_AS_RE = re.compile(re.escape(_KEPT_AS) + r" (\d+)\)")


def kept_as(detail: str | None) -> int | None:
    """The `reason_texts` row an entry's `about_text` points to, or None (none kept, or an entry
    made before reasons were kept)."""
    m = _KEPT_AS_RE.search(detail or "")
    return int(m.group(1)) if m else None


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
        session,
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
    append(session, entries)


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    rows_checked: int
    first_broken_id: int | None = None
    reason: Message | None = None
    checkpoints_checked: int = 0

    def message(self) -> str:
        if self.ok:
            return (f"audit chain verified: {self.rows_checked} entries, no broken link, "
                    f"{self.checkpoints_checked} checkpoints held")
        where = f" at entry {self.first_broken_id}" if self.first_broken_id is not None else ""
        return (f"audit chain BROKEN{where}: {self.reason} "
                f"({self.rows_checked} entries checked before it)")


def verify_chain(conn: Connection, chain: Chain, batch: int = 5000) -> ChainReport:
    """Check every link under the key, then that every checkpoint's entry is still there, unchanged."""
    prev = GENESIS
    checked = 0
    key = chain.key
    try:
        points = sorted(chain.sink.read(), key=lambda c: c.entry_id)
    except ValueError as exc:
        return ChainReport(False, 0, None, Message(
            "audit.checkpoints_unreadable", "the checkpoints cannot be read ({problem})",
            problem=str(exc)))
    wanted = {c.entry_id: c for c in points}
    held = 0
    last_id = 0
    cols = [getattr(AuditLog, k) for k in _HASHED] + [AuditLog.id, AuditLog.prev_hash, AuditLog.row_hash]
    # Per statement: Connection.execution_options() would change the caller's connection for good.
    result = conn.execute(select(*cols).order_by(AuditLog.id), execution_options={"yield_per": batch})
    for row in result:
        entry = row._asdict()
        if entry["prev_hash"] != prev:
            return ChainReport(False, checked, entry["id"], Message(
                "audit.link_broken",
                "it does not point to the entry before it (an entry was removed or inserted)"))
        if not hmac.compare_digest(row_hash(prev, entry, key), entry["row_hash"]):
            return ChainReport(False, checked, entry["id"], Message(
                "audit.entry_changed",
                "its content does not match its keyed hash (the entry was changed or forged)"))
        point = wanted.get(entry["id"])
        if point is not None:
            if point.row_hash != entry["row_hash"]:
                return ChainReport(False, checked, entry["id"], Message(
                    "audit.checkpoint_differs",
                    "the checkpoint of {at} names another entry {entry}: the log was rewound or "
                    "rewritten from there on", at=point.at, entry=entry["id"]))
            held += 1
        prev = entry["row_hash"]
        last_id = entry["id"]
        checked += 1
    if points and points[-1].entry_id > last_id:
        newest = points[-1]
        return ChainReport(False, checked, None, Message(
            "audit.entries_missing",
            "the log ends at entry {last} but the checkpoint of {at} names entry {named}: entries "
            "{first}-{named} are missing (removed, or the log was emptied or restored from an "
            "older copy)", last=last_id, at=newest.at, named=newest.entry_id, first=last_id + 1))
    return ChainReport(True, checked, checkpoints_checked=held)
