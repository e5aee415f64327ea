"""Engines and sessions for SQLite (embedded) and PostgreSQL, built from configuration at start-up."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextvars import ContextVar
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection, Date, Engine, Float, Integer, Select, String, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from db import files
from errors import ConfigurationError, StoreUnavailable


# How long a SQLite connection waits for another's write lock before "busy, try again".
DEFAULT_BUSY_TIMEOUT = 30.0
SQLITE_BUSY = 5  # the primary result code; SQLITE_BUSY_SNAPSHOT (517) shares it
_LOCK_HELD = "dscr_write_lock_held"
_BEGIN_IMMEDIATE: ContextVar[bool] = ContextVar("dscr_begin_immediate", default=False)


def make_engine(url: str, *, echo: bool = False,
                busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> Engine:
    """Build an engine and prove it connects; a bad URL gives a message that says which part is wrong.

    On SQLite a transaction begins deferred: reads take no lock (WAL lets them run beside a
    writer), and only a transaction that writes takes the database's one write lock, at its first
    write (`hold_write_lock`) or from its start (`begin_writing`, for a use case's write block).
    A write lock that another connection holds longer than `busy_timeout` seconds gives
    StoreUnavailable ("busy, try again"), never a raw "database is locked".
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError(
            "db.dscr_database_url_not",
            "DSCR_DATABASE_URL is not a database URL ({exc}). Use sqlite:///PATH or "
            "postgresql+psycopg://USER@HOST:PORT/DBNAME.",
            exc=exc
        ) from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ConfigurationError(
            "db.dscr_database_url_names",
            "DSCR_DATABASE_URL names the backend {backend!r}; dscr runs on sqlite or postgresql.",
            backend=backend
        )
    if backend == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    kwargs: dict = {"echo": echo, "future": True}
    db_file: Path | None = None
    if backend == "sqlite":
        db_path = parsed.database
        if db_path and db_path != ":memory:" and not db_path.startswith("file:"):
            db_file = Path(db_path)
            files.private_dir(db_file.parent)
            # Created 0600 before SQLite opens it: SQLite gives -wal and -shm the same mode.
            files.create_private_file(db_file)
        kwargs["connect_args"] = {"timeout": busy_timeout}
    else:
        kwargs["pool_pre_ping"] = True
        kwargs["connect_args"] = {"connect_timeout": 10}
    try:
        engine = create_engine(parsed, **kwargs)
    except (NoSuchModuleError, ArgumentError) as exc:
        raise ConfigurationError("db.dscr_database_url_used",
                                 "DSCR_DATABASE_URL cannot be used: {exc}",
                                 exc=exc) from None
    if backend == "sqlite":
        event.listen(engine, "connect",
                     lambda dbapi_conn, _record: _sqlite_pragmas(dbapi_conn, busy_timeout))
        if db_file is not None:
            # Files left 0644 by an older dscr, or by a copy, are tightened at every connection.
            event.listen(engine, "connect", lambda *_: _tighten_sqlite_files(db_file))
        # pysqlite's own transaction handling is switched off (_sqlite_pragmas): begin ourselves.
        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "handle_error", _sqlite_busy)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise ConfigurationError(
            "db.connect_database_check_dscr",
            "Cannot connect to the database at {render_as_string}: {reason}. Check "
            "DSCR_DATABASE_URL and that the server is running.",
            render_as_string=parsed.render_as_string(hide_password=True), reason=reason
        ) from None
    return engine


def _tighten_sqlite_files(db_file: Path) -> None:
    for path in files.sqlite_files(db_file):
        files.tighten(path)


def _sqlite_pragmas(dbapi_conn, busy_timeout: float) -> None:
    # Autocommit at the driver level: SQLAlchemy's "begin" event issues BEGIN itself.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    immediate = _BEGIN_IMMEDIATE.get()
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
    conn.info[_LOCK_HELD] = immediate


def _sqlite_busy(context) -> None:
    orig = context.original_exception
    if isinstance(orig, sqlite3.OperationalError) and (
            getattr(orig, "sqlite_errorcode", 0) & 0xFF == SQLITE_BUSY
            or "database is locked" in str(orig)):
        raise StoreUnavailable(
            "store.busy",
            "The database is busy with another user's change, so nothing of this action was "
            "saved. Try again in a moment.") from None


def hold_write_lock(conn: Connection) -> None:
    """Make the connection's SQLite transaction hold the write lock from here to its end.

    For a transaction that has not written yet (a deferred one): a write that changes nothing
    takes the lock, waiting up to the busy timeout. If another connection committed since this
    transaction first read, SQLite refuses (its reads would be stale) and the caller gets
    "busy, try again". What the caller reads after this call is the newest committed data and
    stays so until it commits: the audit chain reads its last hash this way (db.audit.append).
    PostgreSQL needs nothing here (the audit chain takes an advisory lock there).
    """
    if conn.dialect.name != "sqlite" or conn.info.get(_LOCK_HELD):
        return
    conn.exec_driver_sql("UPDATE meta SET value = value WHERE 0")
    conn.info[_LOCK_HELD] = True


def begin_writing(session: Session) -> None:
    """Begin the session's SQLite transaction with the write lock (BEGIN IMMEDIATE), for a block
    that will write: it waits for another writer at the start instead of failing at its first
    write when it read data another writer changed meanwhile. A transaction begun already (the
    use case read first) keeps going deferred; it takes the lock at its first write."""
    if session.get_bind().dialect.name != "sqlite":
        return
    token = _BEGIN_IMMEDIATE.set(True)
    try:
        session.connection()
    finally:
        _BEGIN_IMMEDIATE.reset(token)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


# Types whose driver values are already what a frame wants (Date is parsed after, in one go).
_RAW_TYPES = (Integer, Float, String, Date)


def read_frame(conn: Connection, stmt: Select, columns: Sequence[str]) -> pd.DataFrame:
    """A Core select read into a DataFrame from the driver's cursor, without SQLAlchemy's per-row
    result objects (at 150,000 rows they cost more than the query).

    Only plain columns take this path: integers, floats, text and dates (SQLite gives dates as ISO
    text; they are parsed into `datetime.date` for the whole column at once). A select with any
    other type (booleans, timestamps, JSON, encrypted fields) is read the ordinary way.
    """
    columns = list(columns)
    types = [c.type for c in stmt.selected_columns]
    if len(types) != len(columns):
        raise ValueError(f"read_frame: {len(types)} selected columns but {len(columns)} names")
    if not all(isinstance(t, _RAW_TYPES) and type(t).__module__.startswith("sqlalchemy")
               for t in types):
        return pd.DataFrame(conn.execute(stmt).all(), columns=columns)
    result = conn.execute(stmt)
    try:
        rows = result.cursor.fetchall() if result.cursor is not None else []
    finally:
        result.close()
    frame = pd.DataFrame.from_records(rows, columns=columns)
    for name, type_ in zip(columns, types, strict=True):
        if isinstance(type_, Date) and conn.dialect.name == "sqlite" and len(frame):
            text_dates = frame[name]
            parsed = pd.to_datetime(text_dates, format="%Y-%m-%d").dt.date
            frame[name] = parsed.where(text_dates.notna(), None)
    return frame
