"""Shared fixtures: every store test runs on SQLite and on a real PostgreSQL started here."""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import text

from db import migrate, passwords
from db.config import Settings
from db.context import SYSTEM, Actor, Runtime
from db.engine import make_engine

BACKENDS = ("sqlite", "postgresql")
_used_backends: set[str] = set()
_pg_version: list[str] = []
_counter = itertools.count()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _used_backends:
        ran = ", ".join(sorted(_used_backends))
        extra = f" ({_pg_version[0]})" if _pg_version else ""
        terminalreporter.write_line(f"dscr store backends exercised: {ran}{extra}")


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing():
    # argon2id with cheap parameters keeps the suite fast; tests of the real defaults swap back.
    old = passwords.use_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    yield
    passwords.use_hasher(old)


@pytest.fixture(scope="session")
def postgres_server():
    if os.environ.get("DSCR_TEST_SKIP_POSTGRES") == "1":
        pytest.skip("DSCR_TEST_SKIP_POSTGRES=1")
    from tests.pg import start_postgres

    server = start_postgres()
    _pg_version.append(server.version())
    yield server
    server.destroy()


@pytest.fixture(scope="session")
def _pg_template(postgres_server):
    admin = make_engine(postgres_server.url(), echo=False)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("CREATE DATABASE dscr_template"))
    eng = make_engine(postgres_server.url("dscr_template"))
    migrate.upgrade(eng)
    eng.dispose()
    yield admin
    admin.dispose()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    eng = make_engine(f"sqlite:///{path}")
    migrate.upgrade(eng)
    eng.dispose()  # the last connection to close checkpoints the WAL into the file
    return path


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    _used_backends.add(request.param)
    return request.param


@pytest.fixture
def database_url(backend, request, tmp_path):
    """A new, migrated database for one test, on the backend of the test's parameter."""
    if backend == "sqlite":
        template = request.getfixturevalue("_sqlite_template")
        path = tmp_path / "dscr.sqlite3"
        shutil.copy(template, path)
        yield f"sqlite:///{path}"
        return
    admin = request.getfixturevalue("_pg_template")
    server = request.getfixturevalue("postgres_server")
    name = f"t_{os.getpid()}_{next(_counter)}"
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE dscr_template'))
    yield server.url(name)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    return Settings(data_dir=tmp_path, database_url=database_url, key_file=tmp_path / "field.key",
                    study_key_file=tmp_path / "study-code.key", user=None, scan_roots=(tmp_path,))


@pytest.fixture
def rt(settings):
    runtime = Runtime(settings, create_keys=True)
    runtime.check_key()
    runtime.study_coder  # noqa: B018 - creates the study-code key file, as `dscr db upgrade` does
    yield runtime
    runtime.dispose()


@pytest.fixture
def make_account(rt):
    """Create an account with a role; returns its Actor."""
    from accounts import service as accounts

    made = itertools.count(1)

    def _make(role: str, username: str | None = None, password: str = "correct horse 1") -> Actor:
        name = username or f"test_{role}{next(made)}"
        with rt.context(SYSTEM) as ctx:
            acc_id = accounts.add_account(ctx, username=name, role=role, password=password)
        return Actor(acc_id, name, role)

    return _make


@pytest.fixture
def demo_rt(rt):
    """A runtime whose database holds a small synthetic programme (seed 3)."""
    from demo import loader

    summary = loader.load(rt, participants=40, seed=3,
                        passwords={"admin": "admin-password-1"})
    rt.demo_summary = summary
    return rt
