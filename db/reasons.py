"""Free-text reasons kept apart from the audit log: encrypted under the field key, correctable, erasable.

A re-identification reason, a break-glass reason and a cohort's sign-off decision each become a
`reason_texts` row; the audit entry of the act keeps only `audit.about_text` (length, hash, and
this row's id). The use cases check who may do what (`db.access.access_reason`) and run the
victims' guard on the text before it reaches these functions; every read of a text here is itself
recorded in the audit log.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from collections.abc import Iterator
from contextlib import contextmanager

from db import audit
from db.conflicts import converting_stale
from db.context import Context
from db.schema import AccessGrant, Account, ReasonText, utcnow
from errors import Conflict, Message

_THIS_REASON = Message("db.this_reason", "This reason")


@dataclass(frozen=True)
class ReasonView:
    """A kept reason as a page shows it; `text` is None once it was erased."""

    id: int
    kind: str
    participant_id: int | None
    cohort_id: int | None
    written_by: str
    written_at: dt.datetime
    text: str | None
    corrected_by: str | None
    corrected_at: dt.datetime | None
    erased_by: str | None
    erased_at: dt.datetime | None

    @property
    def erased(self) -> bool:
        return self.erased_at is not None


def keep(ctx: Context, kind: str, text: str, *, participant_id: int | None = None,
         cohort_id: int | None = None, written_by: int | None = None,
         written_at: dt.datetime | None = None) -> int:
    """Keep a (guarded) text encrypted, inside the caller's transaction; returns the row id."""
    row = ReasonText(kind=kind, participant_id=participant_id, cohort_id=cohort_id,
                     text_enc=ctx.keyring.encrypt(text), key_id=ctx.keyring.primary_id,
                     written_by=ctx.actor.id if written_by is None else written_by,
                     written_at=written_at or utcnow())
    ctx.session.add(row)
    ctx.session.flush()
    return row.id


def _usernames(ctx: Context, rows: list[ReasonText]) -> dict[int, str]:
    ids = {i for r in rows for i in (r.written_by, r.corrected_by, r.erased_by) if i is not None}
    if not ids:
        return {}
    return dict(ctx.session.execute(select(Account.id, Account.username).where(Account.id.in_(ids))).all())


def views(ctx: Context, rows: list[ReasonText]) -> list[ReasonView]:
    """The rows with their texts decrypted, each read recorded; call inside a transaction."""
    names = _usernames(ctx, rows)
    out = []
    for r in rows:
        text = None
        if r.erased_at is None:
            text = ctx.decrypt(r.text_enc, table="reason_texts", row_id=r.id, field_name="text",
                               participant_id=r.participant_id)
        out.append(ReasonView(r.id, r.kind, r.participant_id, r.cohort_id, names.get(r.written_by, "?"),
                              r.written_at, text, names.get(r.corrected_by), r.corrected_at,
                              names.get(r.erased_by), r.erased_at))
    return out


@contextmanager
def changing(ctx: Context, row: ReasonText) -> Iterator[None]:
    """The transaction of a correction or erasure: one saved by someone else in between gives
    the Conflict naming who, and nothing of this one is saved."""
    with converting_stale(ctx, "reason_texts", _THIS_REASON, None) as target:
        target["row_id"] = row.id
        yield


def _refuse_erased(row: ReasonText) -> None:
    if row.erased_at is not None:
        raise Conflict("db.reason_erased",
                       "Reason {reason_id} was erased on {erased_at:%Y-%m-%d}; an erased reason "
                       "cannot be corrected.", reason_id=row.id, erased_at=row.erased_at)


def correct(ctx: Context, row: ReasonText, text: str) -> None:
    """Replace a kept text with a (guarded) corrected one; the log keeps the new one's hash."""
    _refuse_erased(row)
    row.text_enc = ctx.keyring.encrypt(text)
    row.key_id = ctx.keyring.primary_id
    row.corrected_by, row.corrected_at = ctx.actor.id, utcnow()
    ctx.session.flush()
    audit.record(ctx.session, "reason_correct", table_name="reason_texts", row_id=row.id,
                 subject_participant_id=row.participant_id,
                 detail=audit.about_text("correction", text, kept_as=row.id))


def erase(ctx: Context, row: ReasonText) -> bool:
    """Erase a kept text for good (the row, who wrote it and when stay); False if it was already."""
    if row.erased_at is not None:
        return False
    row.text_enc, row.key_id = None, None
    row.erased_by, row.erased_at = ctx.actor.id, utcnow()
    ctx.session.flush()
    audit.record(ctx.session, "reason_erase", table_name="reason_texts", row_id=row.id,
                 subject_participant_id=row.participant_id)
    return True


def move_plain_break_glass_reasons(ctx: Context) -> int:
    """Encrypt into `reason_texts` the reasons of grants made before revision 0004, which a
    migration (holding no key) left in plain text in access_grants.reason; returns how many."""
    with ctx.transaction() as s:
        grants = s.scalars(select(AccessGrant).where(
            AccessGrant.reason.is_not(None), AccessGrant.reason_id.is_(None))
            .order_by(AccessGrant.id)).all()
        for g in grants:
            g.reason_id = keep(ctx, "break_glass", g.reason, participant_id=g.participant_id,
                               written_by=g.counselor_id, written_at=g.granted_at)
            g.reason = None
        s.flush()
        return len(grants)
