"""Revision 0007 (the partner role and partner_tokens) goes down and up again, on both backends."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from db import migrate
from db.engine import make_engine


def test_going_below_0007_is_refused_while_a_partner_account_exists_then_clean(rt, make_account,
                                                                                database_url):
    make_account("partner", username="partner-account")
    rt.dispose()
    engine = make_engine(database_url)
    try:
        with pytest.raises(RuntimeError, match="1 partner account"):
            migrate.downgrade(engine, "0006")
        assert migrate.current_revision(engine) == "0007"
        with engine.begin() as conn:
            conn.execute(text("UPDATE accounts SET role = 'admin' WHERE role = 'partner'"))
        migrate.downgrade(engine, "0006")
        assert "partner_tokens" not in inspect(engine).get_table_names()
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text("UPDATE accounts SET role = 'partner' WHERE username = "
                              "'partner-account'"))
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision(engine)
        with engine.begin() as conn:
            conn.execute(text("UPDATE accounts SET role = 'partner' WHERE username = "
                              "'partner-account'"))
            assert conn.execute(text("SELECT count(*) FROM partner_tokens")).scalar() == 0
    finally:
        engine.dispose()
