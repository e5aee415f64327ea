"""The disclosure register: releases on a Juvenile Act basis are recorded and listed; others refused."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from casework.service import list_disclosures, record_disclosure
from db.schema import DISCLOSURE_BASES, AuditLog, Disclosure, Participant
from errors import NotFound, PermissionDenied, ValidationError

TODAY = dt.date(2026, 3, 2)


def _two_participants(rt):
    with rt.sessions() as s:
        return list(s.scalars(select(Participant.id).order_by(Participant.id).limit(2)))


def test_release_on_an_allowed_basis_is_recorded_listed_and_audited(demo_rt, make_account):
    admin = make_account("admin")
    p1, p2 = _two_participants(demo_rt)
    with demo_rt.context(admin, today=TODAY) as ctx:
        d1 = record_disclosure(ctx, participant_id=p1, recipient="Seoul Family Court",
                               legal_basis="juvenile_act_70_1_court_or_prosecution",
                               purpose="hearing on protective disposition",
                               released_on=dt.date(2026, 2, 1))
        d2 = record_disclosure(ctx, participant_id=p2, recipient="Child protection agency",
                               legal_basis="juvenile_act_70_1_child_protection",
                               purpose="safety plan for the young person", released_on=TODAY)
        rows = list_disclosures(ctx)
        only_p1 = list_disclosures(ctx, participant_id=p1)
        code1 = ctx.session.get(Participant, p1).study_code
    assert [r.id for r in rows] == [d2, d1]  # newest release first
    assert [(r.id, r.study_code, r.recipient, r.legal_basis, r.released_on, r.recorded_by)
            for r in only_p1] == [(d1, code1, "Seoul Family Court",
                                   "juvenile_act_70_1_court_or_prosecution", dt.date(2026, 2, 1),
                                   admin.username)]
    with demo_rt.sessions() as s:
        logged = s.scalars(select(AuditLog.subject_participant_id).where(
            AuditLog.table_name == "disclosures", AuditLog.action == "insert")).all()
    assert sorted(logged) == sorted([p1, p2])


def test_release_on_any_other_basis_is_refused_naming_the_allowed_ones(demo_rt, make_account):
    admin = make_account("admin")
    p1, _ = _two_participants(demo_rt)
    with demo_rt.context(admin, today=TODAY) as ctx:
        with pytest.raises(ValidationError) as err:
            record_disclosure(ctx, participant_id=p1, recipient="A newspaper",
                              legal_basis="public_interest", purpose="a story about the case",
                              released_on=TODAY)
        for bad in (dict(recipient=" "), dict(purpose="x"), dict(released_on=TODAY + dt.timedelta(days=1))):
            args = dict(participant_id=p1, recipient="Seoul Family Court",
                        legal_basis=DISCLOSURE_BASES[0], purpose="hearing on disposition",
                        released_on=TODAY) | bad
            with pytest.raises(ValidationError):
                record_disclosure(ctx, **args)
        with pytest.raises(NotFound):
            record_disclosure(ctx, participant_id=10**6, recipient="Seoul Family Court",
                              legal_basis=DISCLOSURE_BASES[0], purpose="hearing on disposition",
                              released_on=TODAY)
        assert ctx.session.scalar(select(func.count()).select_from(Disclosure)) == 0
    assert "'public_interest' is not allowed" in str(err.value)
    assert all(b in str(err.value) for b in DISCLOSURE_BASES)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("role", ["counselor", "committee", "analyst", "reviewer"])
def test_only_an_admin_records_or_reads_the_register(demo_rt, make_account, role):
    p1, _ = _two_participants(demo_rt)
    with demo_rt.context(make_account(role), today=TODAY) as ctx:
        with pytest.raises(PermissionDenied):
            record_disclosure(ctx, participant_id=p1, recipient="Seoul Family Court",
                              legal_basis=DISCLOSURE_BASES[0], purpose="hearing on disposition",
                              released_on=TODAY)
        with pytest.raises(PermissionDenied):
            list_disclosures(ctx)
