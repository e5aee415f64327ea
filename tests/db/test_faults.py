"""Faults: the database going away mid-write, and a migration that fails half-way."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import func, inspect, select, text

from db import migrate
from casework import service as casework
from db.config import Settings
from db.context import SYSTEM, Runtime
from db.engine import make_engine
from db.schema import Participant, ParticipantIdentity
from errors import StoreUnavailable


@pytest.fixture
def own_postgres():
    """A server of this test's own, so that stopping it disturbs no other test."""
    from tests.pg import start_postgres

    server = start_postgres()
    yield server
    server.destroy()


def test_a_server_that_goes_away_mid_write_leaves_nothing_half_written(own_postgres, tmp_path):
    url = own_postgres.url()
    engine = make_engine(url)
    migrate.upgrade(engine)
    settings = Settings(tmp_path, url, tmp_path / "field.key", tmp_path / "study.key", None)
    rt = Runtime(settings, engine=engine, create_keys=True)
    rt.check_key()
    rt.study_coder  # noqa: B018
    with rt.context(SYSTEM) as ctx:
        prog = casework.add_programme(ctx, name="p")
        cohort = casework.add_cohort(ctx, programme_id=prog, name="c", start_date=dt.date(2026, 1, 1))
    with rt.context(SYSTEM) as ctx:
        with pytest.raises(StoreUnavailable, match="nothing of this action was saved"):
            with ctx.transaction() as s:
                # A participant is flushed (the server holds half of the record) ...
                s.add(Participant(study_code="P-HALF", cohort_id=cohort, sex="male", age_at_referral=15,
                                  enrolled_on=dt.date(2026, 1, 5)))
                s.flush()
                # ... when the server stops before the identity and the commit.
                own_postgres.stop(mode="immediate")
                s.add(ParticipantIdentity(participant_id=1, name_enc="x", birth_date_enc="x",
                                          key_id="k"))
    own_postgres.start()
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Participant)) == 0
        assert s.scalar(select(func.count()).select_from(ParticipantIdentity)) == 0
    # And the next action works without a restart of dscr.
    with rt.context(SYSTEM) as ctx:
        casework.add_programme(ctx, name="after the outage")
    rt.dispose()


def test_a_failed_migration_leaves_the_schema_as_it_was(database_url, tmp_path):
    engine = make_engine(database_url)
    before = sorted(inspect(engine).get_table_names())
    head = migrate.head_revision(engine)
    scripts = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / "0099_broken.py").write_text(
        '"""A migration that fails half-way."""\n'
        "from alembic import op\nimport sqlalchemy as sa\n\n"
        f"revision = '0099'\ndown_revision = '{head}'\nbranch_labels = None\ndepends_on = None\n\n\n"
        "def upgrade():\n"
        "    op.create_table('half_made', sa.Column('id', sa.Integer, primary_key=True))\n"
        "    op.add_column('participants', sa.Column('extra', sa.Integer))\n"
        "    op.execute('SELECT * FROM no_such_table')\n\n\n"
        "def downgrade():\n    pass\n")
    cfg = migrate.alembic_config(engine)
    cfg.set_main_option("script_location", str(scripts))
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        with pytest.raises(Exception, match="no_such_table"):
            command.upgrade(cfg, "head")
        conn.rollback()
    engine.dispose()
    engine = make_engine(database_url)
    assert sorted(inspect(engine).get_table_names()) == before
    assert "extra" not in {c["name"] for c in inspect(engine).get_columns("participants")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head
    engine.dispose()
    assert Path(migrate.MIGRATIONS / "versions" / "0099_broken.py").exists() is False
