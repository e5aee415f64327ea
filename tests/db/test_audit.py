"""The audit log: every write recorded by the store, names not values, a chain that shows tampering."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from db import audit
from accounts import service as accounts
from casework import service as casework
from db.schema import AuditLog, Participant, ParticipantIdentity


def _register(rt, counselor, name="김민서", intake="REF-2026-0001"):
    from db.context import SYSTEM
    with rt.context(SYSTEM) as ctx:
        prog = casework.add_programme(ctx, name="표준 과정")
        cohort = casework.add_cohort(ctx, programme_id=prog, name="2026-1기",
                                    start_date=dt.date(2026, 1, 5))
    with rt.context(counselor, today=dt.date(2026, 2, 1)) as ctx:
        return casework.register_participant(ctx, casework.NewParticipant(
            intake_ref=intake, name=name, birth_date=dt.date(2011, 3, 4), sex="male",
            cohort_id=cohort, enrolled_on=dt.date(2026, 1, 10), age_at_referral=14,
            contact="010-0000-1234", case_ref="SYN-CASE-1", offence_types=("illegal_filming",),
            offence_date=dt.date(2025, 11, 1), referral_date=dt.date(2025, 12, 1)))


def test_every_write_is_logged_with_field_names_and_never_values(rt, make_account):
    counselor = make_account("counselor")
    pid = _register(rt, counselor)
    with rt.sessions() as s:
        rows = s.scalars(select(AuditLog).where(AuditLog.actor == counselor.username)).all()
        inserted = {(r.table_name, r.action) for r in rows}
        raw_identity = s.get(ParticipantIdentity, pid)
    assert {("participants", "insert"), ("participant_identities", "insert"),
            ("cases", "insert"), ("case_offences", "insert"),
            ("counselor_assignments", "insert")} <= inserted
    ident_row = next(r for r in rows if r.table_name == "participant_identities")
    assert ident_row.subject_participant_id == pid
    assert "name_enc" in ident_row.fields and ident_row.account_id == counselor.id
    # Identifying values appear neither in the log nor in clear in the identity table.
    dump = " ".join(f"{r.fields} {r.detail}" for r in rows)
    assert "김민서" not in dump and "010-0000-1234" not in dump
    assert "김민서" not in raw_identity.name_enc


def test_reading_an_identity_is_logged_with_the_subject(rt, make_account):
    counselor = make_account("counselor")
    pid = _register(rt, counselor)
    with rt.context(counselor, today=dt.date(2026, 2, 1), task="prepare session") as ctx:
        ident = casework.participant_identity(ctx, pid)
    assert ident.name == "김민서" and ident.contact == "010-0000-1234"
    with rt.sessions() as s:
        reads = s.scalars(select(AuditLog).where(AuditLog.action == "read")).all()
    assert {tuple(r.fields) for r in reads} >= {("name",), ("contact",), ("birth_date",)}
    assert all(r.subject_participant_id == pid and r.detail == "prepare session" for r in reads)


def test_chain_verifies_and_reports_the_first_changed_entry(rt, make_account, backend):
    counselor = make_account("counselor")
    _register(rt, counselor)
    with rt.engine.connect() as conn:
        report = audit.verify_chain(conn)
        ids = conn.execute(select(AuditLog.id).order_by(AuditLog.id)).scalars().all()
    assert report.ok and report.rows_checked == len(ids) >= 8
    victim = ids[len(ids) // 2]
    # The log is append-only in the database; a tamperer with owner rights disables that first.
    with rt.engine.connect() as conn, pytest.raises(DBAPIError, match="append-only"):
        conn.execute(text("UPDATE audit_log SET actor = 'someone' WHERE id = :i"), {"i": victim})
    with rt.engine.begin() as conn:
        if backend == "postgresql":
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
        conn.execute(text("UPDATE audit_log SET actor = 'someone' WHERE id = :i"), {"i": victim})
    with rt.engine.connect() as conn:
        report = audit.verify_chain(conn)
    assert not report.ok and report.first_broken_id == victim and "changed" in report.reason
    with rt.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id > :i"), {"i": victim - 2})
        conn.execute(text("DELETE FROM audit_log WHERE id = :i"), {"i": victim - 3})
    with rt.engine.connect() as conn:
        report = audit.verify_chain(conn)
    assert not report.ok and report.first_broken_id == victim - 2 and "removed" in report.reason


def test_a_write_without_an_actor_is_refused(rt):
    from db.schema import Programme
    with rt.sessions() as s, pytest.raises(RuntimeError, match="acting account"):
        s.add(Programme(name="anonymous"))
        s.flush()


def test_authentication_events_are_logged(rt, make_account):
    make_account("counselor", "kim", "right password 1")
    with pytest.raises(accounts.LoginFailed):
        accounts.authenticate(rt, "kim", "wrong password")
    accounts.authenticate(rt, "kim", "right password 1")
    with rt.sessions() as s:
        actions = s.scalars(select(AuditLog.action).where(AuditLog.actor == "kim")
                            .order_by(AuditLog.id)).all()
    assert [a for a in actions if a.startswith("login")] == ["login_failed", "login"]
    assert Participant  # imported for the schema's side effects only


def test_inserted_rows_are_logged_with_their_ids(rt, make_account):
    counselor = make_account("counselor")
    pid = _register(rt, counselor)
    with rt.sessions() as s:
        row = s.scalars(select(AuditLog).where(AuditLog.table_name == "participants",
                                               AuditLog.action == "insert")).one()
    assert row.row_id == str(pid)
