"""The committee's cohort sign-off of conclusion steps: counts by cohort (suppressed), one transaction."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from db.context import SYSTEM, Actor
from db.schema import Account, Assessment, AuditLog, Cohort, Participant, Programme, StageStep
from errors import Conflict, NotFound, PermissionDenied, ValidationError
from matrix import service

REVIEWED_AT = dt.datetime(2026, 6, 1, 10, 0)
SEEN_AT = dt.datetime(2026, 6, 2, 9, 0)


def actor(rt, username: str) -> Actor:
    with rt.sessions() as s:
        acc = s.scalars(select(Account).where(Account.username == username)).one()
        return Actor(acc.id, acc.username, acc.role)


def reviewed_cohort(rt, reviewed_at: dt.datetime = REVIEWED_AT) -> tuple[str, int, list[int]]:
    """Turn the signed conclusion steps of the cohort with the most of them back to 'reviewed'.

    That is the state a committee finds after counselors submitted and a reviewer reviewed: the
    step awaits sign-off and its assessments are final, not yet locked. Returns (cohort label,
    cohort id, participant ids).
    """
    with rt.context(SYSTEM, task="test: conclusions reviewed, awaiting sign-off") as ctx:
        s = ctx.session
        cid = s.execute(
            select(Participant.cohort_id, func.count())
            .join(StageStep, StageStep.participant_id == Participant.id)
            .where(StageStep.stage == "conclusion", StageStep.status == "signed")
            .group_by(Participant.cohort_id).order_by(func.count().desc(), Participant.cohort_id)
        ).first()[0]
        cohort = s.get(Cohort, cid)
        label = f"{s.get(Programme, cohort.programme_id).name} {cohort.name}"
        with ctx.transaction():
            rows = s.scalars(select(StageStep).join(Participant, Participant.id == StageStep.participant_id)
                             .where(Participant.cohort_id == cid, StageStep.stage == "conclusion",
                                    StageStep.status == "signed")).all()
            for r in rows:
                r.status, r.signed_by, r.signed_at, r.reviewed_at = "reviewed", None, None, reviewed_at
                for a in s.scalars(select(Assessment).where(Assessment.participant_id == r.participant_id,
                                                            Assessment.stage == "conclusion")):
                    a.status = "final"
            pids = sorted(r.participant_id for r in rows)
    return label, cid, pids


def conclusion_status(rt, pids: list[int]) -> dict[int, str]:
    with rt.sessions() as s:
        return dict(s.execute(select(StageStep.participant_id, StageStep.status).where(
            StageStep.participant_id.in_(pids), StageStep.stage == "conclusion",
            StageStep.superseded_at.is_(None))).all())


def snapshot(rt) -> tuple:
    with rt.sessions() as s:
        return (tuple(s.execute(select(StageStep.id, StageStep.status, StageStep.version)
                                .order_by(StageStep.id)).all()),
                tuple(s.execute(select(Assessment.id, Assessment.status).order_by(Assessment.id)).all()))


@pytest.fixture
def member(demo_rt):
    return actor(demo_rt, "committee1")


def test_counts_by_cohort_are_suppressed_with_a_total_and_name_no_one(demo_rt, member):
    label, _cid, pids = reviewed_cohort(demo_rt)
    assert 0 < len(pids) < 10
    with demo_rt.context(member) as ctx:
        counts = service.conclusions_awaiting_signoff(ctx)
    assert list(counts.columns) == ["cohort", "awaiting_review", "awaiting_signoff", "signed"]
    assert counts["cohort"].iloc[-1] == "Total"
    row = counts.set_index("cohort").loc[label]
    assert row["awaiting_signoff"] == "<10"  # a small count never leaves as a number
    for col in ("awaiting_review", "awaiting_signoff", "signed"):
        values = counts[col].tolist()
        assert all(v in (0, "x", "<10") or (isinstance(v, int) and v >= 10) for v in values), values
    # a hidden cell in a column cannot be had as total minus the shown cells
    signed = counts[counts["cohort"] != "Total"]["signed"]
    assert (signed.isin(["<10", "x"])).sum() != 1
    with demo_rt.sessions() as s:
        codes = set(s.scalars(select(Participant.study_code)))
    text = counts.to_csv()
    assert not any(code in text for code in codes)


def test_sign_off_signs_every_reviewed_conclusion_of_the_cohort_and_records_the_decision(demo_rt, member):
    label, cid, pids = reviewed_cohort(demo_rt)
    others_before = snapshot(demo_rt)
    with demo_rt.context(member) as ctx:
        n = service.sign_off_cohort(ctx, label, as_of=SEEN_AT,
                                    decision="2026-06-02 평가위원회 회의에서 종결 평가 승인")
    assert n == len(pids)
    assert set(conclusion_status(demo_rt, pids).values()) == {"signed"}
    with demo_rt.sessions() as s:
        signers = set(s.scalars(select(StageStep.signed_by).where(
            StageStep.participant_id.in_(pids), StageStep.stage == "conclusion")))
        locked = set(s.scalars(select(Assessment.status).where(
            Assessment.participant_id.in_(pids), Assessment.stage == "conclusion")))
        entry = s.scalars(select(AuditLog).where(AuditLog.action == "sign_off")).one()
    assert signers == {member.id} and locked == {"locked"}
    assert entry.actor == "committee1" and entry.row_id == str(cid)
    # The log says a decision was given, never what it says (free text stays out of the log).
    assert "decision given (" in entry.detail and f"{len(pids)} step(s)" in entry.detail
    assert "종결 평가 승인" not in entry.detail
    # Nothing outside the cohort's conclusion steps changed.
    after = snapshot(demo_rt)
    changed = {sid for (sid, st, v), old in zip(after[0], others_before[0], strict=True) if (st, v) != old[1:]}
    with demo_rt.sessions() as s:
        owners = set(s.scalars(select(StageStep.participant_id).where(StageStep.id.in_(changed))))
    assert owners == set(pids)
    with demo_rt.context(member) as ctx:
        counts = service.conclusions_awaiting_signoff(ctx).set_index("cohort")
    assert counts.loc[label, "awaiting_signoff"] == 0


def test_a_step_reviewed_after_the_counts_were_seen_waits(demo_rt, member):
    label, _cid, pids = reviewed_cohort(demo_rt)
    with demo_rt.context(SYSTEM) as ctx, ctx.transaction() as s:
        late = s.scalars(select(StageStep).where(StageStep.participant_id == pids[0],
                                                 StageStep.stage == "conclusion")).one()
        late.reviewed_at = SEEN_AT + dt.timedelta(minutes=5)
    with demo_rt.context(member) as ctx:
        n = service.sign_off_cohort(ctx, label, as_of=SEEN_AT, decision="정기 회의 승인 의결")
    status = conclusion_status(demo_rt, pids)
    assert n == len(pids) - 1
    assert status[pids[0]] == "reviewed"
    assert {status[p] for p in pids[1:]} == {"signed"}


def test_a_failure_part_way_signs_nothing(demo_rt, member, monkeypatch):
    label, _cid, pids = reviewed_cohort(demo_rt)
    assert len(pids) >= 2
    before = snapshot(demo_rt)
    real = service._transition
    calls = []

    def second_fails(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise Conflict("tests.changed_meanwhile",
                           "The conclusion step was changed by someone else after you opened it")
        return real(*args, **kwargs)

    monkeypatch.setattr(service, "_transition", second_fails)
    with demo_rt.context(member) as ctx, pytest.raises(Conflict):
        service.sign_off_cohort(ctx, label, as_of=SEEN_AT, decision="정기 회의 승인 의결")
    assert snapshot(demo_rt) == before
    assert set(conclusion_status(demo_rt, pids).values()) == {"reviewed"}
    with demo_rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "sign_off")) == 0


def test_sign_off_explains_what_is_wrong_and_changes_nothing(demo_rt, member):
    label, _cid, _pids = reviewed_cohort(demo_rt)
    before = snapshot(demo_rt)
    cases = [
        (ValidationError, dict(cohort=label, as_of=SEEN_AT, decision="ok"), "decision"),
        (ValidationError, dict(cohort=label, as_of=SEEN_AT.date(), decision="정기 회의 승인 의결"), "as_of"),
        (ValidationError, dict(cohort=label, as_of=SEEN_AT,
                               decision="피해자 김민지 학생 관련 사례 확인 후 승인"), "identify a person"),
        (NotFound, dict(cohort="없는 과정 2099-1기", as_of=SEEN_AT, decision="정기 회의 승인 의결"),
         "No cohort"),
        (Conflict, dict(cohort=label, as_of=REVIEWED_AT - dt.timedelta(days=1),
                        decision="정기 회의 승인 의결"), "reload"),
    ]
    for exc, kwargs, words in cases:
        with demo_rt.context(member) as ctx, pytest.raises(exc) as err:
            service.sign_off_cohort(ctx, kwargs.pop("cohort"), **kwargs)
        assert words in str(err.value)
    assert snapshot(demo_rt) == before


@pytest.mark.parametrize("username", ["counselor1", "analyst1", "reviewer1", "admin"])
def test_only_the_committee_signs_off_cohorts(demo_rt, username):
    label, _cid, _pids = reviewed_cohort(demo_rt)
    before = snapshot(demo_rt)
    who = actor(demo_rt, username)
    with demo_rt.context(who) as ctx, pytest.raises(PermissionDenied):
        service.conclusions_awaiting_signoff(ctx)
    with demo_rt.context(who) as ctx, pytest.raises(PermissionDenied):
        service.sign_off_cohort(ctx, label, as_of=SEEN_AT, decision="정기 회의 승인 의결")
    assert snapshot(demo_rt) == before
