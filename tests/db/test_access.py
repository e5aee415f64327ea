"""The access policy, walked whole: every role x every action, allowed and denied, and the scopes."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from db import access
from casework import service as casework
from db.context import Context
from db.schema import ROLES, AuditLog
from errors import NotFound, PermissionDenied

# The specification, written out by hand: who may do what. A change to db/access.py that is not
# also made here fails the test, so the policy never changes by accident.
C, M, A, R, D = "counselor", "committee", "analyst", "reviewer", "admin"
EXPECTED = {
    "account.manage": {D}, "account.list": {D}, "assignment.manage": {D},
    "programme.manage": {D}, "instrument.manage": {D}, "audit.read": {D}, "audit.verify": {D},
    "participant.create": {C, D}, "participant.read": {C, A}, "participant.identify": {C},
    "participant.reidentify": {D}, "participant.break_glass": {C},
    "session.record": {C}, "session.read": {C}, "assessment.record": {C}, "assessment.read": {C},
    "assessment.sign": {C, M}, "outcomes.read": {M, A}, "review.record": {M},
    "export.aggregate": {M, A}, "export.pseudonymised": {A}, "followup.record": {A},
    "recidivism.read": {A}, "model.fit": {A}, "model.read": {A, C},
    "registry.manage": {R}, "registry.read": {R}, "scan.run": {R}, "flag.review": {R},
    "demo.load": {D},
    "operations.backup": {D}, "keys.rotate": {D}, "retention.purge": {D},
    "disclosure.record": {D}, "disclosure.read": {D},
}


def test_policy_lists_every_action_once():
    assert set(access.POLICY) == set(EXPECTED) == set(access.ACTIONS)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_every_role_and_action_is_allowed_or_denied_as_specified(rt, make_account):
    actors = {role: make_account(role) for role in ROLES}
    for action, allowed in EXPECTED.items():
        for role in ROLES:
            with rt.context(actors[role]) as ctx:
                if role in allowed:
                    access.require(ctx, action)
                else:
                    with pytest.raises(PermissionDenied) as err:
                        access.require(ctx, action)
                    assert f"'{role}'" in str(err.value) and action in str(err.value)
    # Every denial was written to the audit log, though the use case itself failed.
    with rt.context(actors[D]) as ctx:
        denied = ctx.session.scalars(select(AuditLog).where(AuditLog.action == "denied")).all()
    n_denied = sum(len(set(ROLES) - allowed) for allowed in EXPECTED.values())
    assert len(denied) == n_denied


def test_counselor_sees_only_their_caseload_and_the_same_error_for_missing(demo_rt, make_account):
    rt = demo_rt
    with rt.sessions() as s:
        from db.schema import Account, CounselorAssignment
        c1 = s.scalars(select(Account).where(Account.username == "counselor1")).one()
        mine = set(s.scalars(select(CounselorAssignment.participant_id)
                             .where(CounselorAssignment.counselor_id == c1.id)))
        others = set(s.scalars(select(CounselorAssignment.participant_id)
                               .where(CounselorAssignment.counselor_id != c1.id)))
    assert mine and others
    from db.context import Actor
    actor = Actor(c1.id, c1.username, c1.role)
    with rt.context(actor, today=dt.date(2026, 11, 20)) as ctx:
        assert {r.participant_id for r in casework.my_caseload(ctx)} == mine
        access.access_participant(ctx, next(iter(mine)))
        with pytest.raises(NotFound) as out_of_scope:
            access.access_participant(ctx, next(iter(others)))
        with pytest.raises(NotFound) as missing:
            access.access_participant(ctx, 10**6)
    # No existence leak: the two messages differ only by the id asked for.
    assert str(out_of_scope.value).replace(str(next(iter(others))), "#") == \
        str(missing.value).replace(str(10**6), "#")


def test_analyst_reads_pseudonymised_rows_but_never_identities(demo_rt, make_account):
    analyst = make_account("analyst")
    with demo_rt.context(analyst) as ctx:
        rows = ctx.session.execute(access.scoped_participants(ctx)).scalars().all()
        assert len(rows) == 40
        assert all(r.study_code.startswith("P-") for r in rows)
        with pytest.raises(PermissionDenied):
            casework.participant_identity(ctx, rows[0].id)


def test_committee_gets_no_participant_rows(demo_rt, make_account):
    member = make_account("committee")
    with demo_rt.context(member) as ctx, pytest.raises(PermissionDenied):
        access.scoped_participants(ctx)


def test_a_use_case_that_fails_leaves_nothing_behind(rt, make_account):
    """Unit of work: a use case that raises after writing rolls the write back (cosmicpython)."""
    admin = make_account("admin")
    with rt.context(admin) as ctx:
        with pytest.raises(RuntimeError), ctx.transaction() as s:
            from db.schema import Programme
            s.add(Programme(name="half-made"))
            s.flush()
            raise RuntimeError("crash after the write")
        from db.schema import Programme
        assert ctx.session.scalar(select(Programme).where(Programme.name == "half-made")) is None
    assert isinstance(ctx, Context)
