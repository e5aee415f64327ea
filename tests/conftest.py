"""Shared fixtures: every store test runs on SQLite and on a real PostgreSQL started here."""

from __future__ import annotations

import copy
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


# The synthetic programmes tests ask for by fixture name. Each is loaded once per backend per run
# (3-5 s for 40 participants, about 20 s for 250) and copied for every test that names it: the
# data folder (field, study-code and audit-chain keys, checkpoints) by file copy, the database by
# file copy on SQLite and by CREATE DATABASE ... TEMPLATE on PostgreSQL. Each test still gets a
# database of its own to change; what it finds there is what loader.load would have stored.
DEMOS: dict[str, dict] = {
    "demo_rt": dict(participants=40, seed=3, passwords={"admin": "admin-password-1"}),
    "demo250": dict(participants=250, seed=3),
}
_demo_builds: dict[tuple[str, str], tuple[Path, object, str | None]] = {}
_demo_summaries: dict[str, object] = {}


def _test_settings(folder: Path, database_url: str) -> Settings:
    return Settings(data_dir=folder, database_url=database_url, key_file=folder / "field.key",
                    study_key_file=folder / "study-code.key", user=None, scan_roots=(folder,))


def _demo_build(request, backend: str, name: str) -> tuple[Path, object, str | None]:
    """(data folder, summary, PostgreSQL template name) of one demo on one backend, built once."""
    if (backend, name) in _demo_builds:
        return _demo_builds[(backend, name)]
    from demo import loader

    folder = request.getfixturevalue("tmp_path_factory").mktemp(f"demo-{name}-{backend}")
    template = None
    if backend == "sqlite":
        shutil.copy(request.getfixturevalue("_sqlite_template"), folder / "dscr.sqlite3")
        url = f"sqlite:///{folder / 'dscr.sqlite3'}"
    else:
        admin = request.getfixturevalue("_pg_template")
        template = f"dscr_demo_{name}"
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'CREATE DATABASE "{template}" TEMPLATE dscr_template'))
        url = request.getfixturevalue("postgres_server").url(template)
    runtime = Runtime(_test_settings(folder, url), create_keys=True)
    runtime.check_key()
    runtime.study_coder  # noqa: B018 - the study-code key file, as `dscr db upgrade` makes it
    summary = loader.load(runtime, **DEMOS[name])
    runtime.dispose()  # no connection may stay open to a template; SQLite checkpoints its WAL
    _demo_builds[(backend, name)] = (folder, summary, template)
    return _demo_builds[(backend, name)]


@pytest.fixture
def database_url(backend, request, tmp_path):
    """A new, migrated database for one test, on the backend of the test's parameter; a copy of
    a demo programme when the test asks for one of DEMOS by name."""
    wanted = [n for n in DEMOS if n in request.fixturenames]
    assert len(wanted) <= 1, f"one demo programme per test, not {wanted}"
    demo = _demo_build(request, backend, wanted[0]) if wanted else None
    if demo is not None:
        shutil.copytree(demo[0], tmp_path, dirs_exist_ok=True)
    if backend == "sqlite":
        path = tmp_path / "dscr.sqlite3"
        if demo is None:
            shutil.copy(request.getfixturevalue("_sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        admin = request.getfixturevalue("_pg_template")
        server = request.getfixturevalue("postgres_server")
        name = f"t_{os.getpid()}_{next(_counter)}"
        source = demo[2] if demo is not None else "dscr_template"
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{source}"'))
        url = server.url(name)
    if demo is not None:
        _demo_summaries[url] = copy.deepcopy(demo[1])
    yield url
    _demo_summaries.pop(url, None)
    if backend != "sqlite":
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    return _test_settings(tmp_path, database_url)


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
    """A runtime whose database holds a small synthetic programme (DEMOS["demo_rt"]: 40
    participants, seed 3, the admin's password set), copied from the run's one load of it."""
    rt.demo_summary = _demo_summaries[rt.settings.database_url]
    return rt


def point_cli_at(rt, monkeypatch) -> None:
    """The DSCR_* variables the `dscr` command reads, pointing at `rt`'s database and key files."""
    st = rt.settings
    monkeypatch.setenv("DSCR_DATA_DIR", str(st.data_dir))
    monkeypatch.setenv("DSCR_DATABASE_URL", st.database_url)
    monkeypatch.setenv("DSCR_KEY_FILE", str(st.key_file))
    monkeypatch.setenv("DSCR_STUDY_KEY_FILE", str(st.study_key_file))
    monkeypatch.delenv("DSCR_USER", raising=False)


@pytest.fixture
def demo_cli(demo_rt, monkeypatch):
    """`demo_rt` with the `dscr` command pointed at it (`point_cli_at`)."""
    point_cli_at(demo_rt, monkeypatch)
    return demo_rt


@pytest.fixture
def demo250(rt):
    """A runtime whose database holds the 250-participant synthetic programme (seed 3), copied
    from the run's one load of it: enough follow-up and events to fit and gate risk models."""
    rt.demo_summary = _demo_summaries[rt.settings.database_url]
    return rt
