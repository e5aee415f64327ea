"""Every use case, as every role, on records inside and outside the role's scope.

The use cases are found by introspection (each public function of each `*/service.py` whose first
parameter is the Context), so a new one is walked without anyone remembering to list it. What each
one needs is read from its source: the actions it names, with those of the same module's functions
it calls (and the default action of `scoped_participants` / `access_participant`). The two rules:
- a role the policy never lets take the action gets PermissionDenied, whatever record it names;
- a role that may take it gets, for a record outside its scope, the very NotFound a missing id
  gets (the same text but for the id): nothing says that the record exists, nor whose it is.
"""

from __future__ import annotations

import ast
import datetime as dt
import importlib
import inspect
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db import access
from db.context import Actor
from db.schema import (
    ROLES,
    Account,
    Assessment,
    CounselingSession,
    CounselorAssignment,
    Goal,
    Participant,
)
from errors import DscrError, NotFound, PermissionDenied

ROOT = Path(__file__).resolve().parents[2]
TODAY = dt.date(2026, 11, 20)
PW = "correct horse 1"
SCOPED = ("counselor", "supervisor")  # the roles whose world is a set of participants
# Arguments that name a record of one participant, and the table that record is in.
RECORDS = {"participant_id": Participant, "session_id": CounselingSession,
           "assessment_id": Assessment, "goal_id": Goal}
PARTICIPANT_PACKAGES = ("casework", "assessment", "matrix", "models")
# A step action needs the permission of that action (matrix.service.STEP_PERMISSIONS).
STEP_ACTION = "review"
# Use cases that open a participant outside the caseload on purpose (with a reason, logged).
OPENS_OUTSIDE = {"casework.break_glass"}
# Where a use case takes its action from somewhere the source scan cannot see.
ACTIONS_GIVEN = {
    "matrix.step_action": {"step.review"},  # called with action="review"
}


def use_cases() -> dict[str, object]:
    found = {}
    for path in sorted(ROOT.glob("*/service.py")):
        module = importlib.import_module(f"{path.parent.name}.service")
        for name, fn in vars(module).items():
            if name.startswith("_") or not inspect.isfunction(fn) or fn.__module__ != module.__name__:
                continue
            params = list(inspect.signature(fn).parameters)
            if params and params[0] == "ctx":
                found[f"{path.parent.name}.{name}"] = fn
    return found


def _actions_of(module_name: str) -> dict[str, set[str]]:
    """Per function of a service module: the actions it and the module's functions it calls name."""
    tree = ast.parse((ROOT / module_name.replace(".", "/")).with_suffix(".py").read_text("utf-8"))
    defaults = {name: inspect.signature(getattr(access, name)).parameters["action"].default
                for name in ("scoped_participants", "access_participant")}
    own: dict[str, set[str]] = {}
    calls: dict[str, set[str]] = {}
    functions = {fn.name for fn in tree.body if isinstance(fn, ast.FunctionDef)}
    for fn in tree.body:
        if not isinstance(fn, ast.FunctionDef):
            continue
        names = {n.value for n in ast.walk(fn) if isinstance(n, ast.Constant)
                 and isinstance(n.value, str) and n.value in access.ACTIONS}
        for n in ast.walk(fn):
            if isinstance(n, ast.Call):
                called = n.func.attr if isinstance(n.func, ast.Attribute) else getattr(n.func, "id", "")
                if called in defaults and len(n.args) <= (1 if called == "scoped_participants" else 2) \
                        and not any(k.arg == "action" for k in n.keywords):
                    names.add(defaults[called])
        own[fn.name] = names
        calls[fn.name] = {n.func.id for n in ast.walk(fn) if isinstance(n, ast.Call)
                          and isinstance(n.func, ast.Name) and n.func.id in functions} - {fn.name}
    result = {}
    for name in own:
        seen, todo, acts = set(), [name], set()
        while todo:
            f = todo.pop()
            if f in seen:
                continue
            seen.add(f)
            acts |= own[f]
            todo.extend(calls[f])
        result[name] = acts
    return result


def required_actions(key: str) -> set[str]:
    if key in ACTIONS_GIVEN:
        return ACTIONS_GIVEN[key]
    package, name = key.split(".")
    return _actions_of(f"{package}.service")[name]


def may(role: str, key: str) -> bool:
    return all(access.is_allowed(role, a) for a in required_actions(key))


# ------------------------------------------------------------------ the world

@pytest.fixture
def world(demo_rt):
    """The demo with two teams: supervisor1 leads counselor1-2, supervisor9 leads counselor3.

    `inside` is a participant of counselor1 and `outside` one of counselor3, each with sessions,
    assessments and goals; `missing` holds an id of each kind that no row has.
    """
    from accounts import service as accounts

    with demo_rt.sessions() as s:
        by_name = {a.username: a for a in s.scalars(select(Account))}
    admin = by_name["admin"]
    with demo_rt.context(Actor(admin.id, admin.username, admin.role)) as ctx:
        accounts.add_account(ctx, username="supervisor9", role="supervisor", password=PW)
        accounts.set_supervisor(ctx, "counselor3", "supervisor9")
        # A partner of the matching API acts through a token, not an account; an account of the
        # role stands in for it here, to be refused everything else.
        accounts.add_account(ctx, username="partner1", role="partner", password=PW)
    with demo_rt.sessions() as s:
        by_name = {a.username: a for a in s.scalars(select(Account))}

        def record_of(counselor: str) -> dict[str, int]:
            for pid in s.scalars(select(CounselorAssignment.participant_id).where(
                    CounselorAssignment.counselor_id == by_name[counselor].id)
                    .order_by(CounselorAssignment.participant_id)):
                ids = {"participant_id": pid}
                for arg, table in RECORDS.items():
                    if table is not Participant:
                        ids[arg] = s.scalar(select(table.id).where(table.participant_id == pid)
                                            .order_by(table.id).limit(1))
                if all(ids.values()):
                    return ids
            raise AssertionError(f"no participant of {counselor} has every kind of record")

        inside, outside = record_of("counselor1"), record_of("counselor3")
        missing = {arg: (s.scalar(select(func.max(t.id))) or 0) + 10**6 for arg, t in RECORDS.items()}
    actors = {"counselor": "counselor1", "supervisor": "supervisor1", "committee": "committee1",
              "analyst": "analyst1", "reviewer": "reviewer1", "admin": "admin",
              "partner": "partner1", "educator": "educator1"}
    assert set(actors) == set(ROLES)
    return {"rt": demo_rt, "inside": inside, "outside": outside, "missing": missing,
            "actors": {role: Actor(by_name[u].id, u, role) for role, u in actors.items()},
            "counselor_id": by_name["counselor2"].id}


def arguments(key: str, fn, w, tmp_path: Path) -> dict[str, object]:
    """Values a use case accepts, by parameter name (the record is put in by the caller)."""
    from casework.service import NewParticipant, NewSession
    from partners.service import Partner
    from vocab import DISCLOSURE_BASES

    new = NewParticipant(intake_ref="WALK-1", name="김하늘", birth_date=dt.date(2011, 1, 1), sex="male",
                         cohort_id=1, enrolled_on=dt.date(2026, 1, 5), age_at_referral=15)
    source = tmp_path / "scan-me"
    source.mkdir(exist_ok=True)
    values = dict(
        username="counselor2", role="counselor", password=PW, new_password=PW, supervisor=None,
        start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31), limit=5,
        stage="midterm" if key == "matrix.review_goal" else "planning", instrument_id="GS-12",
        responses={}, administered_on=TODAY, expected_version=1, name="walk", programme_id=1,
        start_date=dt.date(2026, 1, 5), end_date=dt.date(2026, 6, 30), new=new, news=[new],
        study_code="P-0000000000", reason="a reason long enough for every rule here",
        counselor_id=w["counselor_id"], session_date=TODAY, minutes=50, modality="in_person",
        attendance="attended", sessions=[NewSession(w["inside"]["participant_id"], TODAY, 50,
                                                     "in_person", "attended")],
        recipient="서울가정법원", legal_basis=DISCLOSURE_BASES[0],
        purpose="the committee meeting of 2026-12", released_on=TODAY, case_ref="SYN-CASE-003-00001",
        paths=[source], uploads=[], file=tmp_path / "none.csv", data=b"", source=source, scan_id=1,
        flag_id=1, decision="confirm", takedown_id=1, status="removed", action=STEP_ACTION,
        as_of=TODAY, text="동의를 구하는 방법을 말할 수 있다.", set_on=TODAY, progress=3,
        domain="gender_sensitivity", indicator="gender_sensitive_language", score=3, period="2026-H1",
        cohort="none", event_date=TODAY, event_type="other", proposal_id=1, accept=False,
        covariates=["prior_offences"], model_id=1, session_id=1, participant_id=1, assessment_id=1, goal_id=1,
        month=dt.date(2026, 10, 1), now=dt.datetime(2026, 11, 20, 12),
        to_counselor="counselor2", on=TODAY,
        reason_id=1, partner="hotline-seoul", token_id=1, kind="hashes", asked=1, matched=0,
        token=Partner(1, "hotline-seoul", ("match.hashes",)),
        audiences=["kindergarten"], format="puppet_show", delivered_on=TODAY,
        audience="kindergarten", institution_kind="kindergarten", district="mapo", present=20,
        delivery_id=1, recommendation_id=1,
    )
    if key == "matrix.sign_off_cohort":
        values.update(as_of=dt.datetime(2026, 11, 20, 12), decision="approved at the meeting")
    if key == "models.record_event":
        values.update(source="police")
    out = {}
    for p in list(inspect.signature(fn).parameters.values())[1:]:
        if p.kind is p.VAR_KEYWORD or p.default is not p.empty:
            continue
        out[p.name] = values[p.name]
    return out


def record_arg(key: str, fn) -> str | None:
    if key.split(".")[0] not in PARTICIPANT_PACKAGES:
        return None  # accounts' session_id is a log-in session; detection has no participants
    # A required argument names the record; an optional one (list_disclosures) only filters a list.
    names = [n for n, p in inspect.signature(fn).parameters.items()
             if n in RECORDS and p.default is p.empty]
    return names[0] if names else None


def outcome(w, role: str, fn, kwargs) -> Exception | None:
    with w["rt"].context(w["actors"][role], today=TODAY) as ctx:
        try:
            fn(ctx, **kwargs)
        except DscrError as exc:
            return exc
    return None


def without(text: str, ident: int) -> str:
    return text.replace(str(ident), "#")


# ------------------------------------------------------------------ the walk

def test_every_use_case_is_found_and_names_the_actions_it_needs():
    cases = use_cases()
    assert len(cases) > 70  # every service's use cases; far fewer means the search broke
    # A use case that asks db.access for nothing is one that reads nothing personal.
    asks_nothing = {k for k in cases if not required_actions(k)}
    assert asks_nothing == {"accounts.data_version", "matrix.suppression_threshold"}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
def test_every_use_case_as_every_role_inside_and_outside_its_scope(world, tmp_path):
    w, problems = world, []
    later = []
    for key, fn in use_cases().items():
        if not required_actions(key):
            continue
        rec = record_arg(key, fn)
        base = arguments(key, fn, w, tmp_path)
        for role in ROLES:
            if not may(role, key):
                for which in (("inside", "outside", "missing") if rec else ("none",)):
                    kwargs = dict(base, **({rec: w[which][rec]} if rec else {}))
                    got = outcome(w, role, fn, kwargs)
                    if not isinstance(got, PermissionDenied):
                        problems.append(f"{key} as {role} on {which}: {got!r}, not PermissionDenied")
                continue
            if rec is None:
                continue  # no record to be out of scope; its own tests run it
            missing = outcome(w, role, fn, dict(base, **{rec: w["missing"][rec]}))
            if not isinstance(missing, NotFound):
                problems.append(f"{key} as {role} on a missing {rec}: {missing!r}, not NotFound")
                continue
            if role in SCOPED and key not in OPENS_OUTSIDE:
                out = outcome(w, role, fn, dict(base, **{rec: w["outside"][rec]}))
                if not (type(out) is NotFound and without(str(out), w["outside"][rec])
                        == without(str(missing), w["missing"][rec])):
                    problems.append(f"{key} as {role} outside the scope: {out!r}; a missing "
                                    f"{rec} gives {missing!r}")
            later.append((key, fn, role, dict(base, **{rec: w["inside"][rec]})))
    # Inside the scope a use case may refuse for its own reasons (a step not ready, answers
    # that do not score), never as if the record were not there or not the role's.
    for key, fn, role, kwargs in later:
        got = outcome(w, role, fn, kwargs)
        if isinstance(got, (NotFound, PermissionDenied)) and not _expected_inside(key, got):
            problems.append(f"{key} as {role} inside the scope: {got!r}")
    assert not problems, "\n".join(problems)


def _expected_inside(key: str, error: Exception) -> bool:
    # The demo has no stored risk model: the participant is found, the model is not.
    if key == "models.predict_for" and "risk model" in str(error):
        return True
    return False
