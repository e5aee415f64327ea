"""Field encryption and study codes: keys apart from the data, a wrong key refused clearly."""

from __future__ import annotations

import datetime as dt
import os
import stat

import pytest
from cryptography.fernet import Fernet

from db.config import Settings
from db.context import Runtime
from db.crypto import Keyring
from db.pseudonym import StudyCoder, create_study_key
from errors import ConfigurationError


def test_key_files_are_created_private(rt, settings):
    for path in (settings.key_file, settings.study_key_file):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_wrong_key_is_refused_with_a_message_not_garbage(rt, settings, tmp_path):
    other = tmp_path / "other.key"
    other.write_bytes(Fernet.generate_key())
    other.chmod(0o600)
    wrong = Settings(settings.data_dir, settings.database_url, other, settings.study_key_file, None)
    with pytest.raises(ConfigurationError, match="not the key this database was encrypted with"):
        Runtime(wrong).check_key()


def test_a_wrong_study_code_key_is_refused_at_start_up_naming_its_variable(rt, settings, tmp_path):
    # Another key used to be taken silently, and the same intake was registered under a second code.
    other = tmp_path / "other-study.key"
    create_study_key(other)
    wrong = Settings(settings.data_dir, settings.database_url, settings.key_file, other, None)
    runtime = Runtime(wrong)
    try:
        with pytest.raises(ConfigurationError) as err:
            runtime.check_key()
        assert err.value.code == "config.study_key_mismatch"
        assert "DSCR_STUDY_KEY_FILE" in str(err.value) and str(other) in str(err.value)
    finally:
        runtime.dispose()
    # The right key still starts, and its codes are the ones the database holds.
    right = Runtime(settings)
    try:
        right.check_key()
        assert right.study_coder.code("REF-1") == rt.study_coder.code("REF-1")
    finally:
        right.dispose()


def test_a_key_readable_by_others_is_refused(tmp_path):
    path = tmp_path / "k"
    path.write_bytes(Fernet.generate_key())
    path.chmod(0o644)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        Keyring.from_file(path)


def test_a_missing_key_file_says_what_to_do(tmp_path):
    with pytest.raises(ConfigurationError, match="does not exist"):
        Keyring.from_file(tmp_path / "absent.key")


def test_rotation_keyring_decrypts_old_tokens():
    old, new = Fernet.generate_key(), Fernet.generate_key()
    token = Keyring([old]).encrypt("김민서")
    ring = Keyring([new, old])
    assert ring.decrypt(token) == "김민서"
    assert Keyring([new]).encrypt("x") != token
    with pytest.raises(ConfigurationError, match="cannot be decrypted"):
        Keyring([new]).decrypt(token)


def test_study_codes_are_keyed_and_stable():
    a, b = StudyCoder(b"a" * 32), StudyCoder(b"b" * 32)
    assert a.code("REF-1") == a.code("REF-1")
    assert a.code("REF-1") != a.code("REF-2")
    assert a.code("REF-1") != b.code("REF-1")  # without the key, the code cannot be recomputed
    assert a.code("REF-1").startswith("P-") and len(a.code("REF-1")) == 12


def test_reidentification_needs_a_reason_and_is_logged(rt, make_account):
    from sqlalchemy import select

    from casework import service as casework
    from db.context import SYSTEM
    from db.schema import AuditLog, Participant
    from errors import PermissionDenied, ValidationError

    counselor = make_account("counselor")
    admin = make_account("admin")
    with rt.context(SYSTEM) as ctx:
        prog = casework.add_programme(ctx, name="p")
        cohort = casework.add_cohort(ctx, programme_id=prog, name="c", start_date=dt.date(2026, 1, 1))
    with rt.context(counselor) as ctx:
        pid = casework.register_participant(ctx, casework.NewParticipant(
            intake_ref="REF-9", name="박서연", birth_date=dt.date(2010, 1, 1), sex="female",
            cohort_id=cohort, enrolled_on=dt.date(2026, 1, 2), age_at_referral=16))
        code = ctx.session.get(Participant, pid).study_code
    with rt.context(counselor) as ctx, pytest.raises(PermissionDenied):
        casework.reidentify(ctx, code, reason="court order 2026-123")
    with rt.context(admin) as ctx:
        with pytest.raises(ValidationError, match="reason"):
            casework.reidentify(ctx, code, reason="why")
        ident = casework.reidentify(ctx, code, reason="court order 2026-123 (Juvenile Act 70)")
        assert ident.name == "박서연"
        entry = ctx.session.scalars(select(AuditLog).where(AuditLog.action == "reidentify")).one()
    assert entry.detail.startswith("reason given (") and entry.subject_participant_id == pid
    assert "court order" not in entry.detail
