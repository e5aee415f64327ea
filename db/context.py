"""The Context every use case takes: a session, the acting account, and the keys it may use."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from db import audit, files
from db.config import Settings, load_settings
from db.crypto import Keyring
from db.engine import begin_writing, make_engine, session_factory
from db.pseudonym import StudyCoder
from db.schema import Account, Meta
from errors import ConfigurationError, NotFound, PermissionDenied, StoreUnavailable
from vocab import TIME_ZONE


ZONE = ZoneInfo(TIME_ZONE)


def local_today() -> dt.date:
    """Today in Seoul, where the programme runs (between 00:00 and 09:00 there the UTC date is
    still yesterday's): every use case's `ctx.today` unless the caller gives one."""
    return dt.datetime.now(ZONE).date()


# The store keeps moments as naive UTC (db.schema.utcnow); people count days in Seoul. These three
# are the only conversions between the two (the dashboard's dates module shows them).

def local(moment: dt.datetime) -> dt.datetime:
    """A stored moment (naive UTC, or aware) as Seoul's aware time."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(ZONE)


def utc_start_of(day: dt.date) -> dt.datetime:
    """The naive UTC moment at which Seoul's `day` begins (the day before, 15:00 UTC)."""
    return dt.datetime.combine(day, dt.time.min, ZONE).astimezone(dt.UTC).replace(tzinfo=None)


def local_times(moments: pd.Series) -> pd.Series:
    """Stored moments (naive UTC) as Seoul's wall-clock times, naive, for a whole column at once."""
    return (pd.to_datetime(moments, utc=True).dt.tz_convert(ZONE).dt.tz_localize(None))


@dataclass(frozen=True)
class Actor:
    id: int | None
    username: str
    role: str


SYSTEM = Actor(None, "system", "admin")
# The meta row that recognises the study-code key (as "key_check" does the field key).
STUDY_KEY_CHECK = "study_key_check"


@dataclass
class Context:
    session: Session
    actor: Actor
    runtime: Runtime
    today: dt.date = field(default_factory=lambda: local_today())
    task: str | None = None

    def __post_init__(self) -> None:
        self.session.info["audit_actor"] = audit.AuditActor(self.actor.id, self.actor.username)
        self.session.info["audit_task"] = self.task

    @property
    def keyring(self) -> Keyring:
        return self.runtime.keyring

    @property
    def study_coder(self) -> StudyCoder:
        return self.runtime.study_coder

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Commit when the block ends normally; roll back on any error, so nothing is half-written.

        The block is where a use case writes: on SQLite its transaction, when it begins here,
        takes the write lock at once (`db.engine.begin_writing`). Reads outside such a block
        begin deferred and take no lock.
        """
        try:
            begin_writing(self.session)
            yield self.session
            self.session.commit()
        except DBAPIError as exc:
            _safe_rollback(self.session)
            if exc.connection_invalidated or isinstance(exc, (OperationalError, InterfaceError)):
                raise StoreUnavailable(
                    "db.database_could_not_reached",
                    "The database could not be reached while saving, so nothing of this action "
                    "was saved. Your input is kept: try again when the database is back."
                ) from None
            raise
        except BaseException:
            _safe_rollback(self.session)
            raise

    def record_denied(self, action: str, detail: str) -> None:
        # The use case fails anyway: drop its open transaction, then keep the attempt in the log.
        self.session.rollback()
        audit.record(self.session, "denied", detail=f"{action}: {detail}")
        self.session.commit()

    def decrypt(self, token: str | None, *, table: str, row_id: object, field_name: str,
                participant_id: int | None) -> str | None:
        """Decrypt one identifying field, recording the read in the audit log."""
        audit.record(
            self.session, "read", table_name=table, row_id=row_id,
            subject_participant_id=participant_id, fields=[field_name], detail=self.task,
        )
        return self.keyring.decrypt(token)


def _safe_rollback(session: Session) -> None:
    try:
        session.rollback()
    except DBAPIError:  # the connection is gone; the server discards the open transaction
        session.close()


class Runtime:
    """The engine, sessions and keys of one running process (CLI command or dashboard)."""

    def __init__(self, settings: Settings | None = None, *, engine: Engine | None = None,
                 create_keys: bool = False) -> None:
        self.settings = settings or load_settings()
        if self.settings.data_dir.is_dir():
            # dscr's own folder: the database, the key files and reports live there (0700).
            files.private_dir(self.settings.data_dir, tighten_existing=True)
        self.engine = engine or make_engine(self.settings.database_url)
        self.sessions: sessionmaker[Session] = session_factory(self.engine)
        self._create_keys = create_keys
        self._keyring: Keyring | None = None
        self._key_stamp: int | None = None
        self._study_coder: StudyCoder | None = None
        self.audit_chain = audit.Chain(
            self.settings.audit_key_file,
            audit.FileCheckpoints(self.settings.audit_checkpoint_file), create=create_keys)
        # Every session of this runtime chains its audit entries under this key.
        self.sessions.configure(info={"audit_chain": self.audit_chain})

    @property
    def keyring(self) -> Keyring:
        # Re-read the key file when it changes (`dscr keys rotate` adds a key while dashboards run),
        # so that a long-running process can read rows re-encrypted under the new key.
        path = self.settings.key_file
        stamp = path.stat().st_mtime_ns if path.exists() else None
        if self._keyring is None or stamp != self._key_stamp:
            self._keyring = Keyring.from_file(path, create=self._create_keys)
            self._key_stamp = path.stat().st_mtime_ns
        return self._keyring

    @property
    def study_coder(self) -> StudyCoder:
        if self._study_coder is None:
            self._study_coder = StudyCoder.from_file(
                self.settings.study_key_file, create=self._create_keys
            )
        return self._study_coder

    def check_key(self) -> None:
        """Refuse to run with a field key or a study-code key that is not this database's, before
        any data is touched. A database without a check value yet gets one for the key in use."""
        with self.sessions() as s:
            row = s.get(Meta, "key_check")
            study_row = s.get(Meta, STUDY_KEY_CHECK)
            if row is not None:
                self.keyring.verify_check_value(row.value)
            if study_row is not None:
                self.study_coder.verify_check_value(study_row.value,
                                                    path=self.settings.study_key_file)
            if row is None or study_row is None:
                ctx = Context(s, SYSTEM, self, task="install key check")
                with ctx.transaction():
                    if row is None:
                        s.add(Meta(key="key_check", value=self.keyring.check_value()))
                    if study_row is None:
                        s.add(Meta(key=STUDY_KEY_CHECK, value=self.study_coder.check_value()))

    @contextmanager
    def context(self, actor: Actor, *, today: dt.date | None = None, task: str | None = None
                ) -> Iterator[Context]:
        with self.sessions() as s:
            yield Context(s, actor, self, today=today or local_today(), task=task)

    @contextmanager
    def context_for(self, username: str | None, *, task: str | None = None) -> Iterator[Context]:
        """A context acting as a named, active account (the CLI's --user / DSCR_USER)."""
        if not username:
            raise PermissionDenied(
                "db.name_acting_account_user",
                "Name the acting account with --user USERNAME or DSCR_USER; every action is "
                "recorded under it."
            )
        with self.sessions() as s:
            acc = s.scalars(select(Account).where(Account.username == username)).one_or_none()
            if acc is None or not acc.active:
                raise NotFound("db.no_active_account_named",
                               "No active account named {username!r}.",
                               username=username)
            yield Context(s, Actor(acc.id, acc.username, acc.role), self, task=task)

    def dispose(self) -> None:
        self.engine.dispose()


def require_schema(runtime: Runtime) -> None:
    from sqlalchemy import inspect

    if not inspect(runtime.engine).has_table("alembic_version"):
        raise ConfigurationError(
            "db.database_no_dscr_schema",
            "The database has no dscr schema yet. Run `dscr db upgrade` first."
        )
