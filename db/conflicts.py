"""The one builder of "changed by someone else" conflicts: who saved in between, and when, from the store.

Every use case that saves with optimistic locking (a version column) turns a stale save into the
same Conflict: what changed, who changed it last and when (read from the audit log, which every
write passes through), the version the user had, and what to do. The user's input is kept by the
page; the message says so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from db.schema import Account, AuditLog
from errors import Conflict, Message

if TYPE_CHECKING:
    from db.context import Context


def account_name(session: Session, account_id: int | None) -> Message | str:
    """How a person is named in a conflict: 'display name (username)', or 'someone else'."""
    if account_id is None:
        return Message("store.someone_else", "someone else")
    acc = session.get(Account, account_id)
    if acc is None:
        return Message("store.account_id", "account {account_id}", account_id=account_id)
    if acc.display_name and acc.display_name != acc.username:
        return f"{acc.display_name} ({acc.username})"
    return acc.username


def at_time(at: dt.datetime | None) -> Message | str:
    """' at 2026-10-13 09:30 UTC', or nothing when the time is unknown."""
    if at is None:
        return ""
    return Message("store.at_time", " at {at} UTC", at=f"{at:%Y-%m-%d %H:%M}")


def last_change(session: Session, table: str, row_id: object) -> Message:
    """'name at time' of the last write to a row, from the audit log."""
    entry = session.scalars(
        select(AuditLog).where(AuditLog.table_name == table, AuditLog.row_id == str(row_id),
                               AuditLog.action.in_(("insert", "update")))
        .order_by(AuditLog.id.desc()).limit(1)
    ).first()
    if entry is None:
        return Message("store.someone_else", "someone else")
    name = entry.actor if entry.account_id is None else account_name(session, entry.account_id)
    return Message("store.changed_by_at", "{name}{at}", name=name, at=at_time(entry.at))


def changed_since(session: Session, table: str, row_id: object, what: str | Message, *,
                  expected: int | None = None, actual: int | None = None) -> Conflict:
    """The Conflict of a save based on a stale version of a row."""
    if expected is not None and actual is not None:
        versions: Message | str = Message(
            "store.versions", ": you have version {expected} (now version {actual})",
            expected=expected, actual=actual)
    elif expected:
        versions = Message("store.version", ": you have version {expected}", expected=expected)
    else:
        versions = ""
    return Conflict(
        "store.changed_since_read",
        "{what} was changed by {last_change} after you opened it{versions}. Your input is kept: "
        "reload it, compare and save again.",
        what=what, last_change=last_change(session, table, row_id), versions=versions)


@contextmanager
def converting_stale(ctx: Context, table: str, what: str | Message, expected: int | None
                     ) -> Iterator[dict[str, object]]:
    """A transaction whose concurrent-save failure becomes the Conflict naming who saved in between.

    The block puts the id of the row it changes in the yielded dict's "row_id".
    """
    target: dict[str, object] = {"row_id": None}
    try:
        with ctx.transaction():
            yield target
    except StaleDataError:
        raise changed_since(ctx.session, table, target["row_id"], what,
                            expected=expected or None) from None
    except IntegrityError as exc:
        # A unique rule of the database (one answer sheet, one step row per version) was hit by
        # a save that raced ours: nothing of ours was written.
        if "unique" not in str(exc.orig).lower() and "duplicate" not in str(exc.orig).lower():
            raise
        raise Conflict(
            "store.saved_at_same_moment",
            "{what} were saved by someone else at the same moment. Nothing of yours was saved: "
            "reload, compare and save again.",
            what=what) from None
