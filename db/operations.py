"""Operations on the store: backup and restore, field-key rotation, and the retention purge.

The key files are never part of a backup: a backup holds encrypted fields, and whoever holds the
backup and the key holds the names. Keep the key files apart from the backups.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic.runtime.migration import MigrationContext
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.orm.exc import StaleDataError

from db import access, audit, files, migrate
from db.context import STUDY_KEY_CHECK, Context
from db.config import Settings, load_settings
from db.crypto import Keyring, read_key_lines
from db.schema import (
    Assessment,
    AuditLog,
    Base,
    CounselingSession,
    FollowUp,
    Goal,
    GoalReview,
    Meta,
    Participant,
    ParticipantIdentity,
    ReasonText,
    utcnow,
)
from errors import ConfigurationError, Conflict, DscrError, ValidationError

KEY_FILES_NOTE = (
    "The key files (DSCR_KEY_FILE, DSCR_STUDY_KEY_FILE) are NOT in this backup: copy them "
    "separately and keep them apart from it; without them the names, contacts and notes in the "
    "backup cannot be read."
)
SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"


# --- fingerprints: what a round trip must keep ----------------------------------------------

def _norm(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value


def table_fingerprints(engine: Engine) -> dict[str, tuple[int, str]]:
    """Row count and a SHA-256 of the content of every table, in primary-key order."""
    out: dict[str, tuple[int, str]] = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            h = hashlib.sha256()
            n = 0
            for row in conn.execute(select(table).order_by(*table.primary_key.columns)):
                h.update(json.dumps([_norm(v) for v in row], sort_keys=True, ensure_ascii=False,
                                    default=str).encode())
                h.update(b"\n")
                n += 1
            out[table.name] = (n, h.hexdigest())
        versions = sorted(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
        out["alembic_version"] = (len(versions), hashlib.sha256("\n".join(versions).encode()).hexdigest())
    return out


# --- backup and restore -----------------------------------------------------------------------

@dataclass(frozen=True)
class BackupReport:
    path: Path
    backend: str
    revision: str | None
    bytes: int
    note: str = KEY_FILES_NOTE


@dataclass(frozen=True)
class RestoreReport:
    path: Path
    backend: str
    revision: str | None
    fingerprints: dict[str, tuple[int, str]]
    note: str = KEY_FILES_NOTE
    kept_entries: int = 0


def _pg_bin(name: str, settings: Settings | None = None) -> str:
    bindir = (settings or load_settings()).pg_bindir
    if (bindir / name).exists():
        return str(bindir / name)
    found = shutil.which(name)
    if found is None:
        raise ConfigurationError("db.not_found_path_set",
                                 "{name} was not found in {bindir} or on PATH; set "
                                 "DSCR_PG_BINDIR to the PostgreSQL binaries' directory.",
                                 name=name, bindir=bindir)
    return found


def _pg_conninfo(engine: Engine) -> tuple[str, dict[str, str]]:
    """A libpq URL without the password (that goes in the environment, not the process list)."""
    url = engine.url.set(drivername="postgresql")
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
        url = url.set(password=None)
    return url.render_as_string(hide_password=False), env


def _run(cmd: list[str], env: dict[str, str] | None, what: str) -> subprocess.CompletedProcess:
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    if res.returncode != 0:
        reason = (res.stderr or res.stdout).strip().splitlines()
        raise DscrError("db.failed",
                        "{what} failed: {last_reason}",
                        what=what,
                        last_reason=reason[-1] if reason else 'exit ' + str(res.returncode))
    return res


def backup(ctx: Context, path: Path | str) -> BackupReport:
    """Copy the whole database to a new file at `path` (mode 600), consistent as of one moment."""
    access.require(ctx, "operations.backup")
    path = Path(path).expanduser().resolve()
    if path.exists():
        raise Conflict("db.exists_already_back_up",
                       "{path} exists already; back up to a new file name.",
                       path=path)
    files.private_dir(path.parent)
    engine = ctx.runtime.engine
    backend = engine.dialect.name
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    # Recorded before the copy, so that the backup carries its own entry. The context's own
    # connection reads the revision: on SQLite a second one would wait for its write lock.
    with ctx.transaction() as s:
        revision = MigrationContext.configure(s.connection()).get_current_revision()
        audit.record(s, "backup", detail=f"{backend} backup to {path.name} at revision {revision}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    try:
        if backend == "sqlite":
            raw = engine.raw_connection()
            try:
                dst = sqlite3.connect(partial)
                try:
                    raw.driver_connection.backup(dst)
                    # A self-contained file: no WAL beside it.
                    dst.execute("PRAGMA journal_mode=DELETE")
                finally:
                    dst.close()
            finally:
                raw.close()
        else:
            conninfo, env = _pg_conninfo(engine)
            _run([_pg_bin("pg_dump", ctx.runtime.settings), "-Fc", "--no-owner", "--no-privileges", "-f", str(partial),
                  "-d", conninfo], env, "pg_dump")
        os.chmod(partial, 0o600)
        with open(partial, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return BackupReport(path, backend, revision, path.stat().st_size)


def _backup_backend(path: Path) -> str:
    with open(path, "rb") as fh:
        head = fh.read(16)
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PGDUMP_MAGIC):
        return "postgresql"
    raise ValidationError("db.not_dscr_backup_neither",
                          "{path} is not a dscr backup: it is neither a SQLite database nor a "
                          "pg_dump custom-format archive.",
                          path=path)


def _copy_rows(path: Path, backend: str, table: str) -> list[list[str | None]]:
    """The rows of one small table of a backup, read without restoring it."""
    if backend == "sqlite":
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return [list(r) for r in con.execute(f"SELECT * FROM {table}")]  # fixed table names
        except sqlite3.DatabaseError:
            return []
        finally:
            con.close()
    res = _run([_pg_bin("pg_restore"), "--data-only", "-t", table, "-f", "-", str(path)], None,
               "reading the backup")
    rows, inside = [], False
    for line in res.stdout.splitlines():
        if line.startswith("COPY "):
            inside = True
            continue
        if inside:
            if line == "\\.":
                break
            rows.append([None if v == "\\N" else v for v in line.split("\t")])
    return rows


_SQLITE_GUARDS = {"audit_log_no_update", "audit_log_no_delete"}
_PG_GUARD = "TRIGGER public audit_log audit_log_append_only"


def _backup_audit(path: Path, backend: str) -> tuple[int | None, str | None, bool]:
    """The backup's newest audit entry (id, hash), and whether its log is still append-only."""
    if backend == "sqlite":
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            head = con.execute("SELECT id, row_hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
            triggers = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        except sqlite3.DatabaseError:
            return None, None, False
        finally:
            con.close()
        guarded = _SQLITE_GUARDS <= triggers
        return (head[0], head[1], guarded) if head else (None, None, guarded)
    listing = _run([_pg_bin("pg_restore"), "--list", str(path)], None, "reading the backup").stdout
    guarded = any(_PG_GUARD in line for line in listing.splitlines() if not line.startswith(";"))
    res = _run([_pg_bin("pg_restore"), "--data-only", "-t", "audit_log", "-f", "-", str(path)], None,
               "reading the backup")
    columns: list[str] = []
    last: list[str] | None = None
    for line in res.stdout.splitlines():
        if line.startswith("COPY "):
            columns = [c.strip().strip('"') for c in line[line.index("(") + 1:line.index(")")].split(",")]
            continue
        if columns:
            if line == "\\.":
                break
            last = line.split("\t")
    if not last:
        return None, None, guarded
    row = dict(zip(columns, last, strict=True))
    return int(row["id"]), row["row_hash"], guarded


def restore(ctx: Context, path: Path | str) -> RestoreReport:
    """Replace the database with a backup of the same backend, schema revision and key.

    The audit log is not rewound: the entries made since the backup (a re-identification, a
    download) are carried over into the restored database as they were, so the chain and its
    checkpoints still verify, and the restore itself is the next entry. A backup whose log is
    not the beginning of this database's log, or whose append-only guard was dropped, is refused.
    """
    access.require(ctx, "operations.backup")
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise ValidationError("db.no_backup_file", "No backup file at {path}.", path=path)
    engine = ctx.runtime.engine
    backend = engine.dialect.name
    kind = _backup_backend(path)
    if kind != backend:
        raise ValidationError("db.backup_database_restore_into",
                              "{path} is a {kind} backup and this database is {backend}; "
                              "restore it into a {kind} database.",
                              path=path, kind=kind, backend=backend)
    versions = _copy_rows(path, kind, "alembic_version")
    revision = versions[0][0] if versions else None
    head = migrate.head_revision(engine)
    if revision != head:
        raise ValidationError(
            "db.made_schema_revision_version",
            "{path} was made at schema revision {value} and this version of dscr needs revision "
            "{head}. Restore it with the dscr version that made it, or restore it into a new "
            "database and run `dscr db upgrade` there.",
            path=path, value=revision or '(none)', head=head)
    meta_rows = dict((k, v) for k, v in _copy_rows(path, kind, "meta"))
    check = meta_rows.get("key_check")
    study_check = meta_rows.get(STUDY_KEY_CHECK)
    if study_check is not None and study_check != ctx.study_coder.check_value():
        raise ConfigurationError(
            "restore.study_key_mismatch",
            "{path} was made with another study-code key than DSCR_STUDY_KEY_FILE ({key_file}). "
            "Point DSCR_STUDY_KEY_FILE at the key file kept with that backup, then restore again.",
            path=str(path), key_file=str(ctx.runtime.settings.study_key_file))
    if check is not None:
        try:
            ctx.keyring.verify_check_value(check)
        except ConfigurationError:
            raise ConfigurationError(
                "db.encrypted_another_key_dscr",
                "{path} was encrypted with another key than DSCR_KEY_FILE ({primary_id}). Point "
                "DSCR_KEY_FILE at the key file kept with that backup, then restore again.",
                path=path, primary_id=ctx.keyring.primary_id
            ) from None
    head_id, head_hash, guarded = _backup_audit(path, kind)
    if not guarded:
        raise ValidationError(
            "db.backup_unguarded",
            "{path} holds an audit log without its append-only guard (the triggers were dropped): "
            "its history may have been rewritten, so it is not restored. Restore a backup made by "
            "`dscr backup`.", path=path)
    here = ctx.session.scalar(select(AuditLog.row_hash).where(AuditLog.id == head_id)) \
        if head_id is not None else None
    if head_id is not None and here != head_hash:
        raise ValidationError(
            "db.backup_other_history",
            "{path} does not hold the beginning of this database's audit log (its entry {entry} "
            "differs or is missing here): it is a backup of another database, or of a rewritten "
            "log. Restoring it would lose this log's history, so it is refused.",
            path=path, entry=head_id)
    columns = [c for c in AuditLog.__table__.columns]
    kept = [dict(r._mapping) for r in ctx.session.execute(
        select(*columns).where(AuditLog.id > (head_id or 0)).order_by(AuditLog.id))]
    actor = audit.AuditActor(ctx.actor.id, ctx.actor.username)
    ctx.session.close()
    engine.dispose()
    if backend == "sqlite":
        src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        raw = engine.raw_connection()
        try:
            src.backup(raw.driver_connection)
        finally:
            raw.close()
            src.close()
    else:
        conninfo, env = _pg_conninfo(engine)
        # One transaction: a failed restore leaves the database as it was.
        _run([_pg_bin("pg_restore", ctx.runtime.settings), "--clean", "--if-exists", "--no-owner", "--no-privileges",
              "--single-transaction", "--exit-on-error", "-d", conninfo, str(path)], env, "pg_restore")
    engine.dispose()
    fingerprints = table_fingerprints(engine)
    with ctx.runtime.sessions() as s:
        s.info["audit_actor"] = actor
        if kept:
            # The entries made after the backup, as they were: their links and hashes still hold.
            s.execute(insert(AuditLog), kept)
            if backend == "postgresql":
                s.execute(text("SELECT setval(pg_get_serial_sequence('audit_log', 'id'), "
                               "(SELECT max(id) FROM audit_log))"))
        audit.record(s, "restore", detail=(
            f"restored {kind} backup {path.name} at revision {revision}; "
            f"{len(kept)} later audit entries kept"))
        s.commit()
    return RestoreReport(path, backend, revision, fingerprints, kept_entries=len(kept))


# --- key rotation -----------------------------------------------------------------------------

# Every encrypted column, by model. Values that are not Fernet tokens (the erased marker) are skipped.
ENCRYPTED_FIELDS: tuple[tuple[type, tuple[str, ...]], ...] = (
    (ParticipantIdentity, ("name_enc", "birth_date_enc", "contact_enc", "guardian_contact_enc")),
    (CounselingSession, ("notes_enc",)),
    (Assessment, ("notes_enc",)),
    (Goal, ("text_enc",)),
    (GoalReview, ("note_enc",)),
    (ReasonText, ("text_enc",)),
)
ERASED = "erased"


def write_key_file(path: Path, keys: list[bytes]) -> None:
    """Replace a key file atomically: a 0600 temp file beside it, fsync, rename, fsync the folder."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(b"".join(k + b"\n" for k in keys))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def _set_keyring(ctx: Context, keys: list[bytes]) -> Keyring:
    ring = Keyring(keys)
    ctx.runtime._keyring = ring  # the runtime reads the file once; give it the new keys now
    return ring


def _is_token(value: str | None) -> bool:
    return bool(value) and value != ERASED


@dataclass(frozen=True)
class RotationReport:
    new_key_id: str
    keys_in_file: int
    fields_reencrypted: int
    rows_updated: int
    retired: int = 0


def rotate_keys(ctx: Context, *, batch_size: int = 200, new_key: bytes | None = None) -> RotationReport:
    """Put a new key first in the key file and re-encrypt every encrypted field under it.

    Old keys stay in the file (readers keep decrypting with them) until `retire_old_keys`.
    Resumable: a field already under the newest key is left alone, so a rerun finishes the work.
    """
    access.require(ctx, "keys.rotate")
    key_file = ctx.runtime.settings.key_file
    keys = read_key_lines(key_file)
    key = new_key or Fernet.generate_key()
    if key in keys:
        raise Conflict("db.key_key_file_already", "That key is in the key file already.")
    keys = [key, *keys]
    write_key_file(key_file, keys)
    ring = _set_keyring(ctx, keys)
    with ctx.transaction() as s:
        audit.record(s, "key_rotate", detail=f"new key {ring.primary_id}; {len(keys)} keys in the file")
    fields, rows = _reencrypt_all(ctx, keys, batch_size)
    return RotationReport(ring.primary_id, len(keys), fields, rows)


def _reencrypt_all(ctx: Context, keys: list[bytes], batch_size: int) -> tuple[int, int]:
    newest = Fernet(keys[0])
    multi = MultiFernet([Fernet(k) for k in keys])
    key_id = Keyring(keys).primary_id

    def under_newest(token: str) -> bool:
        try:
            newest.decrypt(token.encode("ascii"))
            return True
        except InvalidToken:
            return False

    n_fields = n_rows = 0
    for model, names in ENCRYPTED_FIELDS:
        pk = model.__mapper__.primary_key[0]
        last = None
        while True:
            for attempt in range(5):
                try:
                    with ctx.transaction() as s:
                        stmt = select(model).order_by(pk).limit(batch_size)
                        if last is not None:
                            stmt = stmt.where(pk > last)
                        batch = s.scalars(stmt).all()
                        for row in batch:
                            changed = False
                            for name in names:
                                token = getattr(row, name)
                                if _is_token(token) and not under_newest(token):
                                    setattr(row, name, multi.rotate(token.encode("ascii")).decode("ascii"))
                                    n_fields += 1
                                    changed = True
                            if changed:
                                n_rows += 1
                                if hasattr(row, "key_id"):
                                    row.key_id = key_id
                        next_last = getattr(batch[-1], pk.key) if batch else None
                    break
                except StaleDataError:
                    # A counselor saved one of these rows meanwhile: read the batch again.
                    ctx.session.expunge_all()
                    if attempt == 4:
                        raise Conflict("db.records_kept_changing_during",
                                       "Records kept changing during key rotation; run `dscr "
                                       "keys rotate --resume` again when it is quieter.") from None
            if not batch:
                break
            last = next_last
    with ctx.transaction() as s:
        meta = s.get(Meta, "key_check")
        if meta is not None and not under_newest(meta.value):
            meta.value = Keyring(keys).check_value()
    return n_fields, n_rows


def resume_rotation(ctx: Context, *, batch_size: int = 200) -> RotationReport:
    """Finish an interrupted rotation with the keys already in the file."""
    access.require(ctx, "keys.rotate")
    keys = read_key_lines(ctx.runtime.settings.key_file)
    ring = _set_keyring(ctx, keys)
    fields, rows = _reencrypt_all(ctx, keys, batch_size)
    return RotationReport(ring.primary_id, len(keys), fields, rows)


def fields_not_under_newest_key(ctx: Context) -> dict[str, int]:
    """How many encrypted fields of each table an older key is still needed for."""
    keys = read_key_lines(ctx.runtime.settings.key_file)
    newest = Fernet(keys[0])
    out: dict[str, int] = {}
    with ctx.transaction() as s:
        for model, names in ENCRYPTED_FIELDS:
            cols = [getattr(model, n) for n in names]
            for values in s.execute(select(*cols)):
                for token in values:
                    if not _is_token(token):
                        continue
                    try:
                        newest.decrypt(token.encode("ascii"))
                    except InvalidToken:
                        out[model.__tablename__] = out.get(model.__tablename__, 0) + 1
        meta = s.get(Meta, "key_check")
        if meta is not None:
            try:
                newest.decrypt(meta.value.encode("ascii"))
            except InvalidToken:
                out["meta"] = 1
    return out


def retire_old_keys(ctx: Context) -> int:
    """Drop every key but the newest from the key file, only when no field still needs one."""
    access.require(ctx, "keys.rotate")
    key_file = ctx.runtime.settings.key_file
    keys = read_key_lines(key_file)
    if len(keys) == 1:
        return 0
    left = fields_not_under_newest_key(ctx)
    if left:
        where = ", ".join(f"{n} in {t}" for t, n in sorted(left.items()))
        raise Conflict("db.old_keys_still_needed",
                       "Old keys are still needed ({where}); run `dscr keys rotate --resume` to "
                       "re-encrypt them first.",
                       where=where)
    write_key_file(key_file, keys[:1])
    _set_keyring(ctx, keys[:1])
    with ctx.transaction() as s:
        audit.record(s, "key_retire", detail=f"{len(keys) - 1} old key(s) dropped; newest kept")
    return len(keys) - 1


# --- retention --------------------------------------------------------------------------------

def retention_years(environ: dict[str, str] | None = None) -> int:
    """DSCR_RETENTION_YEARS (default 5), read by the one configuration module."""
    return load_settings(environ).retention_years


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


@dataclass(frozen=True)
class PurgeReport:
    dry_run: bool
    years: int
    cutoff: dt.date               # follow-up ended on or before this day
    study_codes: list[str]
    fields_erased: int


def purge_expired(ctx: Context, *, dry_run: bool, years: int | None = None) -> PurgeReport:
    """Erase the identifying fields and notes of participants whose retention period has ended.

    The period runs from the end of the participant's last follow-up window or, with no
    follow-up recorded, from the end of the programme for one who left it. The pseudonymised
    research record (study code, sessions' dates, scores, events) is kept.
    """
    access.require(ctx, "retention.purge")
    years = ctx.runtime.settings.retention_years if years is None else years
    if not 1 <= years <= 100:
        raise ValidationError("db.retention_period_years_2",
                              "The retention period must be 1..100 years, got {years}.",
                              years=years)
    cutoff = _years_before(ctx.today, years)
    last_fu = (select(FollowUp.participant_id, func.max(FollowUp.end_date).label("fu_end"))
               .group_by(FollowUp.participant_id).subquery())
    ended = func.coalesce(last_fu.c.fu_end, Participant.ended_on)
    stmt = (select(Participant.id, Participant.study_code)
            .join(ParticipantIdentity, ParticipantIdentity.participant_id == Participant.id)
            .outerjoin(last_fu, last_fu.c.participant_id == Participant.id)
            .where(ParticipantIdentity.erased_at.is_(None), ended.is_not(None), ended <= cutoff)
            .order_by(Participant.study_code))
    with ctx.transaction() as s:
        due = s.execute(stmt).all()
        if dry_run or not due:
            return PurgeReport(dry_run, years, cutoff, [c for _, c in due], 0)
        ids = [pid for pid, _ in due]
        n = 0
        now = utcnow()
        for ident in s.scalars(select(ParticipantIdentity).where(ParticipantIdentity.participant_id.in_(ids))):
            ident.name_enc = ERASED
            ident.birth_date_enc = ERASED
            n += 2 + (ident.contact_enc is not None) + (ident.guardian_contact_enc is not None)
            ident.contact_enc = None
            ident.guardian_contact_enc = None
            ident.key_id = ERASED
            ident.erased_at = now
        for model, field in ((CounselingSession, "notes_enc"), (Assessment, "notes_enc")):
            for row in s.scalars(select(model).where(model.participant_id.in_(ids),
                                                     getattr(model, field).is_not(None))):
                setattr(row, field, None)
                n += 1
        goals = s.scalars(select(Goal).where(Goal.participant_id.in_(ids))).all()
        for g in goals:
            if g.text_enc != ERASED:
                g.text_enc = ERASED
                n += 1
        if goals:
            for r in s.scalars(select(GoalReview).where(GoalReview.goal_id.in_([g.id for g in goals]),
                                                        GoalReview.note_enc.is_not(None))):
                r.note_enc = None
                n += 1
        # The reasons given for re-identifying or opening them go with their identities.
        for r in s.scalars(select(ReasonText).where(ReasonText.participant_id.in_(ids),
                                                    ReasonText.erased_at.is_(None))):
            r.text_enc, r.key_id, r.erased_at, r.erased_by = None, None, now, ctx.actor.id
            n += 1
        audit.record(s, "retention_purge",
                     detail=f"{len(ids)} participants, {n} fields erased; follow-up ended on or "
                            f"before {cutoff} ({years} years)")
        return PurgeReport(False, years, cutoff, [c for _, c in due], n)
