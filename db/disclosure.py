"""The disclosure register: every release of a participant's information outside the programme.

The Juvenile Act (Art. 70) allows such a release only on a few legal bases; a release on any
other basis is refused, and each one that is made is recorded and listed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from db import access
from db.context import Context
from db.schema import DISCLOSURE_BASES, Account, Disclosure, Participant
from errors import ValidationError


@dataclass(frozen=True)
class DisclosureView:
    id: int
    participant_id: int
    study_code: str
    recipient: str
    legal_basis: str
    purpose: str
    released_on: dt.date
    recorded_by: str
    recorded_at: dt.datetime


def record_disclosure(ctx: Context, *, participant_id: int, recipient: str, legal_basis: str,
                      purpose: str, released_on: dt.date) -> int:
    """Record a release; refused unless its legal basis is one the Juvenile Act allows."""
    access.require(ctx, "disclosure.record")
    if legal_basis not in DISCLOSURE_BASES:
        raise ValidationError(
            f"A release on the basis {legal_basis!r} is not allowed: the Juvenile Act (Art. 70) "
            f"permits only {', '.join(DISCLOSURE_BASES)}. Without one of these bases the "
            "information may not leave the programme."
        )
    recipient = (recipient or "").strip()
    purpose = (purpose or "").strip()
    if not recipient:
        raise ValidationError("Name the recipient of the release (an office, not a person's contact).")
    if len(recipient) > 256:
        raise ValidationError(f"The recipient is {len(recipient)} characters long; 256 at most.")
    if len(purpose) < 10:
        raise ValidationError("State the purpose of the release (at least 10 characters); "
                              "it is kept in the register.")
    if not isinstance(released_on, dt.date) or isinstance(released_on, dt.datetime):
        raise ValidationError(f"released_on must be a date, got {released_on!r}.")
    if released_on > ctx.today:
        raise ValidationError(
            f"The release date {released_on} is in the future (today is {ctx.today}); record a "
            "release when it is made.")
    access.access_participant(ctx, participant_id, "disclosure.record")
    with ctx.transaction() as s:
        row = Disclosure(participant_id=participant_id, recipient=recipient, legal_basis=legal_basis,
                         purpose=purpose, released_on=released_on, recorded_by=ctx.actor.id)
        s.add(row)
        s.flush()
        return row.id


def list_disclosures(ctx: Context, *, participant_id: int | None = None) -> list[DisclosureView]:
    """The register, newest release first."""
    access.require(ctx, "disclosure.read")
    stmt = (select(Disclosure, Participant.study_code, Account.username)
            .join(Participant, Disclosure.participant_id == Participant.id)
            .join(Account, Disclosure.recorded_by == Account.id)
            .order_by(Disclosure.released_on.desc(), Disclosure.id.desc()))
    if participant_id is not None:
        stmt = stmt.where(Disclosure.participant_id == participant_id)
    with ctx.transaction() as s:
        return [DisclosureView(d.id, d.participant_id, code, d.recipient, d.legal_basis, d.purpose,
                               d.released_on, who, d.recorded_at)
                for d, code, who in s.execute(stmt)]
