"""The victims' guard on every free-text field: an identifying text is refused, nothing is saved,
and nothing of it reaches the audit log; a text that passes stays out of the log too."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from accounts import service as accounts
from casework import service as casework
from db.context import Actor
from db.schema import (
    AccessGrant,
    Account,
    AuditLog,
    CounselorAssignment,
    Disclosure,
    ExportManifest,
    Participant,
    StageStep,
)
from errors import ValidationError
from exports import service as exports
from matrix import service as matrix
from models import service as models

TODAY = dt.date(2026, 11, 20)
# Invented: no such person.
IDENTIFYING = "피해자 박서연 학생 관련 긴급 확인이 필요함"
NAME = "박서연"


def _actor(rt, username: str) -> Actor:
    with rt.sessions() as s:
        acc = s.scalars(select(Account).where(Account.username == username)).one()
        return Actor(acc.id, acc.username, acc.role)


def _counts(rt) -> dict[str, int]:
    with rt.sessions() as s:
        return {t.__tablename__: s.scalar(select(func.count()).select_from(t))
                for t in (AccessGrant, Disclosure, ExportManifest, StageStep)}


def _log_text(rt) -> str:
    with rt.sessions() as s:
        rows = s.execute(select(AuditLog.actor, AuditLog.detail)).all()
    return " ".join(f"{a} {d or ''}" for a, d in rows)


def _other_participant(rt, counselor: Actor) -> int:
    with rt.sessions() as s:
        return s.scalars(select(CounselorAssignment.participant_id)
                         .where(CounselorAssignment.counselor_id != counselor.id)).first()


def _mine(rt, counselor: Actor) -> int:
    with rt.sessions() as s:
        return s.scalars(select(CounselorAssignment.participant_id)
                         .where(CounselorAssignment.counselor_id == counselor.id)).first()


def _study_code(rt, pid: int) -> str:
    with rt.sessions() as s:
        return s.get(Participant, pid).study_code


# field -> (who acts, the use case given an identifying text)
FIELDS = {
    "break-glass reason": ("counselor", lambda ctx, w: casework.break_glass(
        ctx, w["other"], reason=IDENTIFYING)),
    "re-identification reason": ("admin", lambda ctx, w: casework.reidentify(
        ctx, w["code"], reason=IDENTIFYING)),
    "disclosure recipient": ("admin", lambda ctx, w: casework.record_disclosure(
        ctx, participant_id=w["mine"], recipient="피해자 박서연의 어머니",
        legal_basis="juvenile_act_70_1_court_or_prosecution",
        purpose="hearing on protective disposition", released_on=TODAY)),
    "disclosure purpose": ("admin", lambda ctx, w: casework.record_disclosure(
        ctx, participant_id=w["mine"], recipient="Seoul Family Court",
        legal_basis="juvenile_act_70_1_court_or_prosecution", purpose=IDENTIFYING,
        released_on=TODAY)),
    "return reason": ("supervisor", lambda ctx, w: matrix.step_action(
        ctx, participant_id=w["mine"], stage="intake", action="return", reason=IDENTIFYING)),
    "unlock reason": ("admin", lambda ctx, w: matrix.step_action(
        ctx, participant_id=w["mine"], stage="intake", action="unlock", reason=IDENTIFYING)),
    "skip reason": ("counselor", lambda ctx, w: matrix.step_action(
        ctx, participant_id=w["mine"], stage="intake", action="skip", reason=IDENTIFYING)),
    "proposal decision reason": ("analyst", lambda ctx, w: models.decide_event_proposal(
        ctx, proposal_id=1, accept=False, reason=IDENTIFYING)),
    "export purpose": ("committee", lambda ctx, w: exports.outcomes_table(ctx, purpose=IDENTIFYING)),
}


def _lead_of(rt, counselor):
    """The demo's supervisor of the counselor's team: the one who returns and unlocks steps."""
    from db.context import Actor
    from db.schema import Account

    with rt.sessions() as s:
        lead_id = s.get(Account, counselor.id).supervisor_id
        lead = s.get(Account, lead_id)
        return Actor(lead.id, lead.username, lead.role)


@pytest.fixture
def world(demo_rt, make_account):
    counselor = _actor(demo_rt, "counselor1")
    mine = _mine(demo_rt, counselor)
    return {"counselor": counselor, "admin": make_account("admin"),
            "committee": _actor(demo_rt, "committee1"), "analyst": _actor(demo_rt, "analyst1"),
            "supervisor": _lead_of(demo_rt, counselor),
            "mine": mine, "other": _other_participant(demo_rt, counselor),
            "code": _study_code(demo_rt, mine)}


@pytest.mark.parametrize("field", list(FIELDS))
def test_an_identifying_text_is_refused_saved_nowhere_and_kept_out_of_the_log(demo_rt, world, field):
    before = _counts(demo_rt)
    role, use_case = FIELDS[field]
    with demo_rt.context(world[role], today=TODAY) as ctx, pytest.raises(
            ValidationError, match="seems to identify a person") as err:
        use_case(ctx, world)
    assert field in str(err.value) and NAME not in str(err.value)
    assert _counts(demo_rt) == before
    assert NAME not in _log_text(demo_rt)


def test_a_break_glass_reason_that_passes_is_kept_for_the_review_but_not_in_the_log(demo_rt, world):
    reason = "담당 상담사 부재 중 위기 대응 필요"
    with demo_rt.context(world["counselor"], today=TODAY) as ctx:
        casework.break_glass(ctx, world["other"], reason=reason)
    with demo_rt.context(world["admin"], today=TODAY) as ctx:
        review = accounts.access_review(ctx, start=dt.date(2020, 1, 1), end=dt.date(2100, 1, 1))
        [reason_id] = list(review["break_glass"].reason_id)
        assert accounts.reason_for_review(ctx, int(reason_id)).text == reason
    with demo_rt.sessions() as s:
        entry = s.scalars(select(AuditLog).where(AuditLog.action == "break_glass")).one()
    assert entry.detail.startswith("reason given (") and "sha256" in entry.detail
    assert entry.detail.endswith(f"reason_texts row {reason_id})")
    assert reason not in _log_text(demo_rt)


def test_a_reidentification_reason_that_passes_is_logged_by_length_and_hash_only(demo_rt, world):
    reason = "court order 2026-123 (Juvenile Act 70)"
    with demo_rt.context(world["admin"], today=TODAY) as ctx:
        casework.reidentify(ctx, world["code"], reason=reason)
    with demo_rt.sessions() as s:
        entry = s.scalars(select(AuditLog).where(AuditLog.action == "reidentify")).one()
    assert entry.detail.startswith(f"reason given ({len(reason)} characters")
    assert "court order" not in _log_text(demo_rt)
