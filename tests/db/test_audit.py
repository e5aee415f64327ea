"""The audit log: every write recorded by the store, names not values, a chain that shows tampering."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from db import audit
from accounts import service as accounts
from casework import service as casework
from db.context import SYSTEM
from db.schema import AuditLog, Participant, ParticipantIdentity, Programme


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
        report = audit.verify_chain(conn, rt.audit_chain)
        ids = conn.execute(select(AuditLog.id).order_by(AuditLog.id)).scalars().all()
    assert report.ok and report.rows_checked == len(ids) >= 8
    victim = ids[len(ids) // 2]
    # The log is append-only in the database; a tamperer with owner rights disables that first.
    with rt.engine.connect() as conn, pytest.raises(DBAPIError, match="append-only"):
        conn.execute(text("UPDATE audit_log SET actor = 'someone' WHERE id = :i"), {"i": victim})
    _unguard(rt, backend)
    with rt.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'someone' WHERE id = :i"), {"i": victim})
    with rt.engine.connect() as conn:
        report = audit.verify_chain(conn, rt.audit_chain)
    assert not report.ok and report.first_broken_id == victim and "changed" in str(report.reason)
    with rt.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id > :i"), {"i": victim - 2})
        conn.execute(text("DELETE FROM audit_log WHERE id = :i"), {"i": victim - 3})
    with rt.engine.connect() as conn:
        report = audit.verify_chain(conn, rt.audit_chain)
    assert not report.ok and report.first_broken_id == victim - 2 and "removed" in str(report.reason)


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


# --- the keyed chain and its outside checkpoints -------------------------------------------------

def _unguard(rt, backend):
    """What an insider with the database owner's rights does first: drop the append-only guard."""
    with rt.engine.begin() as conn:
        if backend == "postgresql":
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))


def _report(rt):
    with rt.engine.connect() as conn:
        return audit.verify_chain(conn, rt.audit_chain)


def _rehash_from(rt, start_id: int, key: bytes) -> None:
    """Recompute every hash from `start_id` on, as a tamperer who rewrote an entry would."""
    cols = [getattr(AuditLog, k) for k in audit._HASHED] + [AuditLog.id]
    with rt.engine.begin() as conn:
        prev = conn.execute(select(AuditLog.row_hash).where(AuditLog.id < start_id)
                            .order_by(AuditLog.id.desc()).limit(1)).scalar() or audit.GENESIS
        for row in conn.execute(select(*cols).where(AuditLog.id >= start_id)
                                .order_by(AuditLog.id)).all():
            new = audit.row_hash(prev, row._asdict(), key)
            conn.execute(text("UPDATE audit_log SET prev_hash = :p, row_hash = :h WHERE id = :i"),
                         {"p": prev, "h": new, "i": row.id})
            prev = new


@pytest.fixture
def logged(rt, make_account):
    counselor = make_account("counselor")
    _register(rt, counselor)
    for n in range(3):
        make_account("analyst", f"analyst_{n}")
    report = _report(rt)
    assert report.ok and report.rows_checked >= 12 and report.checkpoints_checked >= 4
    return rt


def test_the_chain_is_keyed_and_its_key_lives_outside_the_database(logged, settings):
    rt = logged
    key_file = settings.key_file.with_name("audit-chain.key")
    assert rt.audit_chain.key_file == key_file and key_file.stat().st_mode & 0o777 == 0o600
    with rt.engine.connect() as conn:
        first = conn.execute(select(AuditLog).order_by(AuditLog.id).limit(1)).one()
        dumped = " ".join(str(v) for row in conn.execute(text("SELECT * FROM meta")) for v in row)
    assert rt.audit_chain.key.decode() not in dumped
    # The plain SHA-256 of the same content is not the stored hash: without the key, no link.
    plain = hashlib.sha256(first.prev_hash.encode() + audit._canonical(
        {k: (first.at.isoformat(timespec="microseconds") if k == "at" else getattr(first, k))
         for k in audit._HASHED})).hexdigest()
    assert plain != first.row_hash == audit.row_hash(first.prev_hash, first._asdict(),
                                                     rt.audit_chain.key)


def test_a_forged_entry_without_the_key_is_caught(logged, backend):
    rt = logged
    with rt.engine.connect() as conn:
        last = conn.execute(select(AuditLog).order_by(AuditLog.id.desc()).limit(1)).one()
    forged = {"at": dt.datetime(2026, 3, 1, 9, 0), "account_id": None, "actor": "admin",
              "action": "reidentify", "table_name": None, "row_id": None,
              "subject_participant_id": None, "fields": None, "detail": "cleanup"}
    with rt.engine.begin() as conn:  # a correct-looking hash, under a key the forger guessed
        guess = audit.row_hash(last.row_hash, forged, b"0" * 64)
        conn.execute(AuditLog.__table__.insert().values(
            **forged, prev_hash=last.row_hash, row_hash=guess))
    report = _report(rt)
    assert not report.ok and report.first_broken_id == last.id + 1
    assert "forged" in str(report.reason)


def test_a_rewritten_entry_rehashed_with_the_key_is_caught_by_the_checkpoints(logged, backend):
    rt = logged
    _unguard(rt, backend)
    with rt.engine.connect() as conn:
        ids = conn.execute(select(AuditLog.id).order_by(AuditLog.id)).scalars().all()
    victim = ids[3]
    with rt.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET detail = 'nothing happened' WHERE id = :i"),
                     {"i": victim})
    _rehash_from(rt, victim, rt.audit_chain.key)  # even an insider who holds the key
    report = _report(rt)
    assert not report.ok and "rewound or rewritten" in str(report.reason)
    assert report.first_broken_id is not None and report.first_broken_id >= victim


@pytest.mark.parametrize("cut", ["newest", "all"])
def test_a_truncated_or_emptied_log_names_what_is_missing(logged, backend, cut):
    rt = logged
    _unguard(rt, backend)
    with rt.engine.connect() as conn:
        ids = conn.execute(select(AuditLog.id).order_by(AuditLog.id)).scalars().all()
    keep = ids[-6] if cut == "newest" else 0
    with rt.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id > :i"), {"i": keep})
    report = _report(rt)
    assert not report.ok and report.first_broken_id is None
    text_ = str(report.reason)
    assert f"entries {keep + 1}-{ids[-1]} are missing" in text_ and f"ends at entry {keep}" in text_
    with rt.context(SYSTEM) as ctx:
        assert not accounts.verify_audit(ctx).ok


def test_the_checkpoints_are_written_only_for_commits(rt, make_account):
    before = rt.audit_chain.sink.read()
    with rt.context(make_account("admin")) as ctx, pytest.raises(ValueError):
        with ctx.transaction() as s:
            s.add(Programme(name="rolled back"))
            s.flush()
            raise ValueError("the use case failed after its flush")
    points = rt.audit_chain.sink.read()
    assert len(points) == len(before) + 1  # the account's creation, not the rolled-back flush
    assert _report(rt).ok

