"""Who may do what: the one role x action table, the scope predicates, and the raising access checks.

Read this file to know the whole access policy. Use cases ask it before they read or write; the
dashboard's menu is built from it too, but the menu is not a security boundary.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import Select, exists, or_, select

from db.schema import ROLES, Account, CounselorAssignment, Participant
from errors import Message, NotFound, PermissionDenied

if TYPE_CHECKING:
    from db.context import Context

# What each action lets a role do, in the users' words (shown in denials and in the admin's view).
ACTIONS: dict[str, Message] = {
    "account.manage": Message("db.action_account_manage", "create, disable and change accounts"),
    "account.list": Message("db.action_account_list", "list accounts"),
    "assignment.manage": Message("db.action_assignment_manage", "assign counselors to participants"),
    "programme.manage": Message("db.action_programme_manage", "manage programmes and cohorts"),
    "instrument.manage": Message("db.action_instrument_manage", "manage instruments and their versions"),
    "audit.read": Message("db.action_audit_read", "read the audit log"),
    "audit.verify": Message("db.action_audit_verify", "verify the audit chain"),
    "participant.create": Message("db.action_participant_create", "register a participant"),
    "participant.read": Message("db.action_participant_read", "open a participant's record"),
    "participant.identify": Message("db.action_participant_identify", "see a participant's name and contacts"),
    "participant.reidentify": Message("db.action_participant_reidentify", "re-identify a study code (with a reason)"),
    "participant.break_glass": Message("db.action_participant_break_glass", "open a participant outside the caseload (with a reason)"),
    "session.record": Message("db.action_session_record", "record counseling sessions"),
    "session.read": Message("db.action_session_read", "read counseling sessions and notes"),
    "assessment.record": Message("db.action_assessment_record", "record and finalise assessments"),
    "assessment.read": Message("db.action_assessment_read", "read assessments and the participant matrix"),
    "step.review": Message("db.action_step_review",
                           "review a submitted step of the matrix (one you did not submit)"),
    "step.sign": Message("db.action_step_sign", "countersign a reviewed step, or return it for "
                         "changes (one you did not submit)"),
    "step.unlock": Message("db.action_step_unlock", "unlock a signed step of the matrix, with a reason"),
    "conclusion.signoff": Message("db.action_conclusion_signoff",
                                  "sign off a cohort's reviewed conclusion steps by their counts"),
    "outcomes.read": Message("db.action_outcomes_read", "read aggregate programme outcomes"),
    "review.record": Message("db.action_review_record", "rate programmes on the gender-sensitivity indicators"),
    "export.aggregate": Message("db.action_export_aggregate", "export suppressed aggregate tables"),
    "export.pseudonymised": Message("db.action_export_pseudonymised", "export pseudonymised research rows"),
    "followup.record": Message("db.action_followup_record", "record follow-up windows and recidivism events"),
    "recidivism.read": Message("db.action_recidivism_read", "read pseudonymised follow-up and recidivism data"),
    "model.fit": Message("db.action_model_fit", "fit and validate risk models"),
    "model.read": Message("db.action_model_read", "read risk model cards and predictions"),
    "model.card": Message("db.action_model_card",
                          "read risk model cards (to rely on, approve or withdraw a model)"),
    "model.approve": Message("db.action_model_approve",
                             "approve a risk model for counselors after reading its card (one "
                             "you did not fit)"),
    "model.withdraw": Message("db.action_model_withdraw",
                              "withdraw a risk model from counselors, with a reason"),
    "registry.manage": Message("db.action_registry_manage", "add, import and export hash registry entries"),
    "registry.read": Message("db.action_registry_read", "read the hash registry"),
    "scan.run": Message("db.action_scan_run", "run scans for re-uploads"),
    "flag.review": Message("db.action_flag_review", "confirm or reject flags and track takedowns"),
    "demo.load": Message("db.action_demo_load", "load synthetic demo data"),
    "operations.backup": Message("db.action_operations_backup", "back up and restore the database"),
    "schema.downgrade": Message("db.action_schema_downgrade",
                                "downgrade the database schema (after a backup)"),
    "keys.rotate": Message("db.action_keys_rotate", "rotate the field encryption keys"),
    "retention.purge": Message("db.action_retention_purge", "erase identifying fields after the retention period"),
    "disclosure.record": Message("db.action_disclosure_record", "record a release of a participant's information outside the programme"),
    "disclosure.read": Message("db.action_disclosure_read", "read the register of releases outside the programme"),
    "reason.read": Message("db.action_reason_read",
                           "read the reasons given for re-identifications and break-glass openings"),
    "reason.amend": Message("db.action_reason_amend",
                            "correct or erase a re-identification or break-glass reason"),
    "conclusion.decisions": Message("db.action_conclusion_decisions",
                                    "read the committee's past sign-off decisions"),
    "conclusion.amend": Message("db.action_conclusion_amend", "correct or erase a sign-off decision"),
    "partner.manage": Message("db.action_partner_manage",
                              "issue, list and revoke the partners' API tokens"),
    "match.hashes": Message("db.action_match_hashes",
                            "ask the matching API whether hashes are in the registry"),
    "match.image": Message("db.action_match_image",
                           "ask the matching API whether an uploaded image is in the registry"),
    "prevention.manage": Message("db.action_prevention_manage",
                                 "add prevention-education programmes and their tailored versions"),
    "prevention.list": Message("db.action_prevention_list", "list prevention-education programmes"),
    "delivery.record": Message("db.action_delivery_record",
                               "record your own prevention-education deliveries and upload their surveys"),
    "delivery.read": Message("db.action_delivery_read",
                             "read your own deliveries and their survey summaries"),
    "prevention.effects": Message("db.action_prevention_effects",
                                  "read the effect of prevention education by audience"),
    "prevention.review": Message("db.action_prevention_review",
                                 "rate prevention programmes and record recommendations"),
}

C, S, M, A, R, D, P, E = ("counselor", "supervisor", "committee", "analyst", "reviewer", "admin",
                          "partner", "educator")

# The policy. Nothing else in dscr grants a permission.
POLICY: dict[str, frozenset[str]] = {
    "account.manage": frozenset({D}),
    "account.list": frozenset({D}),
    "assignment.manage": frozenset({D}),
    "programme.manage": frozenset({D}),
    "instrument.manage": frozenset({D}),
    "audit.read": frozenset({D}),
    "audit.verify": frozenset({D}),
    "participant.create": frozenset({C, D}),
    "participant.read": frozenset({C, S, A}),
    "participant.identify": frozenset({C}),
    "participant.reidentify": frozenset({D}),
    "participant.break_glass": frozenset({C}),
    "session.record": frozenset({C}),
    "session.read": frozenset({C}),
    "assessment.record": frozenset({C}),
    "assessment.read": frozenset({C, S}),
    # Four eyes on a young person's record: whoever submitted a step neither reviews nor signs it
    # (matrix.service checks the person); a colleague or the team's supervisor reviews, the
    # supervisor countersigns, and only the supervisor or an admin unlocks a signed step.
    "step.review": frozenset({C, S}),
    "step.sign": frozenset({S}),
    "step.unlock": frozenset({S, D}),
    # The committee signs off conclusions by cohort, from counts: never one participant's step.
    "conclusion.signoff": frozenset({M}),
    "outcomes.read": frozenset({M, A}),
    "review.record": frozenset({M}),
    "export.aggregate": frozenset({M, A}),
    "export.pseudonymised": frozenset({A}),
    "followup.record": frozenset({A}),
    "recidivism.read": frozenset({A}),
    "model.fit": frozenset({A}),
    "model.read": frozenset({A, C}),
    # A risk estimate reaches a counselor only from a model a second person approved: a committee
    # member or an admin, never its fitter (models.service checks the person). Anyone who may
    # rely on or vouch for a model may take it back.
    "model.card": frozenset({A, C, M, D}),
    "model.approve": frozenset({M, D}),
    "model.withdraw": frozenset({A, M, D}),
    "registry.manage": frozenset({R}),
    "registry.read": frozenset({R}),
    "scan.run": frozenset({R}),
    "flag.review": frozenset({R}),
    "demo.load": frozenset({D}),
    "operations.backup": frozenset({D}),
    "schema.downgrade": frozenset({D}),
    "keys.rotate": frozenset({D}),
    "retention.purge": frozenset({D}),
    "disclosure.record": frozenset({D}),
    "disclosure.read": frozenset({D}),
    # The reasons behind a re-identification or a break-glass opening are read in the admin's
    # access review; the committee reads (and may correct) its own sign-off decisions. Each kind
    # is read by its audience alone (REASON_KINDS below).
    "reason.read": frozenset({D}),
    "reason.amend": frozenset({D}),
    "conclusion.decisions": frozenset({M}),
    "conclusion.amend": frozenset({M}),
    # The partners' matching API (api/): the admin issues and revokes tokens; a partner's token
    # carries these actions as its scopes, and a request answers match / no match, a distance and
    # an opaque entry id, never a case reference.
    "partner.manage": frozenset({D}),
    "match.hashes": frozenset({P}),
    "match.image": frozenset({P}),
    # Prevention education: no child is named or coded in it. The committee develops tailored
    # versions from its recommendations (the admin too); an educator records and reads only their
    # own deliveries (prevention.service checks the person) and nothing of the counseling side.
    "prevention.manage": frozenset({M, D}),
    "prevention.list": frozenset({M, D, E}),
    "delivery.record": frozenset({E}),
    "delivery.read": frozenset({E}),
    "prevention.effects": frozenset({M}),
    "prevention.review": frozenset({M}),
}

# Which kinds of kept reason (vocab.REASON_KINDS) each reason action reaches: a row of another
# kind is "not found", like a missing one.
REASON_KINDS: dict[str, tuple[str, ...]] = {
    "reason.read": ("reidentify", "break_glass", "transfer"),
    "reason.amend": ("reidentify", "break_glass", "transfer"),
    "conclusion.decisions": ("sign_off",),
    "conclusion.amend": ("sign_off",),
}

if set(POLICY) != set(ACTIONS):  # pragma: no cover - a mistake in this file, caught at import
    raise RuntimeError(f"access policy and action list differ: {set(POLICY) ^ set(ACTIONS)}")


def is_allowed(role: str, action: str) -> bool:
    if action not in POLICY:
        raise KeyError(f"unknown action {action!r}")
    return role in POLICY[action]


def allowed_actions(role: str) -> list[str]:
    return [a for a, roles in POLICY.items() if role in roles]


def require(ctx: Context, action: str) -> None:
    """Raise PermissionDenied (and log the attempt) unless the actor's role may take the action."""
    if is_allowed(ctx.actor.role, action):
        return
    ctx.record_denied(action, f"role {ctx.actor.role} may not {ACTIONS[action]}")
    raise PermissionDenied(
        "db.access_denied_role_may",
        "Access denied: the role '{role}' may not {actions} ({action}).",
        role=ctx.actor.role, actions=ACTIONS[action], action=action
    )


# --- scopes -------------------------------------------------------------------------------

def caseload_filter(counselor_id: int, as_of: dt.date):
    """Participants assigned to the counselor on a date: the counselor's whole world."""
    return exists().where(
        CounselorAssignment.participant_id == Participant.id,
        CounselorAssignment.counselor_id == counselor_id,
        CounselorAssignment.start_date <= as_of,
        or_(CounselorAssignment.end_date.is_(None), CounselorAssignment.end_date >= as_of),
    )


def team_caseload_filter(supervisor_id: int, as_of: dt.date):
    """Participants assigned on a date to a counselor of the supervisor's team (the counselors
    whose account names them as supervisor): the supervisor's whole world."""
    return exists().where(
        CounselorAssignment.participant_id == Participant.id,
        CounselorAssignment.counselor_id == Account.id,
        Account.supervisor_id == supervisor_id,
        CounselorAssignment.start_date <= as_of,
        or_(CounselorAssignment.end_date.is_(None), CounselorAssignment.end_date >= as_of),
    )


def scope_filter(ctx: Context):
    """The actor's scope over participants, or None for the whole programme (roles whose
    permissions already keep them to pseudonymised rows, aggregates or the admin's tasks)."""
    if ctx.actor.role == C:
        return caseload_filter(ctx.actor.id, ctx.today)
    if ctx.actor.role == S:
        return team_caseload_filter(ctx.actor.id, ctx.today)
    return None


def scoped_participants(ctx: Context, action: str = "participant.read") -> Select:
    """A select of the participants the actor may see for the action (after `require`)."""
    require(ctx, action)
    stmt = select(Participant)
    scope = scope_filter(ctx)
    if scope is not None:
        stmt = stmt.where(scope)
    return stmt


def access_participant(ctx: Context, participant_id: int, action: str = "participant.read") -> Participant:
    """Load a participant the actor may see; the same NotFound for missing and out of scope.

    A counselor sees their caseload, plus a participant opened by break-glass (with a reason,
    logged, for the admin's monthly access review) until that grant expires; a supervisor sees
    their team's caseload.
    """
    require(ctx, action)
    participant = ctx.session.get(Participant, participant_id)
    scope = scope_filter(ctx)
    if participant is not None and scope is not None:
        in_scope = ctx.session.scalar(
            select(Participant.id).where(Participant.id == participant_id, scope))
        if in_scope is None and not (ctx.actor.role == C and has_break_glass(ctx, participant_id)):
            participant = None
    if participant is None:
        raise NotFound("db.no_participant_your_caseload",
                       "No participant {participant_id} in your caseload.",
                       participant_id=participant_id)
    return participant


def access_record(ctx: Context, model: type, record_id: int, action: str, missing: NotFound,
                  participant_of=lambda row: row.participant_id):
    """Load a row that belongs to a participant (a session, an assessment, a goal) and authorise it
    in one call: the permission first, then the same `missing` error whether the row does not
    exist or its participant is outside the actor's scope, so that nothing says which."""
    require(ctx, action)
    row = ctx.session.get(model, record_id)
    if row is not None:
        try:
            access_participant(ctx, participant_of(row), action)
        except NotFound:
            row = None
    if row is None:
        raise missing
    return row


def access_reason(ctx: Context, reason_id: int, action: str):
    """Load a kept reason (`reason_texts`) the action reaches; the same NotFound for a missing row
    and for one of a kind the action does not reach (a sign-off decision for the admin)."""
    from db.schema import ReasonText

    require(ctx, action)
    row = ctx.session.get(ReasonText, reason_id)
    if row is None or row.kind not in REASON_KINDS[action]:
        raise NotFound("db.no_reason_kept", "No reason {reason_id} is kept.", reason_id=reason_id)
    return row


def has_break_glass(ctx: Context, participant_id: int) -> bool:
    from db.schema import AccessGrant, utcnow

    return ctx.session.scalar(
        select(AccessGrant.id).where(
            AccessGrant.counselor_id == ctx.actor.id,
            AccessGrant.participant_id == participant_id,
            AccessGrant.expires_at > utcnow(),
        ).limit(1)
    ) is not None


__all__ = [
    "ACTIONS",
    "POLICY",
    "REASON_KINDS",
    "ROLES",
    "access_participant",
    "access_reason",
    "access_record",
    "allowed_actions",
    "caseload_filter",
    "is_allowed",
    "require",
    "scope_filter",
    "scoped_participants",
    "team_caseload_filter",
]
