"""Revision 0008 goes down and up again, keeps what is below it, and refuses while educators exist."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from db import migrate

TABLES = {"prevention_programmes", "prevention_deliveries", "prevention_surveys",
          "prevention_reviews", "prevention_recommendations"}


def test_0008_refuses_to_go_down_with_an_educator_and_goes_down_and_up_without_one(rt, make_account):
    make_account("educator", "kim")
    assert TABLES <= set(inspect(rt.engine).get_table_names())
    with pytest.raises(RuntimeError, match="1 educator account"):
        migrate.downgrade(rt.engine, "0007")
    assert migrate.current_revision(rt.engine) == "0008"
    with rt.engine.begin() as conn:
        conn.execute(text("UPDATE accounts SET role = 'analyst' WHERE username = 'kim'"))
    migrate.downgrade(rt.engine, "0007")
    rt.engine.dispose()
    assert not TABLES & set(inspect(rt.engine).get_table_names())
    with rt.engine.begin() as conn, pytest.raises(Exception, match="ck_accounts_role|CHECK|check"):
        conn.execute(text("UPDATE accounts SET role = 'educator' WHERE username = 'kim'"))
    migrate.upgrade(rt.engine)
    with rt.engine.begin() as conn:
        conn.execute(text("UPDATE accounts SET role = 'educator' WHERE username = 'kim'"))
        assert conn.execute(text("SELECT role FROM accounts WHERE username = 'kim'")).scalar() == "educator"
    assert migrate.current_revision(rt.engine) == migrate.head_revision(rt.engine)
