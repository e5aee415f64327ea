"""Free-text reasons in their own table: encrypted at rest, read by their audience alone (each read
recorded), correctable and erasable, and pointed to by an audit entry that never holds the text."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import inspect, select, text

from accounts import service as accounts
from casework import service as casework
from db import audit, migrate, operations, reasons
from db.context import SYSTEM
from db.schema import ROLES, AccessGrant, AuditLog, Participant, ReasonText
from errors import Conflict, NotFound, PermissionDenied, ValidationError
from matrix import service as matrix
from tests.matrix.test_service_signoff import SEEN_AT, reviewed_cohort

TODAY = dt.date(2026, 11, 20)
REID = "court order 2026-123 (Juvenile Act 70), 가정법원 요청"
GLASS = "담당 상담사 부재 중 위기 대응 필요"
DECISION = "2026-06-02 평가위원회 회의에서 종결 평가 승인"


@pytest.fixture
def world(rt, make_account):
    """A programme with one participant of one counselor, and an account of every role."""
    actors = {role: make_account(role) for role in ROLES}
    with rt.context(SYSTEM) as ctx:
        prog = casework.add_programme(ctx, name="p")
        cohort = casework.add_cohort(ctx, programme_id=prog, name="c", start_date=dt.date(2026, 1, 1))
    with rt.context(actors["counselor"]) as ctx:
        pid = casework.register_participant(ctx, casework.NewParticipant(
            intake_ref="REF-1", name="김하늘", birth_date=dt.date(2010, 1, 1), sex="male",
            cohort_id=cohort, enrolled_on=dt.date(2026, 1, 2), age_at_referral=16))
        code = ctx.session.get(Participant, pid).study_code
    other = make_account("counselor")
    return {"rt": rt, "actors": actors, "pid": pid, "code": code, "other": other}


def _entry(rt, action: str) -> AuditLog:
    with rt.sessions() as s:
        return s.scalars(select(AuditLog).where(AuditLog.action == action)).one()


def _raw(rt, reason_id: int) -> tuple[str | None, str | None]:
    """The row as the database holds it, read past the ORM."""
    with rt.engine.connect() as conn:
        return tuple(conn.execute(text("SELECT kind, text_enc FROM reason_texts WHERE id = :i"),
                                  {"i": reason_id}).one())


def _log_text(rt) -> str:
    with rt.sessions() as s:
        return " ".join(str(v) for row in s.execute(select(AuditLog.detail, AuditLog.fields))
                        for v in row)


def test_a_reidentification_reason_is_kept_encrypted_and_the_log_points_to_it(world):
    rt, admin = world["rt"], world["actors"]["admin"]
    with rt.context(admin) as ctx:
        casework.reidentify(ctx, world["code"], reason=REID)
    entry = _entry(rt, "reidentify")
    reason_id = audit.kept_as(entry.detail)
    assert entry.detail == audit.about_text("reason", REID, kept_as=reason_id)
    assert entry.detail.startswith(f"reason given ({len(REID)} characters, sha256 ")
    assert entry.subject_participant_id == world["pid"]
    kind, token = _raw(rt, reason_id)
    assert kind == "reidentify" and token and REID not in token and "court order" not in token
    assert rt.keyring.decrypt(token) == REID
    assert "court order" not in _log_text(rt) and "가정법원" not in _log_text(rt)
    # The admin reads it for the access review; the read itself is recorded.
    with rt.context(admin) as ctx:
        review = accounts.access_review(ctx, start=dt.date(2020, 1, 1), end=dt.date(2100, 1, 1))
        [shown] = review["events"].loc[review["events"].action == "reidentify", "reason_id"]
        assert shown == reason_id
        got = accounts.reason_for_review(ctx, reason_id)
    assert (got.text, got.kind, got.participant_id, got.written_by) == (
        REID, "reidentify", world["pid"], admin.username)
    with rt.sessions() as s:
        read = s.scalars(select(AuditLog).where(AuditLog.action == "read",
                                                AuditLog.table_name == "reason_texts")).one()
    assert (read.row_id, read.fields, read.actor) == (str(reason_id), ["text"], admin.username)


def test_only_the_admin_reads_and_amends_access_reasons_and_only_the_committee_decisions(world):
    rt, actors = world["rt"], world["actors"]
    with rt.context(actors["admin"]) as ctx:
        casework.reidentify(ctx, world["code"], reason=REID)
    reason_id = audit.kept_as(_entry(rt, "reidentify").detail)
    for role, who in actors.items():
        calls = [lambda ctx: accounts.reason_for_review(ctx, reason_id),
                 lambda ctx: accounts.correct_reason(ctx, reason_id, text=REID + " (corrected)"),
                 lambda ctx: accounts.erase_reason(ctx, reason_id)]
        if role != "admin":
            for call in calls:
                with rt.context(who) as ctx, pytest.raises(PermissionDenied):
                    call(ctx)
        decision_calls = [lambda ctx: matrix.signoff_decisions(ctx),
                          lambda ctx: matrix.correct_signoff_decision(ctx, reason_id, text=DECISION),
                          lambda ctx: matrix.erase_signoff_decision(ctx, reason_id)]
        if role != "committee":
            for call in decision_calls:
                with rt.context(who) as ctx, pytest.raises(PermissionDenied):
                    call(ctx)
    # The committee reaches sign-off decisions only: a re-identification reason is "not found",
    # with the very words a missing row gets.
    with rt.context(actors["committee"]) as ctx:
        assert matrix.signoff_decisions(ctx) == []
        with pytest.raises(NotFound) as kept:
            matrix.erase_signoff_decision(ctx, reason_id)
        with pytest.raises(NotFound) as missing:
            matrix.erase_signoff_decision(ctx, reason_id + 1000)
    assert str(kept.value).replace(str(reason_id), "#") == str(missing.value).replace(
        str(reason_id + 1000), "#")
    with rt.context(actors["admin"]) as ctx:
        assert accounts.reason_for_review(ctx, reason_id).text == REID  # nothing was changed


def test_a_break_glass_reason_lives_encrypted_in_reason_texts_and_is_corrected_with_a_hash(world):
    rt, admin = world["rt"], world["actors"]["admin"]
    with rt.context(world["other"]) as ctx:
        grant_id = casework.break_glass(ctx, world["pid"], reason=GLASS)
    with rt.sessions() as s:
        grant = s.get(AccessGrant, grant_id)
        plain, reason_id = grant.reason, grant.reason_id
    assert plain is None and reason_id == audit.kept_as(_entry(rt, "break_glass").detail)
    kind, token = _raw(rt, reason_id)
    assert kind == "break_glass" and GLASS not in token and rt.keyring.decrypt(token) == GLASS
    corrected = "담당 상담사 병가 중 위기 대응 필요 (정정)"
    with rt.context(admin) as ctx:
        with pytest.raises(ValidationError, match="seems to identify"):
            accounts.correct_reason(ctx, reason_id, text="피해자 박서연 학생 관련 긴급 확인")
        accounts.correct_reason(ctx, reason_id, text=corrected)
        got = accounts.reason_for_review(ctx, reason_id)
    assert (got.text, got.written_by, got.corrected_by) == (corrected, world["other"].username,
                                                           admin.username)
    entry = _entry(rt, "reason_correct")
    assert entry.detail == audit.about_text("correction", corrected, kept_as=reason_id)
    log = _log_text(rt)
    assert "위기 대응" not in log and "박서연" not in log
    assert corrected not in _raw(rt, reason_id)[1]


def test_an_erased_reason_reads_as_erased_and_cannot_be_corrected(world):
    rt, admin = world["rt"], world["actors"]["admin"]
    with rt.context(admin) as ctx:
        casework.reidentify(ctx, world["code"], reason=REID)
    reason_id = audit.kept_as(_entry(rt, "reidentify").detail)
    with rt.context(admin) as ctx:
        assert accounts.erase_reason(ctx, reason_id) is True
        assert accounts.erase_reason(ctx, reason_id) is False
        got = accounts.reason_for_review(ctx, reason_id)
        with pytest.raises(Conflict, match="erased"):
            accounts.correct_reason(ctx, reason_id, text=REID)
    assert got.erased and got.text is None and got.erased_by == admin.username
    assert _raw(rt, reason_id) == ("reidentify", None)
    assert _entry(rt, "reason_erase").row_id == str(reason_id)
    # The act the reason explained stays in the log, with its length and hash.
    assert audit.kept_as(_entry(rt, "reidentify").detail) == reason_id


def test_a_sign_off_decision_is_kept_for_the_committee_and_erased_by_it(demo_rt):
    from tests.matrix.test_service_signoff import actor

    label, cid, _pids = reviewed_cohort(demo_rt)
    member, admin = actor(demo_rt, "committee1"), actor(demo_rt, "admin")
    with demo_rt.context(member) as ctx:
        matrix.sign_off_cohort(ctx, label, as_of=SEEN_AT, decision=DECISION)
    entry = _entry(demo_rt, "sign_off")
    reason_id = audit.kept_as(entry.detail)
    assert entry.row_id == str(cid) and "종결 평가 승인" not in _log_text(demo_rt)
    kind, token = _raw(demo_rt, reason_id)
    assert kind == "sign_off" and DECISION not in token
    with demo_rt.context(actor(demo_rt, "committee2")) as ctx:
        [past] = matrix.signoff_decisions(ctx)
    assert (past.id, past.cohort, past.text, past.written_by) == (reason_id, label, DECISION,
                                                                 "committee1")
    # The admin's access review does not reach the committee's decisions.
    with demo_rt.context(admin) as ctx, pytest.raises(NotFound):
        accounts.reason_for_review(ctx, reason_id)
    with demo_rt.context(member) as ctx:
        matrix.correct_signoff_decision(ctx, reason_id, text=DECISION + " (7월 회의록 기준)")
        assert matrix.signoff_decisions(ctx)[0].text.endswith("(7월 회의록 기준)")
        assert matrix.erase_signoff_decision(ctx, reason_id)
        [past] = matrix.signoff_decisions(ctx)
    assert past.text is None and past.erased_by == "committee1"


def test_key_rotation_and_the_retention_purge_reach_the_kept_reasons(world):
    rt, admin = world["rt"], world["actors"]["admin"]
    with rt.context(admin) as ctx:
        casework.reidentify(ctx, world["code"], reason=REID)
        operations.rotate_keys(ctx)
        assert operations.fields_not_under_newest_key(ctx) == {}
    reason_id = audit.kept_as(_entry(rt, "reidentify").detail)
    with rt.context(admin) as ctx:
        assert accounts.reason_for_review(ctx, reason_id).text == REID
    with rt.context(admin) as ctx, ctx.transaction() as s:
        s.get(Participant, world["pid"]).status = "completed"
        s.get(Participant, world["pid"]).ended_on = dt.date(2026, 2, 1)
    with rt.context(admin, today=dt.date(2040, 1, 1)) as ctx:
        operations.purge_expired(ctx, dry_run=False, years=5)
        assert accounts.reason_for_review(ctx, reason_id).erased


def test_db_upgrade_moves_the_plain_reasons_of_grants_made_before_0004(world):
    rt = world["rt"]
    now = dt.datetime(2026, 3, 1, 9)
    with rt.context(SYSTEM) as ctx, ctx.transaction() as s:
        s.add(AccessGrant(counselor_id=world["other"].id, participant_id=world["pid"], reason=GLASS,
                          granted_at=now, expires_at=now + dt.timedelta(hours=8)))
    with rt.context(SYSTEM) as ctx:
        assert reasons.move_plain_break_glass_reasons(ctx) == 1
        assert reasons.move_plain_break_glass_reasons(ctx) == 0
    with rt.sessions() as s:
        grant = s.scalars(select(AccessGrant)).one()
        assert grant.reason is None
    kind, token = _raw(rt, grant.reason_id)
    assert kind == "break_glass" and rt.keyring.decrypt(token) == GLASS
    with rt.context(world["actors"]["admin"]) as ctx:
        got = accounts.reason_for_review(ctx, grant.reason_id)
    assert (got.text, got.written_by, got.written_at) == (GLASS, world["other"].username, now)


def test_the_migration_goes_down_keeping_each_grant_a_reason_and_up_again(world):
    rt = world["rt"]
    with rt.context(world["other"]) as ctx:
        casework.break_glass(ctx, world["pid"], reason=GLASS)
    # Below 0007 there is no partner role: revision 0007 refuses to go down while an account has
    # it (as 0003 does for supervisors), so the world's partner account is changed first.
    with rt.engine.begin() as conn:
        conn.execute(text("UPDATE accounts SET role = 'admin', active = false "
                          "WHERE role = 'partner'"))
    # Revision 0008 (prevention education) goes down only without educator accounts.
    with rt.engine.begin() as conn:
        conn.execute(text("UPDATE accounts SET role = 'analyst' WHERE role = 'educator'"))
    migrate.downgrade(rt.engine, "0003")
    assert "reason_texts" not in inspect(rt.engine).get_table_names()
    assert "reason_id" not in {c["name"] for c in inspect(rt.engine).get_columns("access_grants")}
    with rt.engine.connect() as conn:
        [kept] = conn.execute(text("SELECT reason FROM access_grants")).scalars()
    assert kept and GLASS not in kept  # the placeholder: the text went with the table
    migrate.upgrade(rt.engine)
    assert migrate.current_revision(rt.engine) == migrate.head_revision(rt.engine)
    with rt.sessions() as s:
        assert s.scalars(select(ReasonText)).all() == []
        assert s.scalars(select(AccessGrant.reason_id)).all() == [None]
