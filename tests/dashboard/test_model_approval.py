"""The approval of a risk model on the dashboard: the committee approves it with its card on the
page, and only then does the counselor's risk panel show it, naming who approved it and when."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dashboard import dates
from db.schema import Account, CounselorAssignment, Participant, RiskModel
from models import approval
from models import service as ms
from tests.dashboard.helpers import actor

FEATURES = ["age_at_referral", "prior_offences", "completed"]


@pytest.fixture
def demo250(app_env, demo250):
    """The 250-participant programme (tests/conftest.py), with the app on it."""
    return demo250


def ended_participant(rt) -> tuple[str, str]:
    """(study code, counselor) of someone who ended the programme."""
    with rt.sessions() as s:
        code, counselor = s.execute(
            select(Participant.study_code, Account.username)
            .join(CounselorAssignment, CounselorAssignment.participant_id == Participant.id)
            .join(Account, Account.id == CounselorAssignment.counselor_id)
            .where(Participant.ended_on.is_not(None), CounselorAssignment.end_date.is_(None))
            .order_by(Participant.id)).first()
    return code, counselor


def open_matrix(signed_in, code: str, username: str):
    at = signed_in(username)
    at.session_state["current_code"] = code
    at.switch_page("pages/matrix.py").run()
    at.toggle(key="co_risk_show").set_value(True).run()
    return at


def test_the_committee_approves_a_model_with_its_card_and_the_counselor_then_sees_it(
        demo250, signed_in):
    rt = demo250
    with rt.context(actor(rt, "analyst1")) as ctx:
        model_id = ms.fit_risk_model(ctx, horizon=1095, features=FEATURES, n_repeats=2,
                                     n_bootstrap=30)
        keys = approval.warning_keys(ms.get_card(ctx, model_id).warnings)
    code, counselor = ended_participant(rt)

    # A draft: the counselor's panel says no approved model predicts at their landmark.
    at = open_matrix(signed_in, code, counselor)
    assert not at.exception
    assert any("승인된 위험성 모델이 없어" in i.value for i in at.info)
    assert not at.metric

    # The analyst who fitted it sees the card but no approval form.
    at = signed_in("analyst1", "pages/models.py")
    assert not at.exception
    assert "FormSubmitter:an_approve_form-승인" not in [b.key for b in at.button]
    assert any("초안" in m.value for m in at.markdown)

    # The committee member sees the card and the form below it: one box per warning.
    at = signed_in("committee1", "pages/models.py")
    assert not at.exception
    assert any(f"#{model_id}" in h.value for h in at.header)
    assert [c.key for c in at.checkbox if c.key.startswith("an_ack_")] == [
        f"an_ack_{k}" for k in keys]
    at.text_area(key="an_approve_reason").set_value("Card read at the December meeting")
    # Not every warning acknowledged: refused, with the message, and nothing changes.
    at.button(key="FormSubmitter:an_approve_form-승인").click().run()
    assert any("확인하지 않은 경고" in e.value for e in at.error)
    with rt.sessions() as s:
        assert s.get(RiskModel, model_id).status == "draft"
    for key in keys:
        at.checkbox(key=f"an_ack_{key}").check()
    at.button(key="FormSubmitter:an_approve_form-승인").click().run()
    assert not at.exception and not at.error
    with rt.sessions() as s:
        row = s.get(RiskModel, model_id)
        assert row.status == "approved" and row.acknowledged == keys
        approved_at = row.approved_at

    # Now the counselor sees it, with the model, who approved it and when.
    at = open_matrix(signed_in, code, counselor)
    assert not at.exception and at.metric
    captions = " ".join(c.value for c in at.caption)
    assert f"logistic #{model_id}" in captions
    assert f"승인: committee1, {dates.moment(approved_at, 'ko')}" in captions  # Seoul's time
    assert "예측 시점: 종결 단계" in captions

    # Withdrawn by the analyst: gone from the panel.
    at = signed_in("analyst1", "pages/models.py")
    at.text_area(key="an_withdraw_reason").set_value("Calibration drifted in 2026")
    at.button(key="FormSubmitter:an_withdraw_form-철회").click().run()
    assert any(f"#{model_id}" in m.value and "되돌릴 수 없습니다" in m.value for m in at.markdown)
    at.button(key="an_withdraw_yes").click().run()
    assert not at.exception and not at.error
    at = open_matrix(signed_in, code, counselor)
    assert not at.metric and any("승인된 위험성 모델이 없어" in i.value for i in at.info)


def test_a_model_the_gates_refuse_shows_why_and_no_approval_form(demo250, signed_in):
    rt = demo250
    with rt.context(actor(rt, "analyst1")) as ctx:
        ms.fit_risk_model(ctx, horizon=1095, features=["sex"], landmark="planning", n_repeats=2,
                          n_bootstrap=30)
    at = signed_in("admin", "pages/models.py")
    assert not at.exception
    assert any("승인할 수 없습니다" in e.value and "AUC" in e.value for e in at.error)
    assert "FormSubmitter:an_approve_form-승인" not in [b.key for b in at.button]
