"""The admin's account and caseload work in the dashboard: a role changed, a password reset to a
one-time password, a participant moved to another counselor with a reason (each audited)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from accounts import service as accounts
from casework import service as casework
from db.context import local_today
from db.schema import Account, AuditLog, CounselorAssignment, Participant
from errors import Conflict, NotFound, PermissionDenied, ValidationError
from tests.dashboard.helpers import actor


def test_the_admin_changes_a_role_only_when_confirmed_and_its_sessions_end(demo, signed_in):
    token = accounts.start_login_session(demo, actor(demo, "analyst1"))
    at = signed_in("admin", "pages/accounts.py")
    at.selectbox(key="ac_role_user").set_value("analyst1")
    at.selectbox(key="ac_role_new").set_value("reviewer")
    at.button(key="FormSubmitter:role_form-역할 변경").click().run()
    assert any("analyst1" in m.value and "세션" in m.value for m in at.markdown)  # the dialog asks
    with demo.sessions() as s:  # not confirmed yet: nothing changes
        assert s.scalar(select(Account.role).where(Account.username == "analyst1")) == "analyst"
    at.button(key="ac_role_yes").click().run()
    assert not at.exception and not at.error
    with demo.sessions() as s:
        assert s.scalar(select(Account.role).where(Account.username == "analyst1")) == "reviewer"
        detail = s.scalar(select(AuditLog.detail).where(AuditLog.action == "role_change"))
    assert detail == "analyst -> reviewer"
    assert accounts.resume_login_session(demo, token) is None
    with demo.context_for("admin") as ctx, pytest.raises(Conflict, match="acting as"):
        accounts.change_role(ctx, "admin", "analyst")


def test_a_reset_shows_the_one_time_password_once_and_it_must_be_replaced(demo, signed_in):
    at = signed_in("admin", "pages/accounts.py")
    at.selectbox(key="ac_reset_user").set_value("counselor2")
    at.button(key="FormSubmitter:reset_form-비밀번호 재설정 (일회용 비밀번호 발급)").click().run()
    assert not at.exception and not [c.value for c in at.code]  # asked first, nothing reset yet
    with demo.sessions() as s:
        assert s.scalar(select(AuditLog.id).where(AuditLog.action == "password_reset")) is None
    at.button(key="ac_reset_yes").click().run()
    assert not at.exception
    (shown,) = [c.value for c in at.code]
    assert all(shown not in str(at.session_state[k]) for k in at.session_state.keys())  # never kept
    with pytest.raises(accounts.PasswordChangeRequired):
        accounts.authenticate(demo, "counselor2", shown)
    with pytest.raises(ValidationError):
        accounts.authenticate(demo, "counselor2", shown, new_password=shown)
    who = accounts.authenticate(demo, "counselor2", shown, new_password="my own long passphrase 4")
    assert who.username == "counselor2"
    assert accounts.authenticate(demo, "counselor2", "my own long passphrase 4") == who
    at.run()  # the page shows it no more
    assert not [c.value for c in at.code]
    with demo.sessions() as s:
        assert s.scalar(select(AuditLog.id).where(AuditLog.action == "password_reset")) is not None
        assert not s.scalar(select(Account.must_change_password).where(Account.username == "counselor2"))
    with demo.context_for("counselor1") as ctx, pytest.raises(PermissionDenied):
        accounts.reset_password(ctx, "counselor2")


def _caseload_code(demo, username: str) -> str:
    with demo.context_for(username) as ctx:
        return casework.my_caseload(ctx)[0].study_code


def test_a_transfer_moves_the_participant_with_a_kept_reason(demo, signed_in):
    code = _caseload_code(demo, "counselor1")
    at = signed_in("admin", "pages/accounts.py")
    table = next(d.value for d in at.dataframe if "담당 상담사" in d.value.columns)
    assert table[table["연구 코드"] == code]["담당 상담사"].tolist() == ["counselor1"]
    at.selectbox(key="ac_tr_code").set_value(code)
    at.selectbox(key="ac_tr_to").set_value("counselor2")
    at.text_input(key="ac_tr_reason").input("짧음")
    at.button(key="FormSubmitter:transfer_form-이관").click().run()
    at.button(key="ac_transfer_yes").click().run()
    assert [e.value for e in at.error]  # too short a reason: nothing moves, said in the dialog
    at.button(key="ac_transfer_no").click().run()
    assert at.text_input(key="ac_tr_reason").value == "짧음"  # kept to correct
    at.text_input(key="ac_tr_reason").input("상담사 휴직으로 인한 담당 변경 (시험)")
    at.button(key="FormSubmitter:transfer_form-이관").click().run()
    assert any(code in m.value and "counselor2" in m.value for m in at.markdown)
    at.button(key="ac_transfer_yes").click().run()
    assert not at.exception and not at.error
    table = next(d.value for d in at.dataframe if "담당 상담사" in d.value.columns)
    assert table[table["연구 코드"] == code]["담당 상담사"].tolist() == ["counselor2"]
    with demo.context_for("counselor2") as ctx:
        assert code in {r.study_code for r in casework.my_caseload(ctx)}
    with demo.context_for("counselor1") as ctx:
        assert code not in {r.study_code for r in casework.my_caseload(ctx)}
    with demo.context_for("admin") as ctx:
        review = accounts.access_review(ctx, start=local_today(), end=local_today())
        moved = review["events"][review["events"]["action"] == "transfer"]
        assert moved["study_code"].tolist() == [code]
        kept = accounts.reason_for_review(ctx, int(moved["reason_id"].iloc[0]))
    assert kept.text == "상담사 휴직으로 인한 담당 변경 (시험)"


def test_a_transfer_is_refused_with_its_reason_and_changes_nothing(demo):
    code = _caseload_code(demo, "counselor1")
    today = local_today()
    with demo.sessions() as s:
        pid = s.scalar(select(Participant.id).where(Participant.study_code == code))
        before = s.scalars(select(CounselorAssignment).where(
            CounselorAssignment.participant_id == pid)).all()
        before = [(a.counselor_id, a.start_date, a.end_date) for a in before]
    why = "상담사 휴직으로 인한 담당 변경 (시험)"
    with demo.context_for("admin") as ctx:
        with pytest.raises(Conflict, match="already"):
            casework.transfer_participant(ctx, code, to_counselor="counselor1", on=today, reason=why)
        with pytest.raises(ValidationError, match="not an active counselor"):
            casework.transfer_participant(ctx, code, to_counselor="analyst1", on=today, reason=why)
        with pytest.raises(NotFound):
            casework.transfer_participant(ctx, "P-NOPE", to_counselor="counselor2", on=today,
                                          reason=why)
        with pytest.raises(Conflict, match="starts on"):
            casework.transfer_participant(ctx, code, to_counselor="counselor2",
                                          on=dt.date(2000, 1, 1), reason=why)
    with demo.context_for("counselor1") as ctx, pytest.raises(PermissionDenied):
        casework.transfer_participant(ctx, code, to_counselor="counselor2", on=today, reason=why)
    with demo.sessions() as s:
        after = [(a.counselor_id, a.start_date, a.end_date) for a in s.scalars(
            select(CounselorAssignment).where(CounselorAssignment.participant_id == pid))]
        assert after == before


def test_disabling_an_account_asks_first_and_cancel_changes_nothing(demo, signed_in):
    at = signed_in("admin", "pages/accounts.py")
    at.selectbox(key="dis_user").set_value("reviewer1")
    at.button(key="FormSubmitter:disable_form-비활성화").click().run()
    assert any("reviewer1" in m.value for m in at.markdown)
    at.button(key="ac_disable_no").click().run()
    with demo.sessions() as s:
        assert s.scalar(select(Account.active).where(Account.username == "reviewer1"))
    at.button(key="FormSubmitter:disable_form-비활성화").click().run()
    at.button(key="ac_disable_yes").click().run()
    assert not at.exception and not at.error
    with demo.sessions() as s:
        assert not s.scalar(select(Account.active).where(Account.username == "reviewer1"))
    assert "reviewer1" not in at.selectbox(key="dis_user").options


def test_the_caseloads_are_found_by_code_or_counselor_and_a_transfer_chooses_among_those_shown(demo, signed_in):
    code = _caseload_code(demo, "counselor1")
    at = signed_in("admin", "pages/accounts.py")

    def shown():
        return next(d.value for d in at.dataframe if "담당 상담사" in d.value.columns)

    everyone = len(shown())
    at.text_input(key="ac_cl_find").input(code[-4:].lower()).run()  # part of it, any case
    assert code in shown()["연구 코드"].tolist() and len(shown()) < everyone
    assert at.selectbox(key="ac_tr_code").options == shown()["연구 코드"].tolist()
    at.text_input(key="ac_cl_find").input("").run()
    at.selectbox(key="ac_cl_whose").set_value("counselor1").run()
    with demo.context_for("counselor1") as ctx:
        mine = {r.study_code for r in casework.my_caseload(ctx)}
    assert set(shown()["연구 코드"]) == mine
    assert set(shown()["담당 상담사"]) == {"counselor1"}
    at.text_input(key="ac_cl_find").input("P-없는코드").run()
    assert shown().empty and not at.exception
    assert [i.value for i in at.info] == ["찾는 조건에 맞는 사례가 없습니다."]
