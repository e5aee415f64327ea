"""No risk estimate reaches a counselor unreviewed, and none uses what was not known at its time.

The gates (models.approval) on plain cards; the landmark table (models.landmarks) on names; the
approval flow, the landmark rule and the audit on the store, on both backends.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

import vocab
from db.context import SYSTEM, Actor, Runtime
from db.schema import Account, AuditLog, Participant, RiskModel, StageStep
from db.steps import current_steps
from errors import Conflict, PermissionDenied, ValidationError
from models import approval, landmarks
from models import service as ms

TODAY = dt.date(2026, 11, 27)
FAST = {"n_repeats": 2, "n_bootstrap": 30, "horizon": 1095}
# Features whose true effects the generator sets (demo.synthetic.TRUE_EFFECTS): at 250 people and
# three years these models pass the gates whatever the study-code key orders the folds by.
PLANNING_FEATURES = ["age_at_referral", "prior_offences"]
CONCLUSION_FEATURES = ["age_at_referral", "prior_offences", "completed"]


def card(auc_lower: float | None = 0.6, eo: float | None = 1.0, warnings=()) -> dict:
    return {"metrics": {"auc": {"estimate": 0.7, "ci_lower": auc_lower, "ci_upper": 0.8},
                        "eo_ratio": {"estimate": eo, "ci_lower": None, "ci_upper": None}},
            "warnings": list(warnings)}


STORED = {"prediction": approval.STORED_PREDICTION}


# ---------------------------------------------------------------- the gates, on plain cards


def test_the_issues_model_is_refused_on_discrimination_and_calibration():
    # AUC 0.527 (95% CI 0.43-0.64) and a mean risk far from the observed rate.
    issue = card(auc_lower=0.43, eo=1.6)
    assert [m.code for m in approval.blockers(issue, STORED)] == ["models.gate_auc", "models.gate_eo"]
    assert "0.430" in str(approval.blockers(issue, STORED)[0])


@pytest.mark.parametrize(("lower", "eo", "refused"), [
    (0.5, 1.0, ["models.gate_auc"]),          # at 0.5 is not above chance
    (0.501, 1.0, []),
    (None, 1.0, ["models.gate_auc"]),         # no CI, no approval
    (0.6, 0.8, []), (0.6, 1.25, []),          # the bounds are inside
    (0.6, 0.79, ["models.gate_eo"]), (0.6, 1.26, ["models.gate_eo"]),
    (0.6, None, ["models.gate_eo"]),
])
def test_the_auc_lower_bound_must_be_above_a_half_and_eo_inside_its_range(lower, eo, refused):
    assert [m.code for m in approval.blockers(card(lower, eo), STORED)] == refused


def test_a_model_that_would_be_refitted_to_predict_is_never_approved():
    refused = approval.blockers(card(), {"prediction": "none: not kept"})
    assert [m.code for m in refused] == ["models.gate_stored"]


def test_each_warning_is_acknowledged_by_its_own_key():
    warnings = [{"code": "models.few_events_per_predictor", "template": "x", "params": {}},
                {"code": "models.small_group", "template": "y", "params": {}},
                {"code": "models.small_group", "template": "z", "params": {}}, "an old sentence"]
    keys = approval.warning_keys(warnings)
    assert keys == ["1:models.few_events_per_predictor", "2:models.small_group",
                    "3:models.small_group", "4:text"]
    # Acknowledging one small group is not acknowledging the other.
    assert approval.unacknowledged(warnings, keys[:2]) == keys[2:]
    assert approval.unacknowledged(warnings, keys) == []


# ---------------------------------------------------------------- the landmark table


def test_a_planning_model_may_not_use_what_is_known_only_at_the_conclusion():
    assert landmarks.features_after(
        ["age_at_referral", "prior_offences", "score_gender_equality_planning", "completed",
         "sessions_attended", "change_gender_equality", "score_gender_equality_midterm"],
        vocab.PLANNING) == ["completed", "sessions_attended", "change_gender_equality",
                            "score_gender_equality_midterm"]
    assert landmarks.features_after(["completed", "change_gender_equality"], vocab.CONCLUSION) == []
    with pytest.raises(ValidationError, match="only after the planning landmark"):
        landmarks.check_features(["prior_offences", "completed"], vocab.PLANNING)
    with pytest.raises(ValidationError, match="no declared moment"):
        landmarks.features_after(["favourite_colour"], vocab.CONCLUSION)
    for landmark, features in landmarks.DEFAULT_FEATURES.items():
        assert landmarks.features_after(features, landmark) == []


def test_the_landmark_reached_follows_the_programme_and_the_signed_planning_step():
    assert landmarks.landmark_reached(ended=True, steps={}) == vocab.CONCLUSION
    assert landmarks.landmark_reached(ended=False, steps={"planning": "signed"}) == vocab.PLANNING
    for status in ("draft", "submitted", "reviewed"):
        assert landmarks.landmark_reached(ended=False, steps={"planning": status}) is None
    assert landmarks.landmark_reached(ended=False, steps={}) is None


# ---------------------------------------------------------------- on the store


def actor(rt: Runtime, username: str) -> Actor:
    with rt.sessions() as s:
        acc = s.scalars(select(Account).where(Account.username == username)).one()
        return Actor(acc.id, acc.username, acc.role)


@pytest.fixture
def programme(demo250):
    return demo250


def keys_of(ctx, model_id: int) -> list[str]:
    """What an approver acknowledges: every warning on the model's card."""
    return approval.warning_keys(ms.get_card(ctx, model_id).warnings)


def people_at(rt: Runtime) -> dict[str | None, list[tuple[int, Actor]]]:
    """Participants by the landmark they reached, each with their counselor."""
    from db.schema import CounselorAssignment

    out: dict[str | None, list[tuple[int, Actor]]] = {}
    with rt.sessions() as s:
        for part in s.scalars(select(Participant).order_by(Participant.id)):
            steps = {k: r.status for k, r in current_steps(s, part.id).items()}
            reached = landmarks.landmark_reached(ended=part.ended_on is not None, steps=steps)
            counselor = s.scalar(select(Account).join(
                CounselorAssignment, CounselorAssignment.counselor_id == Account.id).where(
                CounselorAssignment.participant_id == part.id, CounselorAssignment.end_date.is_(None)))
            if counselor is not None:
                out.setdefault(reached, []).append(
                    (part.id, Actor(counselor.id, counselor.username, counselor.role)))
    return out


def test_a_model_reaches_counselors_only_once_someone_else_approved_it(programme):
    rt = programme
    analyst, committee, admin = (actor(rt, u) for u in ("analyst1", "committee1", "admin"))
    at = people_at(rt)
    ended_pid, ended_counselor = at[vocab.CONCLUSION][0]
    planning_pid, planning_counselor = at[vocab.PLANNING][0]

    with rt.context(analyst, today=TODAY) as ctx:
        model_id = ms.fit_risk_model(ctx, features=CONCLUSION_FEATURES, random_state=0, **FAST)
        info = ms.list_models(ctx)[0]
        warning_keys = keys_of(ctx, model_id)
    assert (info.id, info.status, info.landmark, info.blockers) == (
        model_id, "draft", "conclusion", ())
    assert warning_keys  # the demo's card warns (few events per predictor, small groups)

    # A draft reaches nobody.
    with rt.context(ended_counselor, today=TODAY) as ctx:
        shown = ms.current_risk(ctx, ended_pid)
        assert shown.prediction is None and shown.note.code == "models.no_approved_model"
        with pytest.raises(Conflict, match="draft"):
            ms.predict_for(ctx, ended_pid, model_id)

    # Who may approve: a committee member or an admin, never the analyst, never its fitter.
    with rt.context(analyst, today=TODAY) as ctx, pytest.raises(PermissionDenied):
        ms.approve_model(ctx, model_id=model_id, reason="looks fine to me", acknowledged=warning_keys)
    with rt.context(committee, today=TODAY) as ctx:
        with pytest.raises(ValidationError, match="reason"):
            ms.approve_model(ctx, model_id=model_id, reason="ok", acknowledged=warning_keys)
        with pytest.raises(ValidationError, match="not acknowledged: " + warning_keys[-1]):
            ms.approve_model(ctx, model_id=model_id, reason="Card read at the December meeting",
                             acknowledged=warning_keys[:-1])
        with pytest.raises(ValidationError):  # the notes guard runs on the reason too
            ms.approve_model(ctx, model_id=model_id, reason="박서연 학생 사례를 보고 승인함",
                             acknowledged=warning_keys)
    with rt.sessions() as s:
        assert s.get(RiskModel, model_id).status == "draft"

    with rt.context(committee, today=TODAY) as ctx:
        approved = ms.approve_model(ctx, model_id=model_id,
                                    reason="Card read at the December meeting",
                                    acknowledged=warning_keys)
    assert (approved.status, approved.approved_by) == ("approved", "committee1")
    assert approved.acknowledged == tuple(warning_keys)
    with rt.context(admin, today=TODAY) as ctx, pytest.raises(Conflict, match="not a draft"):
        ms.approve_model(ctx, model_id=model_id, reason="approved again", acknowledged=warning_keys)

    # The counselor now sees the conclusion model for someone who ended the programme, with who
    # approved it and when; for someone still at planning, no conclusion model, ever.
    with rt.context(ended_counselor, today=TODAY) as ctx:
        shown = ms.current_risk(ctx, ended_pid)
    p = shown.prediction
    assert shown.landmark == "conclusion" and p.model_id == model_id
    assert (p.approved_by, p.approved_at) == ("committee1", approved.approved_at)
    assert p.approval_reason == "Card read at the December meeting"
    with rt.context(planning_counselor, today=TODAY) as ctx:
        shown = ms.current_risk(ctx, planning_pid)
        assert shown.landmark == "planning" and shown.prediction is None
        with pytest.raises(ValidationError, match="predicts at the conclusion landmark"):
            ms.predict_for(ctx, planning_pid, model_id)

    # A planning model, approved by the admin, is what the counselor sees at planning.
    with rt.context(analyst, today=TODAY) as ctx:
        planning_id = ms.fit_risk_model(ctx, landmark="planning", features=PLANNING_FEATURES,
                                        random_state=0, **FAST)
        keys = keys_of(ctx, planning_id)
    with rt.context(admin, today=TODAY) as ctx:
        ms.approve_model(ctx, model_id=planning_id, reason="Planning card read and agreed",
                         acknowledged=keys)
    with rt.context(planning_counselor, today=TODAY) as ctx:
        shown = ms.current_risk(ctx, planning_pid)
    assert shown.prediction.model_id == planning_id and shown.prediction.approved_by == "admin"
    assert set(shown.prediction.contributions.feature) == set(PLANNING_FEATURES)

    # Withdrawn: the counselor sees nothing from it again; it is not approved back.
    with rt.context(analyst, today=TODAY) as ctx:
        withdrawn = ms.withdraw_model(ctx, model_id=model_id,
                                      reason="Calibration drifted in the 2026 cohorts")
        with pytest.raises(Conflict, match="withdrawn already"):
            ms.withdraw_model(ctx, model_id=model_id, reason="and once more")
    assert (withdrawn.status, withdrawn.withdrawn_by) == ("withdrawn", "analyst1")
    with rt.context(ended_counselor, today=TODAY) as ctx:
        assert ms.current_risk(ctx, ended_pid).prediction is None
        with pytest.raises(Conflict, match="withdrawn"):
            ms.predict_for(ctx, ended_pid, model_id)
    with rt.context(committee, today=TODAY) as ctx, pytest.raises(Conflict, match="not a draft"):
        ms.approve_model(ctx, model_id=model_id, reason="bring it back", acknowledged=warning_keys)

    # Every step is in the audit log: the approval and withdrawal (fields named, never values),
    # and each prediction with the participant it was about.
    with rt.sessions() as s:
        entries = s.scalars(select(AuditLog).where(AuditLog.table_name == "risk_models",
                                                   AuditLog.row_id == str(model_id))
                            .order_by(AuditLog.id)).all()
    by_actor = [(e.actor, e.action) for e in entries]
    assert ("committee1", "update") in by_actor and ("analyst1", "update") in by_actor
    approval_entry = next(e for e in entries if e.actor == "committee1" and e.action == "update")
    assert {"status", "approved_by", "approval_reason"} <= set(approval_entry.fields)
    assert "Card read" not in (approval_entry.detail or "")
    assert any(e.action == "predict" and e.subject_participant_id == ended_pid for e in entries)


def test_the_fitter_never_approves_their_own_model(programme):
    rt = programme
    committee = actor(rt, "committee1")
    with rt.context(actor(rt, "analyst1"), today=TODAY) as ctx:
        model_id = ms.fit_risk_model(ctx, random_state=0, **FAST)
    # An account that fitted the model and now sits on the committee (roles change).
    with rt.context(SYSTEM) as ctx, ctx.transaction() as s:
        s.get(RiskModel, model_id).created_by = committee.id
    with rt.context(committee, today=TODAY) as ctx, pytest.raises(PermissionDenied, match="You fitted"):
        ms.approve_model(ctx, model_id=model_id, reason="my own model is fine", acknowledged=[])
    with rt.sessions() as s:
        assert s.get(RiskModel, model_id).status == "draft"
        assert s.scalars(select(AuditLog).where(AuditLog.action == "denied",
                                                AuditLog.actor == "committee1")).first()
    # The store refuses it too.
    with rt.context(SYSTEM) as ctx, pytest.raises(IntegrityError), ctx.transaction() as s:
        row = s.get(RiskModel, model_id)
        row.status, row.approved_by, row.approved_at, row.approval_reason = (
            "approved", committee.id, dt.datetime(2026, 11, 27), "by hand")


def test_the_gates_refuse_a_model_no_better_than_chance(programme):
    rt = programme
    with rt.context(actor(rt, "analyst1"), today=TODAY) as ctx:
        model_id = ms.fit_risk_model(ctx, landmark="planning", features=["sex"], random_state=0,
                                     **FAST)
        info = ms.list_models(ctx)[0]
        keys = keys_of(ctx, model_id)
    assert info.auc_ci_lower <= 0.5 and [b.code for b in info.blockers] == ["models.gate_auc"]
    with rt.context(actor(rt, "admin"), today=TODAY) as ctx, \
            pytest.raises(ValidationError, match="cannot be approved: The AUC's lower 95% bound"):
        ms.approve_model(ctx, model_id=model_id, reason="Read and agreed", acknowledged=keys)


def test_no_prediction_uses_a_feature_recorded_after_its_landmark(programme):
    rt = programme
    analyst = actor(rt, "analyst1")
    at = people_at(rt)
    planning_pid, planning_counselor = at[vocab.PLANNING][0]
    with rt.context(analyst, today=TODAY) as ctx:
        # Not fitted: completion and sessions are known at the conclusion only.
        with pytest.raises(ValidationError, match="completed, sessions_attended become known"):
            ms.fit_risk_model(ctx, landmark="planning", features=[
                "prior_offences", "completed", "sessions_attended"], **FAST)
        frame = ms.analysis_frame(ctx, as_of=TODAY)
        model_id = ms.fit_risk_model(ctx, landmark="planning", features=PLANNING_FEATURES,
                                     random_state=0, **FAST)
        keys = keys_of(ctx, model_id)
    # Every column of the analysis frame a model could use has a declared moment.
    outcome = {c for c in frame.columns if c.startswith(("event", "first_event"))}
    usable = set(frame.columns) - outcome - set(ms._NOT_FEATURES)
    assert usable - set(landmarks.KNOWN_AT) == set()
    with rt.context(actor(rt, "committee1"), today=TODAY) as ctx:
        ms.approve_model(ctx, model_id=model_id, reason="Planning card read", acknowledged=keys)
    with rt.context(planning_counselor, today=TODAY) as ctx:
        before = ms.current_risk(ctx, planning_pid).prediction
    assert before is not None
    assert not landmarks.features_after(before.contributions.feature, vocab.PLANNING)
    # A stored model changed to use a feature of the conclusion predicts for nobody.
    with rt.context(SYSTEM) as ctx, ctx.transaction() as s:
        row = s.get(RiskModel, model_id)
        row.params = {**row.params, "features": [*row.params["features"], "completed"]}
    with rt.context(planning_counselor, today=TODAY) as ctx:
        with pytest.raises(ValidationError, match="completed become known only after"):
            ms.current_risk(ctx, planning_pid)
        with pytest.raises(ValidationError, match="completed become known only after"):
            ms.predict_for(ctx, planning_pid, model_id)
    # Before the planning step is signed there is no landmark, so no estimate.
    with rt.sessions() as s:
        step = current_steps(s, planning_pid)["planning"]
        assert isinstance(step, StageStep) and step.status == "signed"
    none_pid, none_counselor = at[None][0]
    with rt.context(none_counselor, today=TODAY) as ctx:
        shown = ms.current_risk(ctx, none_pid)
    assert shown.landmark is None and shown.prediction is None
    assert shown.note.code == "models.no_landmark_yet"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_those_who_approve_read_the_cards_subgroups_with_small_counts_hidden(programme):
    rt = programme
    with rt.context(actor(rt, "analyst1"), today=TODAY) as ctx:
        model_id = ms.fit_risk_model(ctx, features=CONCLUSION_FEATURES, random_state=0, **FAST)
        full = ms.get_card(ctx, model_id)
    small = {(col, g) for col, groups in full.subgroups.items() for g, r in groups.items()
             if 0 < r["n"] < 10}
    assert small  # the demo has small groups (a sex "unknown", a rare offence group)
    for username in ("committee1", "admin"):
        with rt.context(actor(rt, username), today=TODAY) as ctx:
            shown = ms.get_card(ctx, model_id)
        for col, groups in shown.subgroups.items():
            hidden = [g for g, r in groups.items() if r["n"] in ("<10", "x")]
            for g, r in groups.items():
                if (col, g) in small:
                    assert r["n"] == "<10" and r["events"] is None and r["auc"] is None
                elif r["n"] not in ("<10", "x"):
                    assert r == full.subgroups[col][g]
            # One hidden count in a column would follow from the total: a second one is hidden.
            assert len(hidden) != 1, (col, hidden)
        # Everything else on the card is as the analyst reads it.
        assert (shown.metrics, shown.warnings, shown.n) == (full.metrics, full.warnings, full.n)
