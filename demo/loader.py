"""Loads a synthetic programme (demo.synthetic) into an empty database, for the demo and the tests.

Accounts, programmes, cohorts, participants and sessions are loaded through the use cases
(`accounts.service`, `casework.service`), as the admin and as each counselor; the rest is one
batch of store rows (see `load`)."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import func, select

from accounts import service as accounts_service
from casework import service as casework
from db.context import SYSTEM, Actor, Context, Runtime
from db.passwords import password_problem
from db.schema import (
    Account,
    Assessment,
    AssessmentScore,
    Case,
    FollowUp,
    Goal,
    GoalReview,
    HashEntry,
    Meta,
    Participant,
    Programme,
    ProgrammeReview,
    RecidivismEvent,
    StageStep,
    utcnow,
)
from demo import synthetic
from errors import Conflict

DEMO_ROLES = (("admin", "admin"), ("committee1", "committee"), ("committee2", "committee"),
              ("committee3", "committee"), ("analyst1", "analyst"), ("reviewer1", "reviewer"),
              ("educator1", "educator"), ("educator2", "educator"))


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
    prevention_deliveries: int = 0


def database_is_empty(runtime: Runtime) -> bool:
    with runtime.sessions() as s:
        n = sum(s.scalar(select(func.count()).select_from(t)) or 0
                for t in (Account, Participant, Programme))
        return n == 0


def _password(username: str = "", display_name: str = "") -> str:
    # Random per installation: demo passwords are printed once and never shipped in the repo.
    # 16 random url-safe characters (96 bits) pass the password rules all but always; the loop
    # keeps that true for the rare draw zxcvbn would call guessable.
    while True:
        pw = "demo-" + secrets.token_urlsafe(12)
        if password_problem(pw, (username, display_name)) is None:
            return pw


def load(runtime: Runtime, *, participants: int = 300, seed: int = 1,
         passwords: dict[str, str] | None = None,
         prevention_classes: int = 12) -> DemoSummary:
    """Generate and store a synthetic programme. Refuses a database that holds anything already."""
    if not database_is_empty(runtime):
        raise Conflict(
            "demo.database_not_empty_demo",
            "The database is not empty: demo data is loaded only into a new database. Use a new "
            "DSCR_DATA_DIR (or DSCR_DATABASE_URL), or keep the data that is there."
        )
    from assessment.instruments import default_instruments
    from assessment.scoring import score_responses
    from assessment.simulate import simulate_responses

    prog = synthetic.generate(participants, seed)
    instruments = default_instruments()
    rng = np.random.default_rng(seed + 7919)
    # A stream of its own for steps, goals and reviews, so that the answers stay as they were.
    extra_rng = np.random.default_rng(seed + 104729)
    passwords = dict(passwords or {})
    accounts: list[DemoAccount] = []
    runtime.check_key()
    keyring = runtime.keyring
    task = f"demo-data seed={seed}"
    today = synthetic.AS_OF
    # Accounts, programmes, cohorts, participants and sessions go through the use cases users
    # call (as the admin who sets up, and as each counselor for their own caseload), so that the
    # demo obeys the same rules: names, taxonomies, dates, the notes guard, the caseload scope.
    # Supervisors before the counselors of their teams.
    people = [(u, r, u, None) for u, r in DEMO_ROLES] + [
        (u, "supervisor", d, None)
        for u, d in zip(prog.supervisors.username, prog.supervisors.display_name, strict=True)] + [
        (u, "counselor", d, lead) for u, d, lead in zip(
            prog.counselors.username, prog.counselors.display_name, prog.counselors.supervisor,
            strict=True)]
    acc_ids: dict[str, int] = {}
    with runtime.context(SYSTEM, today=today, task=task) as ctx:
        for username, role, display, lead in people:
            pw = passwords.get(username) or _password(username, display)
            acc_ids[username] = accounts_service.add_account(
                ctx, username=username, role=role, password=pw, display_name=display,
                supervisor=lead)
            accounts.append(DemoAccount(username, role, pw))
        prog_ids = {row.name: casework.add_programme(ctx, name=row.name, description=row.description)
                    for row in prog.programmes.itertuples()}
        cohort_ids = {(row.programme, row.name): casework.add_cohort(
            ctx, programme_id=prog_ids[row.programme], name=row.name, start_date=row.start_date)
            for row in prog.cohorts.itertuples()}
        news = [casework.NewParticipant(
            intake_ref=row.intake_ref, name=row.name, birth_date=row.birth_date, sex=row.sex,
            cohort_id=cohort_ids[(row.programme, row.cohort)], enrolled_on=row.enrolled_on,
            age_at_referral=row.age_at_referral, contact=row.contact,
            guardian_contact=row.guardian_contact, prior_offences=row.prior_offences,
            case_ref=row.case_ref, offence_types=tuple(row.offence_types),
            offence_date=row.offence_date, referral_date=row.referral_date,
            referral_source=row.referral_source, status=row.status,
            ended_on=None if row.ended_on is None or pd.isna(row.ended_on) else row.ended_on)
            for row in prog.participants.itertuples()]
        ids = casework.register_participants(
            ctx, news, counselor_ids=[acc_ids[c] for c in prog.participants.counselor])
    pid = dict(zip(prog.participants.code, ids, strict=True))
    counselor_of = {row.code: acc_ids[row.counselor] for row in prog.participants.itertuples()}
    lead_of = dict(zip(prog.counselors.username, prog.counselors.supervisor, strict=True))
    supervisor_of = {row.code: acc_ids[lead_of[row.counselor]]
                     for row in prog.participants.itertuples()}
    for username, rows in prog.sessions.assign(
            counselor=prog.sessions.code.map(prog.participants.set_index("code").counselor)
    ).groupby("counselor", sort=False):
        who = Actor(acc_ids[username], username, "counselor")
        with runtime.context(who, today=today, task=task) as ctx:
            casework.record_sessions(ctx, [casework.NewSession(
                participant_id=pid[r.code], session_date=r.date, minutes=r.minutes,
                modality=r.modality, attendance=r.attendance, topics=tuple(r.topics),
                notes=r.note) for r in rows.itertuples()])
    # The rest is written in one batch, checked by the pure rules (scoring, stage dates) and the
    # database's own constraints: there are no bulk use cases for it yet.
    with runtime.sessions() as s:
        ctx = Context(s, SYSTEM, runtime, today=today, task=task)
        with ctx.transaction():
            n_assess = 0
            status_of = dict(zip(prog.participants.code, prog.participants.status, strict=True))
            last_stage = prog.levels.groupby("code").stage.last().to_dict()
            # The step each active participant is at: still a draft, or submitted for review.
            live_status = {code: ("submitted" if extra_rng.random() < 0.4 else "draft")
                           for code in sorted(last_stage) if status_of[code] == "active"}
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
            _load_steps_and_goals(s, prog, pid, counselor_of, supervisor_of, live_status,
                                  keyring, extra_rng)
            _load_programme_reviews(s, prog_ids, [acc_ids[u] for u, r in DEMO_ROLES if r == "committee"],
                                    extra_rng)
            analyst = acc_ids["analyst1"]
            fus = {row.code: FollowUp(participant_id=pid[row.code], start_date=row.start_date,
                                      end_date=row.end_date)
                   for row in prog.follow_ups.itertuples()}
            s.add_all(fus.values())
            s.flush()
            for row in prog.events.itertuples():
                s.add(RecidivismEvent(participant_id=pid[row.code], follow_up_id=fus[row.code].id,
                                      event_date=row.event_date, event_type=row.event_type,
                                      source=row.source, recorded_by=analyst))
            n_hash = _load_registry(s, prog, acc_ids["reviewer1"])
            s.add(Meta(key="demo_data", value=f"participants={participants} seed={seed} at={utcnow().isoformat()}"))
    n_prev = _load_prevention(runtime, acc_ids, prevention_classes, seed, today, task)
    return DemoSummary(accounts, len(prog.participants), len(prog.sessions), n_assess,
                       len(prog.follow_ups), len(prog.events), n_hash, n_prev)


def _load_prevention(runtime: Runtime, acc_ids: dict[str, int], classes_per_year: int, seed: int,
                     today: dt.date, task: str) -> int:
    """Prevention education through its use cases: the committee's programmes and tailored
    versions, each educator's deliveries and the survey files their schools returned (imported
    through the same checks), the committee's ratings and a recommendation the puppet show answers."""
    from demo import prevention as synthetic_prevention
    from matrix.reviews import REVIEW_INDICATORS
    from prevention import service as prevention

    world = synthetic_prevention.generate(classes_per_year, seed + 16)

    def as_(username: str):
        role = dict(DEMO_ROLES)[username]
        return runtime.context(Actor(acc_ids[username], username, role), today=today, task=task)

    ids: dict[str, int] = {}
    with as_("committee1") as ctx:
        for row in world.programmes.itertuples():
            ids[row.name] = prevention.add_prevention_programme(
                ctx, name=row.name, audiences=row.audiences, format=row.format,
                tailored_from_id=ids.get(row.tailored_from) if row.tailored_from else None)
        lecture = ids[synthetic_prevention.LECTURE]
        rec = prevention.record_recommendation(
            ctx, programme_id=lecture, period="2024-H1", audience="kindergarten",
            format="puppet_show", text="유치원용 인형극 버전을 개발할 것 (강의는 유치원생에게 길고 추상적임)")
        puppet = next(ids[n] for n, f in zip(world.programmes["name"], world.programmes["format"])
                      if f == "puppet_show")
        prevention.answer_recommendation(ctx, recommendation_id=rec, programme_id=puppet)
    rng = np.random.default_rng(seed + 16016)
    committee = [u for u, r in DEMO_ROLES if r == "committee"]
    for k, programme_id in enumerate(ids.values()):
        level = 3.2 + 0.4 * k
        for rater in committee:
            with as_(rater) as ctx:
                for i, indicator in enumerate(REVIEW_INDICATORS):
                    score = int(np.clip(np.rint(level + (0.4 if i % 2 else -0.2)
                                                + rng.normal(0, 0.6)), 1, 5))
                    prevention.record_prevention_review(ctx, programme_id=programme_id,
                                                        indicator=indicator, score=score,
                                                        period="2026-H1")
    for row in world.deliveries.itertuples():
        with as_(row.educator) as ctx:
            delivery = prevention.record_delivery(
                ctx, programme_id=ids[row.programme], delivered_on=row.delivered_on,
                audience=row.audience, institution_kind=row.institution_kind,
                district=row.district, present=row.present)
            prevention.import_surveys(ctx, delivery_id=delivery,
                                      data=synthetic_prevention.survey_file(world, row.key),
                                      file_name=f"{row.institution}-{row.key}.csv")
    return len(world.deliveries)


_GOALS = (
    "상대의 동의를 구하는 방법을 구체적으로 말할 수 있다.",
    "온라인에서 다른 사람의 사진이나 영상을 다룰 때 지킬 규칙을 세운다.",
    "자신의 행동이 피해자에게 준 영향을 글로 정리한다.",
    "단톡방에서 성적인 농담이 나올 때 대응하는 방법을 연습한다.",
    "성별 고정관념이 담긴 말을 알아차리고 바꾸어 말해 본다.",
    "재범 위험 상황과 그때 도움을 청할 사람을 정한다.",
)


def _load_steps_and_goals(s, prog: synthetic.SyntheticProgramme, pid: dict[str, int],
                          counselor_of: dict[str, int], supervisor_of: dict[str, int],
                          live_status: dict[str, str], keyring, rng: np.random.Generator) -> None:
    """Step rows consistent with the assessments, and 1-3 goals per participant with their reviews.

    Reached steps of finished participants and the earlier steps of active ones are signed (the
    counselor submitted, the counselor's supervisor reviewed and countersigned); an active participant's current
    step is a draft or submitted; the steps a drop-out never reached are skipped for "dropout".
    """
    from matrix.stages import STAGES, due_dates

    reached = prog.levels.groupby("code", sort=False)[["stage", "date"]].apply(
        lambda f: dict(zip(f.stage, f.date, strict=True))).to_dict()
    goals: list[tuple[Goal, str, dict[str, dt.date]]] = []
    for row in prog.participants.itertuples():
        dates = reached.get(row.code, {})
        due = due_dates(row.enrolled_on)
        cid = counselor_of[row.code]
        for stage in STAGES:
            step = StageStep(participant_id=pid[row.code], stage=stage, due_date=due[stage])
            if stage in dates:
                done = dt.datetime.combine(dates[stage], dt.time(15, 0))
                live = row.code in live_status and stage == max(dates, key=STAGES.index)
                step.status = live_status[row.code] if live else "signed"
                step.updated_by, step.updated_at = cid, done
                if step.status != "draft":
                    step.submitted_by, step.submitted_at = cid, done + dt.timedelta(hours=2)
                if step.status == "signed":
                    step.reviewed_by = step.signed_by = supervisor_of[row.code]
                    step.reviewed_at = done + dt.timedelta(days=3)
                    step.signed_at = done + dt.timedelta(days=3, hours=1)
            elif row.status == "dropped_out":
                step.status, step.skip_reason = "skipped", "dropout"
                step.reason = "참여 중단 (drop-out)"
                step.updated_by = cid
                step.updated_at = dt.datetime.combine(row.ended_on or row.enrolled_on, dt.time(17, 0))
            else:
                continue  # not reached yet: no row, the step counts as not started
            s.add(step)
        if "planning" in dates:
            for text in rng.choice(_GOALS, size=int(rng.integers(1, 4)), replace=False):
                goals.append((Goal(participant_id=pid[row.code], text_enc=keyring.encrypt(str(text)),
                                   set_on=dates["planning"], created_by=cid), row.code, dates))
    s.add_all(g for g, _, _ in goals)
    s.flush()
    for goal, code, dates in goals:
        base = rng.integers(2, 4)
        for k, stage in enumerate(("midterm", "conclusion"), start=1):
            if stage not in dates:
                continue
            progress = int(np.clip(base + k - 1 + rng.integers(-1, 2), 1, 5))
            note = "목표 점검: 진전 있음" if progress >= 3 else "목표 점검: 추가 지원 필요"
            s.add(GoalReview(goal_id=goal.id, stage=stage, progress=progress,
                             note_enc=keyring.encrypt(note), reviewed_by=counselor_of[code],
                             reviewed_at=dt.datetime.combine(dates[stage], dt.time(16, 0))))


def _load_programme_reviews(s, prog_ids: dict[str, int], raters: list[int],
                            rng: np.random.Generator) -> None:
    """Each committee member rates each programme on the four indicators (programmes differ)."""
    from matrix.service import REVIEW_INDICATORS

    for k, programme_id in enumerate(prog_ids.values()):
        level = 3.0 + 0.6 * k
        for i, indicator in enumerate(REVIEW_INDICATORS):
            target = level + (0.5 if i % 2 else -0.3)
            for rater in raters:
                score = int(np.clip(np.rint(target + rng.normal(0, 0.6)), 1, 5))
                s.add(ProgrammeReview(programme_id=programme_id, rater_id=rater, indicator=indicator,
                                      score=score, period="2026-H1"))


def _load_registry(s, prog: synthetic.SyntheticProgramme, reviewer_id: int) -> int:
    """Register benign drawn images to some cases; only their hashes are kept."""
    from detection.hashing import HASHERS

    case_ids = dict(s.execute(select(Case.case_ref, Case.id)).all())
    referred = dict(zip(prog.participants["case_ref"], prog.participants["referral_date"], strict=True))
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    n = 0
    for row in prog.detection_cases.itertuples():
        img = synthetic.draw_benign_image(row.image_seed)
        # Registered a week after the case came in, at 10:00 in Seoul (01:00 UTC), so that the
        # registry's growth by month reads as a real one would.
        added = min(now, dt.datetime.combine(referred[row.case_ref] + dt.timedelta(days=7), dt.time(1)))
        for name, hasher in HASHERS.items():
            s.add(HashEntry(case_id=case_ids[row.case_ref], algorithm=name, bits=hasher.bits,
                            hash_hex=hasher.hash_image(img), source_label="synthetic drawing",
                            added_by=reviewer_id, added_at=added))
            n += 1
        del img
    return n
