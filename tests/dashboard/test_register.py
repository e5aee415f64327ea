"""Intake from the dashboard: a counselor registers into their own caseload, an admin for any
counselor; what was typed stays on an error, the form empties once the record is made."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from casework import service as casework
from db.schema import Account, CounselorAssignment, Participant, ParticipantIdentity
from tests.dashboard.helpers import actor, rendered

SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
SUBMIT = "FormSubmitter:register_form-등록"


def fill(at, ref="INTAKE-2026-0917", name="홍길순"):
    at.text_input(key="rg_ref").input(ref)
    at.text_input(key="rg_name").input(name)
    at.date_input(key="rg_birth").set_value(dt.date(2011, 5, 20))
    at.selectbox(key="rg_sex").set_value("female")
    at.text_input(key="rg_case").input("SYN-CASE-INTAKE-1")
    at.multiselect(key="rg_offences").set_value(["illegal_filming"])
    at.date_input(key="rg_referral_date").set_value(dt.date(2026, 11, 20))


def registered(rt, code):
    with rt.sessions() as s:
        part = s.scalars(select(Participant).where(Participant.study_code == code)).one()
        owner = s.scalars(select(Account.username).join(
            CounselorAssignment, CounselorAssignment.counselor_id == Account.id).where(
            CounselorAssignment.participant_id == part.id)).all()
        has_identity = s.scalar(select(ParticipantIdentity.participant_id).where(
            ParticipantIdentity.participant_id == part.id)) is not None
        return part, owner, has_identity


def test_the_menu_offers_intake_to_counselors_and_admins_only():
    from dashboard.navigation import visible_pages

    for role in ("counselor", "admin"):
        assert "pages/register.py" in [p for p, _ in visible_pages(role)]
    for role in ("committee", "analyst", "reviewer", "supervisor", "educator"):
        assert "pages/register.py" not in [p for p, _ in visible_pages(role)]


@SQLITE
def test_a_counselor_registers_into_their_own_caseload_and_the_form_empties(demo, signed_in):
    at = signed_in("counselor1", "pages/register.py")
    assert not at.exception and not at.error
    fill(at)
    at.button(key=SUBMIT).click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    done = [s.value for s in at.success]
    assert len(done) == 1 and "연구 코드: P-" in done[0]
    code = done[0].rsplit(" ", 1)[-1]
    part, owner, has_identity = registered(demo, code)
    assert owner == ["counselor1"] and has_identity
    assert part.age_at_referral == 15  # born 2011-05-20, referred 2026-11-20
    assert at.text_input(key="rg_name").value == "" and at.text_input(key="rg_ref").value == ""
    # The name entered is kept encrypted, never sent back in the page.
    assert "홍길순".encode() not in rendered(at)
    # The same intake reference again: refused, in place, with everything typed kept.
    fill(at)
    at.button(key=SUBMIT).click().run()
    assert any("이미 등록" in e.value for e in at.error), [e.value for e in at.error]
    assert at.text_input(key="rg_name").value == "홍길순"


@SQLITE
def test_an_admin_must_name_the_counselor_and_missing_fields_are_named(demo, signed_in):
    at = signed_in("admin", "pages/register.py")
    at.button(key=SUBMIT).click().run()
    assert len(at.error) == 1 and all(w in at.error[0].value for w in ("접수 번호", "이름", "생년월일",
                                                                        "담당 상담사"))
    fill(at, ref="INTAKE-2026-0918")
    with demo.context(actor(demo, "admin")) as ctx:
        _, counselors = casework.intake_choices(ctx)
    counselor2 = dict((u, i) for i, u in counselors)["counselor2"]
    at.selectbox(key="rg_counselor").set_value(counselor2)
    at.button(key=SUBMIT).click().run()
    assert not at.error, [e.value for e in at.error]
    code = at.success[0].value.rsplit(" ", 1)[-1]
    assert registered(demo, code)[1] == ["counselor2"]


@SQLITE
def test_case_dates_are_checked_as_they_will_be_stored_not_left_to_the_database(demo):
    """An offence date after the referral (or, with no referral date, after enrolment) is refused
    with a message; with no offence date the case is stored as no later than the referral."""
    from errors import ValidationError

    with demo.context(actor(demo, "counselor1")) as ctx:
        cohorts, _ = casework.intake_choices(ctx)
        base = dict(name="가상 참여자", birth_date=dt.date(2011, 1, 1), sex="male",
                    cohort_id=int(cohorts["cohort_id"].iloc[0]), enrolled_on=dt.date(2026, 11, 2),
                    age_at_referral=15, case_ref="SYN-CASE-DATES")
        with pytest.raises(ValidationError, match="before the offence date"):
            casework.enrol(ctx, casework.NewParticipant(intake_ref="I-1", offence_date=dt.date(2026, 11, 9),
                                                        **base))
        code = casework.enrol(ctx, casework.NewParticipant(
            intake_ref="I-2", referral_date=dt.date(2026, 10, 1), **base))
    assert code.startswith("P-")
