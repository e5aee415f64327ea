"""Counseling sessions, break-glass and the admin's access review, through the use cases."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from accounts import service as accounts
from casework import service as casework
from db.context import Actor
from db.schema import Account, CounselorAssignment
from errors import Conflict, NotFound, ValidationError

TODAY = dt.date(2026, 11, 20)


def _counselor_and_patients(rt):
    with rt.sessions() as s:
        acc = s.scalars(select(Account).where(Account.username == "counselor1")).one()
        mine = s.scalars(select(CounselorAssignment.participant_id)
                         .where(CounselorAssignment.counselor_id == acc.id)).all()
        other = s.scalars(select(CounselorAssignment.participant_id)
                          .where(CounselorAssignment.counselor_id != acc.id)).first()
    return Actor(acc.id, acc.username, acc.role), mine[0], other


def test_record_and_edit_a_session_with_a_stale_version_refused(demo_rt):
    counselor, pid, _ = _counselor_and_patients(demo_rt)
    with demo_rt.context(counselor, today=TODAY) as ctx:
        sid = casework.record_session(ctx, participant_id=pid, session_date=TODAY, minutes=50,
                                     modality="in_person", attendance="attended",
                                     topics=("consent",), notes="과제 검토, 다음 회기 목표 설정")
        v = casework.update_session(ctx, sid, expected_version=1, minutes=60)
        assert v == 2
        with pytest.raises(Conflict, match=r"changed by .*\(?counselor1\)? at .* UTC after you opened it"):
            casework.update_session(ctx, sid, expected_version=1, minutes=70)
        rec = [r for r in casework.list_sessions(ctx, pid) if r.id == sid][0]
        assert rec.minutes == 60 and rec.has_notes
        assert casework.session_notes(ctx, sid) == "과제 검토, 다음 회기 목표 설정"


@pytest.mark.parametrize("bad, message", [
    ({"minutes": 0}, "minutes must be 1..480"),
    ({"modality": "telepathy"}, "modality must be one of"),
    ({"session_date": TODAY + dt.timedelta(days=3)}, "in the future"),
    ({"notes": "피해자 김민지 학생 연락처 010-1234-5678"}, "seems to identify a person"),
])
def test_a_bad_session_is_refused_and_nothing_saved(demo_rt, bad, message):
    counselor, pid, _ = _counselor_and_patients(demo_rt)
    args = dict(participant_id=pid, session_date=TODAY, minutes=50, modality="in_person",
                attendance="attended")
    args.update(bad)
    with demo_rt.context(counselor, today=TODAY) as ctx:
        before = len(casework.list_sessions(ctx, pid))
        with pytest.raises(ValidationError, match=message):
            casework.record_session(ctx, **args)
        assert len(casework.list_sessions(ctx, pid)) == before


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_break_glass_opens_one_record_with_a_reason_and_is_reviewed(demo_rt, make_account):
    counselor, _, other = _counselor_and_patients(demo_rt)
    with demo_rt.context(counselor, today=TODAY) as ctx:
        with pytest.raises(NotFound):
            casework.list_sessions(ctx, other)
        with pytest.raises(ValidationError, match="at least 10"):
            casework.break_glass(ctx, other, reason="need")
        casework.break_glass(ctx, other, reason="담당 상담사 부재 중 위기 대응")
        assert casework.list_sessions(ctx, other)
    admin = make_account("admin")
    with demo_rt.context(admin) as ctx:
        review = accounts.access_review(ctx, start=dt.date(2020, 1, 1), end=dt.date(2100, 1, 1))
        reason = accounts.reason_for_review(ctx, int(review["break_glass"].reason_id.iloc[0]))
    assert list(review["break_glass"].counselor) == ["counselor1"]
    assert reason.text == "담당 상담사 부재 중 위기 대응" and reason.written_by == "counselor1"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_admin_sees_and_ends_open_dashboard_sessions(rt, make_account):
    admin = make_account("admin")
    user = make_account("analyst")
    tok = accounts.start_login_session(rt, user)
    with rt.context(admin) as ctx:
        open_ = accounts.open_login_sessions(ctx)
        assert list(open_.username) == [user.username]
        accounts.end_login_session_by_id(ctx, int(open_.id.iloc[0]))
    assert accounts.resume_login_session(rt, tok) is None
