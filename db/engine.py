"""Engines and sessions for SQLite (embedded) and PostgreSQL, built from configuration at start-up."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection, Date, Engine, Float, Integer, Select, String, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from db import files
from errors import ConfigurationError


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Build an engine and prove it connects; a bad URL gives a message that says which part is wrong."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError(
            f"DSCR_DATABASE_URL is not a database URL ({exc}). Use sqlite:///PATH or "
            "postgresql+psycopg://USER@HOST:PORT/DBNAME."
        ) from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ConfigurationError(
            f"DSCR_DATABASE_URL names the backend {backend!r}; dscr runs on sqlite or postgresql."
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
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
        kwargs["connect_args"] = {"connect_timeout": 10}
    try:
        engine = create_engine(parsed, **kwargs)
    except (NoSuchModuleError, ArgumentError) as exc:
        raise ConfigurationError(f"DSCR_DATABASE_URL cannot be used: {exc}") from None
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        if db_file is not None:
            # Files left 0644 by an older dscr, or by a copy, are tightened at every connection.
            event.listen(engine, "connect", lambda *_: _tighten_sqlite_files(db_file))
        # pysqlite's own transaction handling begins too late for the audit chain; begin ourselves.
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise ConfigurationError(
            f"Cannot connect to the database at {parsed.render_as_string(hide_password=True)}: "
            f"{reason}. Check DSCR_DATABASE_URL and that the server is running."
        ) from None
    return engine


def _tighten_sqlite_files(db_file: Path) -> None:
    for path in files.sqlite_files(db_file):
        files.tighten(path)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # Autocommit at the driver level: SQLAlchemy's "begin" event issues BEGIN IMMEDIATE instead.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


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
