"""What migrations share for SQLite's table copies (batch mode), apart from any schema.

SQLite changes a CHECK or drops a column only by copying the table; a table that others reference
(accounts, reason_texts) is copied with foreign keys off. The pragma is ignored inside a
transaction, so the open one is ended, the pragma set, and a new one begun (dscr's SQLite
connections leave transactions to us). Turning them on again checks every foreign key. This is
mechanics, not schema: a migration importing it means the same whatever revision it belongs to.
"""

from __future__ import annotations

from alembic import op


def foreign_keys(on: bool) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    bind.exec_driver_sql("COMMIT")
    bind.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    bind.exec_driver_sql("BEGIN IMMEDIATE")
    if on:
        broken = bind.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:  # pragma: no cover - the copy keeps every row and id
            raise RuntimeError(f"foreign keys broken by the migration: {broken[:5]}")
