"""The access policy: the rules the role x action table must obey, and real checks through it."""

from __future__ import annotations

import ast
import datetime as dt
import inspect
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from accounts import service as accounts
from casework import service as casework
from dashboard.messages import error_class_names
from db import access
from db.context import Actor
from db.schema import ROLES, Account, AuditLog, CounselorAssignment, Participant, Programme
from errors import NotFound, PermissionDenied

ROOT = Path(__file__).resolve().parents[2]
ACTION_NAME = re.compile(r"^([a-z_]+)\.([a-z_]+)$")
FAMILIES = {a.split(".")[0] for a in access.ACTIONS}
# The functions of db/access.py that take an action, and the action they take when given none.
CHECKS = {name: inspect.signature(getattr(access, name)).parameters["action"].default
          for name in ("require", "is_allowed", "scoped_participants", "access_participant")}
POSITIONAL_BEFORE_ACTION = {"require": 1, "is_allowed": 1, "scoped_participants": 1,
                            "access_participant": 2}
DETECTION = ("registry.", "scan.", "flag.")
# Actions that create or change a participant's record (the sign-off is the committee's own task).
PARTICIPANT_WRITES = {"participant.create", "participant.break_glass", "session.record",
                      "assessment.record", "followup.record", "disclosure.record"}
# The policy grants these, but no use case asks for them yet: the admin's instrument management
# has no use case (instruments are data files), and the demo loader takes no Context. When one
# is wired, take it out of this list; a new action nobody asks for fails the test.
NOT_YET_ASKED_FOR = {"instrument.manage", "demo.load"}
MESSAGE_CLASSES = error_class_names() | {"Message"}
# Prevention education: programmes, classes and anonymous sheets; no participant in them.
PREVENTION_ACTIONS = {"prevention.manage", "prevention.list", "delivery.record", "delivery.read",
                      "prevention.effects", "prevention.review"}
# The second pair of eyes on a young person's step (the first pair submits it).
STEP_ACTIONS = {"step.review", "step.sign", "step.unlock"}


def roles_with(action: str) -> set[str]:
    return {role for role in ROLES if access.is_allowed(role, action)}


def source_files() -> list[Path]:
    """The project's own code: every module a use case, page or command lives in, but the policy."""
    skip = {ROOT / "db" / "access.py"}
    return [p for p in sorted(ROOT.rglob("*.py"))
            if p.relative_to(ROOT).parts[0] not in ("tests", ".venv", "bench")
            and "migrations" not in p.parts and p not in skip]


def actions_in_code() -> tuple[set[str], set[str]]:
    """(action-shaped strings the code names, actions the code asks db.access for).

    An action is asked for when its name is a string in the code (a use case passes it on, a page
    table names it), or when `scoped_participants` / `access_participant` is called without one.
    """
    named, asked = set(), set()
    for path in source_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        # A message code ("assessment.answer_range") has the shape of an action but is not one.
        codes = {id(n.args[0]) for n in ast.walk(tree) if isinstance(n, ast.Call) and n.args
                 and (n.func.attr if isinstance(n.func, ast.Attribute) else getattr(n.func, "id", ""))
                 in MESSAGE_CLASSES}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in codes:
                m = ACTION_NAME.match(node.value)
                if m and m.group(1) in FAMILIES:
                    named.add(node.value)
            if isinstance(node, ast.Call):
                func = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if func not in CHECKS:
                    continue
                given = [a for a in ast.walk(node) if isinstance(a, ast.Constant) and isinstance(a.value, str)]
                asked |= {a.value for a in given}
                if (len(node.args) <= POSITIONAL_BEFORE_ACTION[func] and not any(k.arg == "action" for k in node.keywords)
                        and CHECKS[func] is not inspect.Parameter.empty):
                    asked.add(CHECKS[func])
    return named, asked | named


def actions_of_decrypting_use_cases() -> set[str]:
    """The actions named by each use case that decrypts an identity or a note (`ctx.decrypt`)."""
    found: set[str] = set()
    for path in source_files():
        for fn in ast.parse(path.read_text(encoding="utf-8")).body:
            if not isinstance(fn, ast.FunctionDef):
                continue
            nodes = list(ast.walk(fn))
            # `ctx.decrypt`, or `reasons.views` (the kept reasons, decrypted through it).
            if any(isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
                   and (n.value.id, n.attr) in (("ctx", "decrypt"), ("reasons", "views"))
                   for n in nodes):
                found |= {n.value for n in nodes if isinstance(n, ast.Constant) and isinstance(n.value, str)
                          and n.value in access.ACTIONS}
    return found


# ------------------------------------------------------------------ the table, in the users' terms

def test_every_action_has_the_words_a_denial_shows_and_a_role():
    assert set(access.POLICY) == set(access.ACTIONS)
    assert all(str(access.ACTIONS[a]).strip() for a in access.ACTIONS)
    assert [a for a, roles in access.POLICY.items() if not roles] == []
    assert set().union(*access.POLICY.values()) == set(ROLES)


def test_only_the_admin_reads_the_audit_log_and_manages_accounts_and_assignments():
    for action in ("audit.read", "audit.verify", "account.manage", "account.list", "assignment.manage"):
        assert roles_with(action) == {"admin"}, action


def test_the_analyst_and_the_committee_never_read_identities_or_notes():
    decrypting = actions_of_decrypting_use_cases()
    # The scan finds the use cases that decrypt names, contacts, session and assessment notes.
    assert {"participant.identify", "participant.reidentify", "session.read", "assessment.read",
            "reason.read", "conclusion.decisions"} <= decrypting
    # The committee decrypts its own sign-off decisions, about a cohort: never a reason given
    # about a participant (a re-identification or break-glass reason is "not found" to it).
    assert access.REASON_KINDS["conclusion.decisions"] == access.REASON_KINDS["conclusion.amend"] \
        == ("sign_off",)
    identifying = (decrypting - {"conclusion.decisions"}) | {"participant.break_glass"}
    for role in ("analyst", "committee"):
        assert identifying.isdisjoint(access.allowed_actions(role)), role


def test_re_identifying_a_study_code_is_the_admins_alone():
    # The key that re-identifies is kept apart from the pseudonymised rows (PIPA Art. 28-4).
    assert roles_with("participant.reidentify") == {"admin"}
    assert roles_with("export.pseudonymised").isdisjoint(roles_with("participant.reidentify"))


def test_the_reasons_for_reidentifying_and_break_glass_are_the_admins_to_read_and_amend():
    # Part of the monthly access review; nobody else reads why a record was opened.
    assert roles_with("reason.read") == roles_with("reason.amend") == {"admin"}
    assert roles_with("conclusion.decisions") == roles_with("conclusion.amend") == {"committee"}
    assert set(access.REASON_KINDS) <= set(access.ACTIONS)
    from vocab import REASON_KINDS
    assert {k for kinds in access.REASON_KINDS.values() for k in kinds} == set(REASON_KINDS)


def test_a_risk_model_is_approved_by_the_committee_or_an_admin_never_by_who_fits_it():
    assert roles_with("model.approve") == {"committee", "admin"}
    assert roles_with("model.fit").isdisjoint(roles_with("model.approve"))
    assert roles_with("model.withdraw") == {"analyst", "committee", "admin"}
    # Predictions (model.read) stay with the analyst and the counselor's caseload.
    assert roles_with("model.read") == {"analyst", "counselor"}


def test_a_reviewer_has_only_detection_actions():
    mine = access.allowed_actions("reviewer")
    assert mine and all(a.startswith(DETECTION) for a in mine)


def test_the_committee_writes_nothing_about_a_participant():
    committee = set(access.allowed_actions("committee"))
    assert committee.isdisjoint(PARTICIPANT_WRITES)
    assert "participant.read" not in committee  # it sees aggregates only
    # Besides aggregates: its own sign-off decisions (by cohort), read, corrected or erased; and
    # risk models (cards of aggregates) to approve or withdraw, never a prediction for anyone.
    assert committee <= {"outcomes.read", "export.aggregate", "review.record", "conclusion.signoff",
                         "conclusion.decisions", "conclusion.amend", "model.card", "model.approve",
                         "model.withdraw", *PREVENTION_ACTIONS}
    assert "model.read" not in committee


def test_an_educator_records_and_reads_only_prevention_education_and_nothing_of_counseling():
    mine = set(access.allowed_actions("educator"))
    assert mine == {"prevention.list", "delivery.record", "delivery.read"}
    assert roles_with("delivery.record") == roles_with("delivery.read") == {"educator"}
    # The committee judges the effect and reviews programmes; it records no delivery.
    assert roles_with("prevention.effects") == roles_with("prevention.review") == {"committee"}
    assert roles_with("prevention.manage") == {"committee", "admin"}
    counseling = {a for a in access.ACTIONS if a not in PREVENTION_ACTIONS}
    assert mine.isdisjoint(counseling)


def test_the_committee_signs_off_conclusions_by_cohort_and_never_one_participants_step():
    # It reads counts per cohort and signs what they show; a step of one young person is
    # reviewed, countersigned and unlocked by the people who know the case.
    assert roles_with("conclusion.signoff") == {"committee"}
    assert STEP_ACTIONS.isdisjoint(access.allowed_actions("committee"))


def test_a_supervisor_reads_the_teams_caseload_reviews_and_countersigns_and_edits_no_answers():
    mine = set(access.allowed_actions("supervisor"))
    assert {"participant.read", "assessment.read", "step.review", "step.sign", "step.unlock"} <= mine
    assert mine.isdisjoint(PARTICIPANT_WRITES)  # no answers, sessions or registrations
    # No names, contacts or session notes: the matrix and its study code are enough to review.
    assert mine.isdisjoint({"participant.identify", "participant.break_glass", "session.read"})


def test_only_a_supervisor_countersigns_and_only_a_supervisor_or_an_admin_unlocks():
    assert roles_with("step.sign") == {"supervisor"}
    assert roles_with("step.unlock") == {"supervisor", "admin"}
    # A colleague on the case may review a step too; the one who submitted it may not (below).
    assert roles_with("step.review") == {"counselor", "supervisor"}


def test_every_action_is_asked_for_by_the_code_and_every_action_asked_for_exists():
    named, asked = actions_in_code()
    assert sorted(named - set(access.ACTIONS)) == []
    assert sorted(asked - set(access.ACTIONS)) == []
    assert set(access.ACTIONS) - asked == NOT_YET_ASKED_FOR


# ------------------------------------------------------------------ real checks

@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_require_lets_each_role_take_its_actions_and_logs_every_refusal(rt, make_account):
    actors = {role: make_account(role) for role in ROLES}
    refused = 0
    for action in access.ACTIONS:
        for role in ROLES:
            with rt.context(actors[role]) as ctx:
                if access.is_allowed(role, action):
                    access.require(ctx, action)
                    continue
                with pytest.raises(PermissionDenied) as err:
                    access.require(ctx, action)
                refused += 1
                assert f"'{role}'" in str(err.value) and f"({action})" in str(err.value)
                assert str(access.ACTIONS[action]) in str(err.value)
    # Every refusal was written to the audit log under its account, though the use case failed.
    with rt.context(actors["admin"]) as ctx:
        denied = ctx.session.scalars(select(AuditLog).where(AuditLog.action == "denied")).all()
    assert len(denied) == refused == sum(len(set(ROLES) - roles_with(a)) for a in access.ACTIONS)
    assert {e.actor for e in denied} == {a.username for r, a in actors.items()}


@pytest.fixture
def programme(demo_rt):
    """counselor1 of the demo, one of their participants, one of another counselor's, and an id no one has."""
    with demo_rt.sessions() as s:
        c1 = s.scalars(select(Account).where(Account.username == "counselor1")).one()
        mine = sorted(s.scalars(select(CounselorAssignment.participant_id)
                                .where(CounselorAssignment.counselor_id == c1.id)))
        others = sorted(set(s.scalars(select(CounselorAssignment.participant_id)
                                      .where(CounselorAssignment.counselor_id != c1.id))) - set(mine))
        n = s.scalar(select(Participant.id).order_by(Participant.id.desc()).limit(1))
    assert mine and others
    return {"counselor": Actor(c1.id, c1.username, c1.role), "caseload": set(mine), "mine": mine[0],
            "other": others[0], "missing": n + 1000}


def error_of(call) -> Exception:
    with pytest.raises((NotFound, PermissionDenied)) as info:
        call()
    return info.value


def test_a_counselor_opens_their_caseload_and_gets_the_same_not_found_outside_it(demo_rt, programme):
    p = programme
    with demo_rt.context(p["counselor"], today=dt.date(2026, 11, 20)) as ctx:
        assert {r.participant_id for r in casework.my_caseload(ctx)} == p["caseload"]
        assert access.access_participant(ctx, p["mine"]).id == p["mine"]
        assert access.access_participant(ctx, p["mine"], "participant.identify").id == p["mine"]
        out_of_scope = error_of(lambda: access.access_participant(ctx, p["other"]))
        missing = error_of(lambda: access.access_participant(ctx, p["missing"]))
        # Someone else's participant is not in the list either.
        listed = set(ctx.session.scalars(select(Participant.id).where(
            Participant.id.in_(access.scoped_participants(ctx).with_only_columns(Participant.id)))))
        assert p["mine"] in listed and p["other"] not in listed
    # No existence leak: the same error, the messages differ only by the id asked for.
    assert type(out_of_scope) is type(missing) is NotFound
    assert str(out_of_scope).replace(str(p["other"]), "#") == str(missing).replace(str(p["missing"]), "#")


def test_break_glass_opens_one_participant_outside_the_caseload_for_its_counselor(demo_rt, programme):
    p = programme
    with demo_rt.context(p["counselor"], today=dt.date(2026, 11, 20)) as ctx:
        casework.break_glass(ctx, p["other"], reason="the assigned counselor is on sick leave")
        assert access.access_participant(ctx, p["other"]).id == p["other"]


def test_the_analyst_opens_every_record_pseudonymised_and_no_identity(demo_rt, programme, make_account):
    p = programme
    with demo_rt.context(make_account("analyst")) as ctx:
        rows = ctx.session.execute(access.scoped_participants(ctx)).scalars().all()
        assert len(rows) == 40 and all(r.study_code.startswith("P-") for r in rows)
        for pid in (p["mine"], p["other"]):  # no caseload: the study rows of the whole programme
            assert access.access_participant(ctx, pid).id == pid
        assert isinstance(error_of(lambda: access.access_participant(ctx, p["missing"])), NotFound)
        for pid in (p["mine"], p["missing"]):
            assert isinstance(error_of(lambda pid=pid: casework.participant_identity(ctx, pid)),
                              PermissionDenied)


@pytest.mark.parametrize("role", ["committee", "reviewer", "admin"])
def test_roles_without_participant_rows_are_refused_alike_for_a_present_and_a_missing_one(
        demo_rt, programme, make_account, role):
    p = programme
    with demo_rt.context(make_account(role)) as ctx:
        present = error_of(lambda: access.access_participant(ctx, p["mine"]))
        missing = error_of(lambda: access.access_participant(ctx, p["missing"]))
        listing = error_of(lambda: access.scoped_participants(ctx))
    assert type(present) is type(missing) is type(listing) is PermissionDenied
    assert str(present) == str(missing) == str(listing)  # nothing says whether the record exists


@pytest.mark.parametrize("role", ["counselor", "committee", "analyst", "reviewer"])
def test_only_the_admin_reads_the_audit_log_and_lists_accounts(rt, make_account, role):
    with rt.context(make_account(role)) as ctx:
        for call in (lambda: accounts.audit_entries(ctx), lambda: accounts.list_accounts(ctx)):
            assert isinstance(error_of(call), PermissionDenied)
    with rt.context(make_account("admin")) as ctx:
        assert any(a.role == role for a in accounts.list_accounts(ctx))
        assert accounts.audit_entries(ctx) is not None


def test_a_use_case_that_fails_leaves_nothing_behind_and_the_next_one_commits(rt, make_account):
    """Unit of work: a use case that raises after writing rolls the write back (cosmicpython)."""
    admin = make_account("admin")
    with rt.context(admin) as ctx:
        with pytest.raises(RuntimeError), ctx.transaction() as s:
            s.add(Programme(name="half-made"))
            s.flush()
            raise RuntimeError("crash after the write")
        assert ctx.session.scalar(select(Programme).where(Programme.name == "half-made")) is None
        # The same context goes on: its next transaction commits, audited under its account.
        with ctx.transaction() as s:
            s.add(Programme(name="whole"))
    with rt.context(admin) as ctx:
        names = set(ctx.session.scalars(select(Programme.name)))
        assert "whole" in names and "half-made" not in names
        written = ctx.session.scalars(select(AuditLog).where(
            AuditLog.table_name == "programmes", AuditLog.action == "insert")).all()
        assert [(e.actor, e.account_id) for e in written] == [(admin.username, admin.id)]



def test_the_committee_cannot_change_one_participants_step(demo_rt, programme, make_account):
    from db.schema import StageStep
    from matrix.service import step_action

    def planning(s):
        return s.scalars(select(StageStep).where(StageStep.participant_id == programme["mine"],
                                                 StageStep.stage == "planning",
                                                 StageStep.superseded_at.is_(None))).one()

    with demo_rt.sessions() as s:
        before = (planning(s).step_version, planning(s).status)
    assert before[1] == "signed"
    with demo_rt.context(make_account("committee")) as ctx:
        # The committee signs off cohorts by their counts; a participant's step is the counselors'.
        refused = error_of(lambda: step_action(ctx, participant_id=programme["mine"], stage="planning",
                                               action="unlock", reason="the committee asks for a change"))
    assert isinstance(refused, (PermissionDenied, NotFound))
    with demo_rt.sessions() as s:
        assert (planning(s).step_version, planning(s).status) == before


# ------------------------------------------------------------------ four eyes on a young person's record

DEMO_TODAY = dt.date(2026, 11, 20)


def account(rt, username: str) -> Actor:
    with rt.sessions() as s:
        acc = s.scalars(select(Account).where(Account.username == username)).one()
        return Actor(acc.id, acc.username, acc.role)


def current_step(rt, participant_id: int, stage: str):
    from db.schema import StageStep

    with rt.sessions() as s:
        return s.scalars(select(StageStep).where(StageStep.participant_id == participant_id,
                                                 StageStep.stage == stage,
                                                 StageStep.superseded_at.is_(None))).one()


def submitted_step(rt) -> tuple[int, str, str]:
    """A step a counselor submitted and nobody reviewed yet: participant, step, counselor."""
    from db.schema import StageStep

    from matrix.service import step_action

    with rt.sessions() as s:
        row = s.scalars(select(StageStep).where(StageStep.status.in_(("draft", "submitted")),
                                                StageStep.superseded_at.is_(None))
                        .order_by(StageStep.status.desc(), StageStep.id).limit(1)).one()
        pid, stage, status = row.participant_id, row.stage, row.status
        counselor = s.get(Account, s.scalars(select(CounselorAssignment.counselor_id).where(
            CounselorAssignment.participant_id == pid)).first())
        actor = Actor(counselor.id, counselor.username, counselor.role)
    if status == "draft":  # the demo's live step: its answer sheets are final, ready to submit
        with rt.context(actor, today=DEMO_TODAY) as ctx:
            step_action(ctx, participant_id=pid, stage=stage, action="submit")
    return pid, stage, actor.username


def test_the_demos_signed_steps_were_countersigned_by_the_counselors_supervisor(demo_rt):
    from db.schema import StageStep

    with demo_rt.sessions() as s:
        lead = {a.id: a.supervisor_id for a in s.scalars(select(Account))}
        roles = {a.id: a.role for a in s.scalars(select(Account))}
        signed = s.scalars(select(StageStep).where(StageStep.status == "signed")).all()
    assert signed
    for row in signed:
        assert row.submitted_by != row.signed_by and row.submitted_by != row.reviewed_by
        assert roles[row.signed_by] == "supervisor" and lead[row.submitted_by] == row.signed_by


def test_whoever_submitted_a_step_neither_reviews_nor_signs_it(demo_rt):
    from matrix.service import step_action

    pid, stage, username = submitted_step(demo_rt)
    counselor, lead = account(demo_rt, username), account(demo_rt, "supervisor1")
    before = current_step(demo_rt, pid, stage).version
    with demo_rt.context(counselor, today=DEMO_TODAY) as ctx:
        own = error_of(lambda: step_action(ctx, participant_id=pid, stage=stage, action="review"))
    assert isinstance(own, PermissionDenied) and own.code == "matrix.own_step"
    assert str(own) == f"You submitted this {stage} step; another person must review it."
    assert current_step(demo_rt, pid, stage).version == before
    with demo_rt.context(lead, today=DEMO_TODAY) as ctx:
        assert step_action(ctx, participant_id=pid, stage=stage, action="review").status == "reviewed"
    # The submitter has no countersignature to give; were the submitter the signer (an account
    # that changed role), the person rule refuses it all the same.
    with demo_rt.context(counselor, today=DEMO_TODAY) as ctx:
        assert isinstance(error_of(lambda: step_action(
            ctx, participant_id=pid, stage=stage, action="sign")), PermissionDenied)
    from db.context import SYSTEM
    from db.schema import StageStep
    with demo_rt.context(SYSTEM) as ctx, ctx.transaction() as s:
        s.get(StageStep, current_step(demo_rt, pid, stage).id).submitted_by = lead.id
    with demo_rt.context(lead, today=DEMO_TODAY) as ctx:
        for action in ("sign", "return"):
            own = error_of(lambda action=action: step_action(
                ctx, participant_id=pid, stage=stage, action=action, reason="check GS-07"))
            assert isinstance(own, PermissionDenied) and own.code == "matrix.own_step"
    assert current_step(demo_rt, pid, stage).status == "reviewed"
    # Each refusal is in the audit log, under the account that tried.
    with demo_rt.sessions() as s:
        denied = s.scalars(select(AuditLog).where(AuditLog.action == "denied",
                                                  AuditLog.detail.like("step.%"))
                           .order_by(AuditLog.id)).all()
    assert [e.actor for e in denied] == [username, username, "supervisor1", "supervisor1"]


def test_a_supervisor_sees_and_unlocks_only_the_teams_steps_and_with_a_reason(demo_rt, programme):
    from matrix.service import step_action

    admin = account(demo_rt, "admin")
    lead = account(demo_rt, "supervisor1")
    with demo_rt.context(admin) as ctx:
        other_id = accounts.add_account(ctx, username="supervisor9", role="supervisor",
                                        password="correct horse 1")
        accounts.set_supervisor(ctx, "counselor3", "supervisor9")
    other = Actor(other_id, "supervisor9", "supervisor")
    with demo_rt.sessions() as s:
        team = {c: set(s.scalars(select(CounselorAssignment.participant_id).join(
            Account, Account.id == CounselorAssignment.counselor_id).where(Account.username.in_(c))))
            for c in (("counselor1", "counselor2"), ("counselor3",))}
    with demo_rt.context(lead, today=DEMO_TODAY) as ctx:
        assert {r.participant_id for r in casework.my_caseload(ctx)} == team[("counselor1", "counselor2")]
    with demo_rt.context(other, today=DEMO_TODAY) as ctx:
        assert {r.participant_id for r in casework.my_caseload(ctx)} == team[("counselor3",)]
        # Outside the team, a signed step reads exactly like a participant that does not exist.
        outside = error_of(lambda: step_action(ctx, participant_id=programme["mine"], stage="planning",
                                               action="unlock", reason="asked by the counselor"))
        missing = error_of(lambda: step_action(ctx, participant_id=programme["missing"], stage="planning",
                                               action="unlock", reason="asked by the counselor"))
    assert type(outside) is type(missing) is NotFound
    assert (str(outside).replace(str(programme["mine"]), "#")
            == str(missing).replace(str(programme["missing"]), "#"))
    counselor = programme["counselor"]
    with demo_rt.context(counselor, today=DEMO_TODAY) as ctx:
        assert isinstance(error_of(lambda: step_action(
            ctx, participant_id=programme["mine"], stage="planning", action="unlock",
            reason="my own mistake")), PermissionDenied)
    with demo_rt.context(lead, today=DEMO_TODAY) as ctx:
        from errors import ValidationError
        with pytest.raises(ValidationError):
            step_action(ctx, participant_id=programme["mine"], stage="planning", action="unlock")
        view = step_action(ctx, participant_id=programme["mine"], stage="planning", action="unlock",
                           reason="GS-07 was entered wrong")
    assert (view.status, view.step_version, view.reason) == ("draft", 2, "GS-07 was entered wrong")
    # A supervisor edits no answers, not even on a step their team reopened.
    from assessment import service as assessments
    with demo_rt.context(lead, today=DEMO_TODAY) as ctx:
        assert isinstance(error_of(lambda: assessments.record_draft(
            ctx, participant_id=programme["mine"], stage="planning", instrument_id="GS-12",
            responses={}, administered_on=DEMO_TODAY)), PermissionDenied)


def test_an_admin_unlocks_a_signed_step_with_a_reason(demo_rt, programme):
    from matrix.service import step_action

    with demo_rt.context(account(demo_rt, "admin"), today=DEMO_TODAY) as ctx:
        view = step_action(ctx, participant_id=programme["mine"], stage="planning", action="unlock",
                           reason="the counselor's supervisor is away; asked in writing")
        for action in ("review", "sign"):
            assert isinstance(error_of(lambda action=action: step_action(
                ctx, participant_id=programme["mine"], stage="planning", action=action)),
                PermissionDenied)
    assert view.status == "draft"
