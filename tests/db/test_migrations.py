"""Migrations create the whole schema, agree with the models, and go down and up again cleanly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from db import migrate
from db.engine import make_engine
from db.schema import Base


def test_models_and_migrations_agree(database_url):
    engine = make_engine(database_url)
    with engine.connect() as conn:
        mc = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(mc, Base.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations differ: {diff}"


def test_downgrade_to_base_and_upgrade_again(database_url):
    engine = make_engine(database_url)
    assert migrate.current_revision(engine) == migrate.head_revision(engine)
    migrate.downgrade(engine, "base")
    tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
    assert tables == set()
    migrate.upgrade(engine)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    assert migrate.current_revision(engine) == migrate.head_revision(engine)
    engine.dispose()


def test_models_stored_before_0009_become_drafts_at_the_conclusion_landmark(database_url):
    import datetime as dt

    from sqlalchemy import text

    engine = make_engine(database_url)
    migrate.downgrade(engine, "0008")
    now = dt.datetime(2026, 11, 1, 9, 0)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO accounts (id, username, display_name, role, password_hash, active, "
            "failed_logins, password_changed_at, created_at, version) VALUES (1, 'analyst9', '', "
            "'analyst', 'x', true, 0, :now, :now, 1)"), {"now": now})
        conn.execute(text(
            "INSERT INTO risk_models (id, name, horizon_days, card, params, data_fingerprint, "
            "code_version, created_by, created_at) VALUES (1, 'logistic', 730, '{}', '{}', 'f', "
            "'dscr 0', 1, :now)"), {"now": now})
    migrate.upgrade(engine)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT status, landmark, version, approved_by FROM risk_models"
                                )).one()
    assert tuple(row) == ("draft", "conclusion", 1, None)
    # Going down keeps a draft (only withdrawn models are dropped) and comes back up.
    migrate.downgrade(engine, "0008")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM risk_models")).scalar() == 1
    migrate.upgrade(engine)
    engine.dispose()


def test_0010_makes_room_for_a_date_range_or_a_cohort_and_will_not_cut_one_going_down(database_url):
    import datetime as dt

    import pytest
    from sqlalchemy import text

    engine = make_engine(database_url)
    now = dt.datetime(2026, 11, 1, 9, 0)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO accounts (id, username, display_name, role, password_hash, active, "
            "failed_logins, password_changed_at, created_at, version) VALUES (1, 'committee9', '', "
            "'committee', 'x', true, 0, :now, :now, 1)"), {"now": now})
        conn.execute(text("INSERT INTO programmes (id, name, description) VALUES (1, 'P', '')"))
        conn.execute(text(
            "INSERT INTO programme_reviews (programme_id, rater_id, indicator, score, period, "
            "created_at) VALUES (1, 1, 'victim_perspective', 4, '2026-01-05~2026-06-30', :now)"),
            {"now": now})
    with pytest.raises(RuntimeError, match="programme_reviews holds a period of 21 characters"):
        migrate.downgrade(engine, "0009")
    assert migrate.current_revision(engine) == "0010"  # nothing was changed
    with engine.begin() as conn:
        conn.execute(text("UPDATE programme_reviews SET period = '2026-H1'"))
    migrate.downgrade(engine, "0009")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT period FROM programme_reviews")).scalar() == "2026-H1"
    migrate.upgrade(engine)
    engine.dispose()
