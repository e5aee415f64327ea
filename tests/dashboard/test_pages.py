"""Pages of the counselor and the admin, driven through AppTest on a demo database."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from db.schema import Account, CounselingSession

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def _count_sessions(rt) -> int:
    with rt.sessions() as s:
        return s.scalar(select(func.count()).select_from(CounselingSession))


def test_counselor_records_a_session_and_sees_it(demo, signed_in):
    at = signed_in("counselor1", "pages/participant.py")
    assert not at.exception
    before = _count_sessions(demo)
    at.number_input(key="rs_minutes").set_value(75)
    at.text_area(key="rs_notes").input("역할극으로 동의 개념 연습")
    at.button(key="FormSubmitter:record_session_form-저장").click().run()
    assert not at.exception and not at.error
    assert _count_sessions(demo) == before + 1


def test_a_note_naming_a_victim_is_refused_and_the_typing_is_kept(demo, signed_in):
    at = signed_in("counselor1", "pages/participant.py")
    before = _count_sessions(demo)
    note = "피해자 이서연 학생이 다니는 한빛중학교에 연락함"
    at.text_area(key="rs_notes").input(note)
    at.button(key="FormSubmitter:record_session_form-저장").click().run()
    assert any("식별할 수 있는 정보" in e.value for e in at.error)
    assert not any("이서연" in e.value for e in at.error)  # the message masks what it found
    assert at.text_area(key="rs_notes").value == note
    assert _count_sessions(demo) == before


def test_identity_is_shown_on_request_and_logged(demo, signed_in):
    from db.schema import AuditLog
    at = signed_in("counselor1", "pages/participant.py")
    at.button(key="show_identity").click().run()
    assert not at.exception and any("항목" in d.value.columns for d in at.dataframe)
    with demo.sessions() as s:
        reads = s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "read"))
    assert reads >= 4


def test_admin_adds_an_account_and_a_bad_password_is_explained(demo, signed_in):
    at = signed_in("admin", "pages/accounts.py")
    assert not at.exception
    at.text_input(key="aa_username").input("counselor99")
    at.text_input(key="aa_password").input("short")
    at.button(key="FormSubmitter:add_account_form-저장").click().run()
    assert any("12자 이상" in e.value for e in at.error)  # the Korean of "at least 12 characters"
    assert at.text_input(key="aa_username").value == "counselor99"
    at.text_input(key="aa_password").input("a long enough password")
    at.button(key="FormSubmitter:add_account_form-저장").click().run()
    assert not at.error
    with demo.sessions() as s:
        assert s.scalar(select(Account.role).where(Account.username == "counselor99")) == "counselor"


def test_admin_verifies_the_audit_chain(demo, signed_in):
    at = signed_in("admin", "pages/audit.py")
    at.button(key="verify").click().run()
    assert any("온전합니다" in m.value for m in at.success)


def test_admin_reads_a_break_glass_reason_on_request_and_erases_it(demo, signed_in):
    from casework import service as casework
    from dashboard.i18n import TEXT
    from db.schema import AuditLog, CounselorAssignment
    from tests.dashboard.helpers import actor

    counselor = actor(demo, "counselor1")
    with demo.sessions() as s:
        other = s.scalars(select(CounselorAssignment.participant_id)
                          .where(CounselorAssignment.counselor_id != counselor.id)).first()
    with demo.context(counselor) as ctx:
        casework.break_glass(ctx, other, reason="담당 상담사 부재 중 위기 대응 필요")
    at = signed_in("admin", "pages/audit.py")
    assert not at.exception
    at.session_state["au_tabs"] = TEXT["access_review"]["ko"]  # the tab is drawn when opened
    at.run()
    assert not any("위기 대응" in str(m.value) for m in at.info)  # not before it is asked for
    [reason_id] = at.selectbox(key="rv_reason_id").options
    at.button(key="show_reason").click().run()
    assert any("담당 상담사 부재 중 위기 대응 필요" in m.value for m in at.info)
    with demo.sessions() as s:
        read = s.scalars(select(AuditLog).where(AuditLog.action == "read",
                                                AuditLog.table_name == "reason_texts")).one()
    assert (read.actor, read.row_id) == ("admin", str(reason_id))
    at.checkbox(key="rv_erase_confirm").check()
    at.button(key="rv_erase").click().run()
    assert not at.error and at.success
    at.button(key="show_reason").click().run()
    assert any("삭제했습니다" in w.value for w in at.warning)


def test_a_second_session_on_the_same_day_is_saved_only_when_the_counselor_says_it_is_meant(
        demo, signed_in):
    at = signed_in("counselor1", "pages/participant.py")
    at.text_area(key="rs_notes").input("첫 회기 기록")
    at.button(key="FormSubmitter:record_session_form-저장").click().run()
    before = _count_sessions(demo)
    assert at.text_area(key="rs_notes").value == ""  # saved: the form starts empty
    # The same form sent again for the same day: a warning, nothing saved, the typing kept.
    at.text_area(key="rs_notes").input("두 번째 기록")
    at.button(key="FormSubmitter:record_session_form-저장").click().run()
    assert not at.exception and _count_sessions(demo) == before
    assert any("이미 기록되어 있습니다" in w.value for w in at.warning)
    assert at.text_area(key="rs_notes").value == "두 번째 기록"
    at.checkbox(key="rs_same_day_ok").check()
    at.button(key="FormSubmitter:record_session_form-저장").click().run()
    assert not at.exception and _count_sessions(demo) == before + 1
    assert not any("이미 기록되어 있습니다" in w.value for w in at.warning)


def test_the_identity_is_shown_as_labelled_fields_not_raw_json(demo, signed_in):
    at = signed_in("counselor1", "pages/participant.py")
    at.button(key="show_identity").click().run()
    card = next(d.value for d in at.dataframe if "항목" in d.value.columns)
    assert list(card["항목"]) == ["이름", "생년월일", "연락처", "보호자 연락처"]
    assert not card["내용"].isin(["None", ""]).any() and len(at.json) == 0
