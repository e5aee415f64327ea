"""Loads a synthetic programme (db.synthetic) into an empty database, for the demo and the tests."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select

from db import synthetic
from db.context import SYSTEM, Context, Runtime
from db.passwords import hash_password
from db.schema import (
    Account,
    Assessment,
    AssessmentScore,
    Case,
    CaseOffence,
    Cohort,
    CounselingSession,
    CounselorAssignment,
    FollowUp,
    HashEntry,
    Meta,
    Participant,
    ParticipantIdentity,
    Programme,
    RecidivismEvent,
    utcnow,
)
from errors import Conflict

DEMO_ROLES = (("admin", "admin"), ("committee1", "committee"), ("analyst1", "analyst"),
              ("reviewer1", "reviewer"))


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    password: str


@dataclass(frozen=True)
class DemoSummary:
    accounts: list[DemoAccount]
    participants: int
    sessions: int
    assessments: int
    follow_ups: int
    events: int
    hash_entries: int


def database_is_empty(runtime: Runtime) -> bool:
    with runtime.sessions() as s:
        n = sum(s.scalar(select(func.count()).select_from(t)) or 0
                for t in (Account, Participant, Programme))
        return n == 0


def _password() -> str:
    # Random per installation: demo passwords are printed once and never shipped in the repo.
    return "demo-" + secrets.token_urlsafe(9)


def load(runtime: Runtime, *, participants: int = 300, seed: int = 1,
         passwords: dict[str, str] | None = None) -> DemoSummary:
    """Generate and store a synthetic programme. Refuses a database that holds anything already."""
    if not database_is_empty(runtime):
        raise Conflict(
            "The database is not empty: demo data is loaded only into a new database. Use a new "
            "DSCR_DATA_DIR (or DSCR_DATABASE_URL), or keep the data that is there."
        )
    from assessment.instruments import default_instruments
    from assessment.scoring import score_responses
    from assessment.simulate import simulate_responses

    prog = synthetic.generate(participants, seed)
    instruments = default_instruments()
    rng = np.random.default_rng(seed + 7919)
    passwords = dict(passwords or {})
    accounts: list[DemoAccount] = []
    runtime.check_key()
    keyring, coder = runtime.keyring, runtime.study_coder
    with runtime.sessions() as s:
        ctx = Context(s, SYSTEM, runtime, task=f"demo-data seed={seed}")
        with ctx.transaction():
            acc_ids: dict[str, int] = {}
            people = [(u, r, u) for u, r in DEMO_ROLES] + [
                (u, "counselor", d) for u, d in zip(prog.counselors.username, prog.counselors.display_name)]
            for username, role, display in people:
                pw = passwords.get(username) or _password()
                acc = Account(username=username, role=role, display_name=display,
                              password_hash=hash_password(pw))
                s.add(acc)
                s.flush()
                acc_ids[username] = acc.id
                accounts.append(DemoAccount(username, role, pw))
            prog_ids, cohort_ids = {}, {}
            for row in prog.programmes.itertuples():
                p = Programme(name=row.name, description=row.description)
                s.add(p)
                s.flush()
                prog_ids[row.name] = p.id
            for row in prog.cohorts.itertuples():
                c = Cohort(programme_id=prog_ids[row.programme], name=row.name, start_date=row.start_date)
                s.add(c)
                s.flush()
                cohort_ids[(row.programme, row.name)] = c.id
            pid: dict[str, int] = {}
            counselor_of: dict[str, int] = {}
            for row in prog.participants.itertuples():
                part = Participant(
                    study_code=coder.code(row.intake_ref), cohort_id=cohort_ids[(row.programme, row.cohort)],
                    sex=row.sex, age_at_referral=row.age_at_referral, prior_offences=row.prior_offences,
                    enrolled_on=row.enrolled_on, status=row.status, ended_on=row.ended_on,
                )
                s.add(part)
                s.flush()
                pid[row.code] = part.id
                counselor_of[row.code] = acc_ids[row.counselor]
                s.add(ParticipantIdentity(
                    participant_id=part.id, name_enc=keyring.encrypt(row.name),
                    birth_date_enc=keyring.encrypt(row.birth_date.isoformat()),
                    contact_enc=keyring.encrypt(row.contact),
                    guardian_contact_enc=keyring.encrypt(row.guardian_contact), key_id=keyring.primary_id))
                case = Case(case_ref=row.case_ref, participant_id=part.id, offence_date=row.offence_date,
                            referral_date=row.referral_date, referral_source=row.referral_source)
                case.offences = [CaseOffence(offence_type=t) for t in row.offence_types]
                s.add(case)
                s.add(CounselorAssignment(counselor_id=acc_ids[row.counselor], participant_id=part.id,
                                          start_date=row.enrolled_on))
            for row in prog.sessions.itertuples():
                cid = counselor_of[row.code]
                s.add(CounselingSession(
                    participant_id=pid[row.code], counselor_id=cid, session_date=row.date,
                    minutes=row.minutes, modality=row.modality, attendance=row.attendance,
                    topics=list(row.topics), notes_enc=keyring.encrypt(row.note), created_by=cid))
            n_assess = 0
            status_of = dict(zip(prog.participants.code, prog.participants.status))
            last_stage = prog.levels.groupby("code").stage.last().to_dict()
            for row in prog.levels.itertuples():
                levels = {d: getattr(row, d) for d in synthetic.DOMAINS}
                mean_level = float(np.mean(list(levels.values())))
                for inst in instruments.values():
                    if row.stage not in inst.stages:
                        continue
                    lv = {d: levels.get(d, mean_level) for d in inst.domains}
                    responses = simulate_responses(inst, lv, rng, missing_rate=0.02)
                    result = score_responses(inst, responses)
                    live = status_of[row.code] == "active" and last_stage[row.code] == row.stage
                    status = "final" if live else "locked"
                    cid = counselor_of[row.code]
                    when = dt.datetime.combine(row.date, dt.time(15, 0))
                    a = Assessment(
                        participant_id=pid[row.code], stage=row.stage, instrument_id=inst.id,
                        instrument_version=inst.version, responses=responses, status=status,
                        administered_on=row.date, created_by=cid, created_at=when,
                        finalised_by=cid, finalised_at=when)
                    for domain, score in result.domain_scores.items():
                        if score is None:
                            continue
                        lo, hi = inst.score_range(domain)
                        a.scores.append(AssessmentScore(domain=domain, score=score, scale_min=lo, scale_max=hi))
                    s.add(a)
                    n_assess += 1
            analyst = acc_ids["analyst1"]
            fu_ids = {}
            for row in prog.follow_ups.itertuples():
                fu = FollowUp(participant_id=pid[row.code], start_date=row.start_date, end_date=row.end_date)
                s.add(fu)
                s.flush()
                fu_ids[row.code] = fu.id
            for row in prog.events.itertuples():
                s.add(RecidivismEvent(participant_id=pid[row.code], follow_up_id=fu_ids[row.code],
                                      event_date=row.event_date, event_type=row.event_type,
                                      source=row.source, recorded_by=analyst))
            n_hash = _load_registry(s, prog, acc_ids["reviewer1"])
            s.add(Meta(key="demo_data", value=f"participants={participants} seed={seed} at={utcnow().isoformat()}"))
    return DemoSummary(accounts, len(prog.participants), len(prog.sessions), n_assess,
                       len(prog.follow_ups), len(prog.events), n_hash)


def _load_registry(s, prog: synthetic.SyntheticProgramme, reviewer_id: int) -> int:
    """Register benign drawn images to some cases; only their hashes are kept."""
    from detection.hashing import HASHERS

    case_ids = dict(s.execute(select(Case.case_ref, Case.id)).all())
    n = 0
    for row in prog.detection_cases.itertuples():
        img = synthetic.draw_benign_image(row.image_seed)
        for name, hasher in HASHERS.items():
            s.add(HashEntry(case_id=case_ids[row.case_ref], algorithm=name, bits=hasher.bits,
                            hash_hex=hasher.hash_image(img), source_label="synthetic drawing",
                            added_by=reviewer_id))
            n += 1
        del img
    return n
