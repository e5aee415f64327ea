"""SQLite's one write lock: reads take none, a writer waits only for another writer, and a lock
held too long gives "busy, try again", never a raw "database is locked"."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from sqlalchemy import func, select

from accounts import service as accounts
from db import audit
from db.context import SYSTEM, Runtime
from db.engine import make_engine
from db.schema import Account, AuditLog
from errors import StoreUnavailable

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

SHORT = 0.3  # seconds a connection waits for the write lock in these tests


@pytest.fixture
def quick_rt(rt, settings):
    """A second runtime on the same database whose connections give up on a lock quickly."""
    other = Runtime(settings, engine=make_engine(settings.database_url, busy_timeout=SHORT))
    yield other
    other.dispose()


def _db_file(settings) -> str:
    return settings.database_url.removeprefix("sqlite:///")


def test_a_long_read_does_not_block_a_write(rt, quick_rt, make_account):
    admin = make_account("admin")
    with rt.context(admin) as reader:
        # A read use case leaves its transaction open (a long report, a dashboard page).
        assert {a.username for a in accounts.list_accounts(reader)} == {admin.username}
        assert reader.session.in_transaction()
        started = time.monotonic()
        with quick_rt.context(SYSTEM) as writer:
            accounts.add_account(writer, username="written_meanwhile", role="analyst",
                                 password="a long password 1 for analysts")
        assert time.monotonic() - started < SHORT * 5
        # The reader's snapshot is its own until it ends; the next read sees the new account.
        reader.session.rollback()
        names = {a.username for a in accounts.list_accounts(reader)}
    assert "written_meanwhile" in names


def test_a_held_write_lock_gives_busy_try_again_quickly(rt, quick_rt, settings, make_account):
    admin = make_account("admin")
    holder = sqlite3.connect(_db_file(settings), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's long import, mid-batch
    try:
        started = time.monotonic()
        with quick_rt.context(SYSTEM) as ctx, pytest.raises(StoreUnavailable) as err:
            accounts.add_account(ctx, username="waits", role="analyst",
                                 password="a long password 1 for analysts")
        assert time.monotonic() - started < SHORT + 3
        assert err.value.code == "store.busy" and "Try again" in str(err.value)
        # Reads go on meanwhile.
        with quick_rt.context(admin) as ctx:
            assert "waits" not in {a.username for a in accounts.list_accounts(ctx)}
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with quick_rt.context(SYSTEM) as ctx:
        accounts.add_account(ctx, username="waits", role="analyst",
                             password="a long password 1 for analysts")


def test_a_writer_whose_reads_went_stale_is_refused_and_the_chain_stays_whole(rt, quick_rt):
    with rt.context(SYSTEM) as first, quick_rt.context(SYSTEM) as second:
        # Both read the chain's end in deferred transactions; the first appends and commits.
        first.session.scalar(select(func.count()).select_from(AuditLog))
        second.session.scalar(select(func.count()).select_from(AuditLog))
        audit.record(first.session, "note", detail="first")
        first.session.commit()
        # The second would chain onto a hash that is no longer the last: SQLite refuses it.
        with pytest.raises(StoreUnavailable) as err:
            audit.record(second.session, "note", detail="second")
        assert err.value.code == "store.busy"
        second.session.rollback()
        audit.record(second.session, "note", detail="second, again")
        second.session.commit()
    with rt.engine.connect() as conn:
        assert audit.verify_chain(conn, rt.audit_chain).ok


def test_writers_in_threads_keep_one_audit_chain(rt):
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(6):
                with rt.context(SYSTEM) as ctx:
                    accounts.add_account(ctx, username=f"thread{n}_{i}", role="analyst",
                                         password="a long password 1 for analysts")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Account)) == 18
    with rt.engine.connect() as conn:
        report = audit.verify_chain(conn, rt.audit_chain)
    assert report.ok, report.message()
