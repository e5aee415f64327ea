"""`db.engine.read_frame` (driver rows straight into a frame) gives what the ordinary read gives,
and `accounts.service.data_version` changes with every write and with nothing else (an audited
read or a refusal is not a write)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import func, select

from accounts import service as accounts
from casework import service as casework
from db.engine import read_frame
from db.schema import Account, Assessment, AssessmentScore, AuditLog, Participant
from errors import PermissionDenied
from casework.service import NewParticipant


def ordinary(conn, stmt, columns) -> pd.DataFrame:
    return pd.DataFrame(conn.execute(stmt).all(), columns=columns)


def test_plain_columns_read_from_the_cursor_equal_the_ordinary_read(demo_rt):
    stmt = (select(Participant.id, Participant.study_code, Participant.age_at_referral,
                   Participant.enrolled_on, Participant.ended_on)
            .order_by(Participant.id))
    cols = ["id", "code", "age", "enrolled_on", "ended_on"]
    with demo_rt.sessions() as s:
        conn = s.connection()
        fast, slow = read_frame(conn, stmt, cols), ordinary(conn, stmt, cols)
    pd.testing.assert_frame_equal(fast, slow)
    # Dates come back as dates (SQLite stores ISO text), and a missing date as None.
    assert isinstance(fast["enrolled_on"].iloc[0], dt.date)
    assert fast["ended_on"].isna().any() and fast["ended_on"].notna().any()
    assert all(v is None or isinstance(v, dt.date) for v in fast["ended_on"])


def test_scores_aggregates_and_an_empty_result_read_alike(demo_rt):
    scores = (select(Assessment.participant_id, Assessment.stage, AssessmentScore.domain,
                     AssessmentScore.score)
              .join(AssessmentScore, AssessmentScore.assessment_id == Assessment.id)
              .order_by(AssessmentScore.assessment_id, AssessmentScore.domain))
    counts = (select(Assessment.participant_id, func.count())
              .group_by(Assessment.participant_id).order_by(Assessment.participant_id))
    nothing = select(Participant.id, Participant.enrolled_on).where(Participant.id < 0)
    with demo_rt.sessions() as s:
        conn = s.connection()
        for stmt, cols in ((scores, ["p", "stage", "domain", "score"]), (counts, ["p", "n"]),
                           (nothing, ["id", "enrolled_on"])):
            fast, slow = read_frame(conn, stmt, cols), ordinary(conn, stmt, cols)
            pd.testing.assert_frame_equal(fast, slow, check_dtype=not slow.empty)
            assert list(fast.columns) == cols
    assert len(fast) == 0


def test_other_types_take_the_ordinary_path(demo_rt):
    # DateTime and Boolean need SQLAlchemy's conversion on SQLite: read the ordinary way.
    stmt = select(Account.username, Account.password_changed_at, Account.active).order_by(Account.id)
    with demo_rt.sessions() as s:
        frame = read_frame(s.connection(), stmt, ["username", "changed", "active"])
    assert isinstance(frame["changed"].iloc[0], dt.datetime)
    assert frame["active"].map(type).eq(bool).all()


def test_the_data_version_moves_with_writes_only(rt, make_account):
    counselor = make_account("counselor")
    with rt.context(counselor) as ctx:
        first = accounts.data_version(ctx)
        casework.my_caseload(ctx)  # a read
        assert accounts.data_version(ctx) == first
    admin = make_account("admin")  # a write (an account)
    with rt.context(admin) as ctx:
        second = accounts.data_version(ctx)
        assert second != first
        programme = casework.add_programme(ctx, name="버전 확인 프로그램")
        third = accounts.data_version(ctx)
        assert third != second
        cohort = casework.add_cohort(ctx, programme_id=programme, name="2026-1기",
                                    start_date=dt.date(2026, 1, 5))
        casework.register_participant(ctx, NewParticipant(
            intake_ref="TEST-0001", cohort_id=cohort, name="가상 참여자",
            birth_date=dt.date(2011, 3, 1), sex="male", age_at_referral=15,
            enrolled_on=dt.date(2026, 1, 5)))
        pid = casework.register_participant(ctx, NewParticipant(
            intake_ref="TEST-0002", cohort_id=cohort, name="가상 참여자 둘",
            birth_date=dt.date(2011, 4, 1), sex="male", age_at_referral=15,
            enrolled_on=dt.date(2026, 1, 5)))
        fourth = accounts.data_version(ctx)
        assert fourth not in (first, second, third)
        casework.assign_counselor(ctx, counselor_id=counselor.id, participant_id=pid,
                                  start_date=dt.date(2026, 1, 5))
        fifth = accounts.data_version(ctx)
        assert fifth != fourth
    with rt.context(counselor) as ctx:
        entries = count_audit(rt)
        casework.participant_identity(ctx, pid)  # four fields decrypted: four "read" entries
        with pytest.raises(PermissionDenied):
            casework.add_programme(ctx, name="상담자는 만들 수 없음")  # a "denied" entry
        assert count_audit(rt) >= entries + 5  # the accesses are in the log ...
        assert accounts.data_version(ctx) == fifth  # ... and change no data


def count_audit(rt) -> int:
    with rt.sessions() as s:
        return s.scalar(select(func.count()).select_from(AuditLog))
