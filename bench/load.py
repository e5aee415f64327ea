"""Load test: many counselors writing at once to a real PostgreSQL; nothing acknowledged is lost.

    python -m bench.load [--quick] [--workers 16] [--seconds S] --json PATH

Starts a throw-away PostgreSQL server, migrates it, loads a small demo programme, then runs worker
threads, each a counselor, that record counseling sessions, save assessment drafts and move steps
of the matrix through the use cases. A write is acknowledged when its commit returned. Afterwards:
every acknowledged session is stored exactly once (each carries a unique client token), every
acknowledged assessment save is the one its version says it is, the audit chain verifies, and no
stage rule is broken.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, select
from sqlalchemy.exc import DBAPIError, OperationalError

import vocab
from db import audit, migrate
from demo import loader
from casework import service as casework
from db.config import Settings
from db.context import Actor, Runtime, local_today
from db.schema import (
    Account,
    Assessment,
    CounselingSession,
    CounselorAssignment,
    Participant,
    StageStep,
)
from errors import Conflict, DscrError, NotFound, PermissionDenied, ValidationError

RETRYABLE = ("40001", "40P01", "55P03")  # serialization failure, deadlock, lock not available
TOKEN_TOPIC = "bench-token:"
STEP_ACTIONS = ("submit", "review", "sign", "return", "unlock", "skip", "start")


@dataclass
class Tally:
    sessions: dict[str, int] = field(default_factory=dict)            # token -> participant
    drafts: list[tuple[int, int, str]] = field(default_factory=list)  # (assessment id, version, token)
    steps: int = 0
    refused: int = 0
    retries: int = 0
    errors: Counter = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)


def _sqlstate(exc: BaseException) -> str | None:
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) or getattr(getattr(orig, "diag", None), "sqlstate", None)


def _with_retry(fn, tally: Tally, lock: threading.Lock):
    """Run one transaction; retry only when the server rolled it back (nothing half-written)."""
    for attempt in range(8):
        try:
            return fn()
        except (OperationalError, DBAPIError) as exc:
            if _sqlstate(exc) in RETRYABLE and attempt < 7:
                with lock:
                    tally.retries += 1
                time.sleep(random.uniform(0.001, 0.02) * (attempt + 1))
                continue
            raise
    return None  # pragma: no cover


def _record_session(rt: Runtime, actor: Actor, pid: int, today: dt.date) -> str:
    token = uuid.uuid4().hex
    with rt.context(actor, today=today, task="bench session") as ctx:
        from db import access

        access.access_participant(ctx, pid, "session.record")
        with ctx.transaction() as s:
            s.add(CounselingSession(
                participant_id=pid, counselor_id=actor.id, session_date=today,
                minutes=random.choice((30, 50, 60)), modality="in_person", attendance="attended",
                topics=[TOKEN_TOPIC + token, "bench"], notes_enc=ctx.keyring.encrypt("bench note"),
                created_by=actor.id))
    return token


def _save_draft(rt: Runtime, actor: Actor, pid: int, today: dt.date, rng) -> tuple[int, int, str] | None:
    from assessment import service as assessment_service
    from assessment.instruments import default_instruments
    from assessment.simulate import simulate_responses

    stage = random.choice(vocab.STEPS)
    insts = [i for i in default_instruments().values() if stage in i.stages]
    inst = random.choice(insts)
    token = uuid.uuid4().hex
    with rt.context(actor, today=today, task="bench draft") as ctx:
        current = [a for a in assessment_service.list_assessments(ctx, pid, stage=stage)
                   if a.instrument_id == inst.id]
        expected = current[0].version if current else None
        ctx.session.rollback()
        responses = simulate_responses(inst, {d: 0.0 for d in inst.domains}, rng)
        aid = assessment_service.record_draft(
            ctx, participant_id=pid, stage=stage, instrument_id=inst.id, responses=responses,
            administered_on=today, notes=token, expected_version=expected)
    return aid, (expected or 0) + 1, token


def _step(rt: Runtime, actor: Actor, pid: int, today: dt.date) -> None:
    from matrix import service as matrix_service

    from db import access

    stage = random.choice(vocab.STEPS)
    # Only what the worker's role may do: a counselor submits, skips and reviews a colleague's
    # step; countersigning, returning and unlocking are a supervisor's (four eyes).
    action = random.choice([a for a in STEP_ACTIONS if a == "start" or access.is_allowed(
        actor.role, matrix_service.STEP_PERMISSIONS[a])])
    reason = {"skip": random.choice(("dropout", "transfer", "other")), "return": "needs changes",
              "unlock": "correction", "reopen": "back"}.get(action)
    with rt.context(actor, today=today, task="bench step") as ctx:
        if action == "start":
            # Starting happens when answers are saved; here, finalise a draft so submit can follow.
            from assessment import service as assessment_service
            drafts = [a for a in assessment_service.list_assessments(ctx, pid, stage=stage)
                      if a.status == "draft"]
            if not drafts:
                raise Conflict("bench.nothing_finalise", "nothing to finalise")
            ctx.session.rollback()
            assessment_service.finalise(ctx, drafts[0].id, drafts[0].version)
            return
        matrix_service.step_action(ctx, participant_id=pid, stage=stage, action=action, reason=reason)


def _worker(rt, actor, caseload, own, deadline, tally, lock, seed) -> None:
    rng = np.random.default_rng(seed)
    random.seed(seed)
    today = local_today()
    while time.monotonic() < deadline:
        r = random.random()
        t0 = time.perf_counter()
        try:
            if r < 0.6:
                pid = random.choice(caseload)
                token = _with_retry(lambda pid=pid: _record_session(rt, actor, pid, today), tally, lock)
                with lock:
                    tally.sessions[token] = pid
            elif r < 0.85:
                pid = random.choice(own)
                got = _with_retry(lambda pid=pid: _save_draft(rt, actor, pid, today, rng), tally, lock)
                with lock:
                    tally.drafts.append(got)
            else:
                pid = random.choice(own)
                _with_retry(lambda pid=pid: _step(rt, actor, pid, today), tally, lock)
                with lock:
                    tally.steps += 1
        except (Conflict, ValidationError, NotFound):
            with lock:
                tally.refused += 1
            continue
        except PermissionDenied as exc:
            with lock:  # the four-eyes rule refusing one's own step is a refusal; else an error
                if exc.code == "matrix.own_step":
                    tally.refused += 1
                else:
                    tally.errors[f"PermissionDenied:{exc.code}"] += 1
            continue
        except (DscrError, OperationalError, DBAPIError) as exc:
            with lock:
                tally.errors[f"{type(exc).__name__}:{_sqlstate(exc)}"] += 1
            continue
        except Exception as exc:  # counted and reported; the worker goes on
            with lock:
                tally.errors[type(exc).__name__] += 1
            continue
        with lock:
            tally.latencies_ms.append((time.perf_counter() - t0) * 1000)


def rule_violations(rt: Runtime) -> list[str]:
    """Invariants of the three steps that must hold whatever order the writes came in."""
    out: list[str] = []
    with rt.sessions() as s:
        steps = s.scalars(select(StageStep).order_by(StageStep.participant_id, StageStep.stage,
                                                     StageStep.step_version)).all()
        assess = s.scalars(select(Assessment)).all()
    by_step = defaultdict(list)
    for a in assess:
        by_step[(a.participant_id, a.stage, a.step_version)].append(a)
    sheets = Counter((a.participant_id, a.stage, a.instrument_id, a.step_version) for a in assess)
    out += [f"participant {pid} {stage} v{v}: {n} answer sheets of {inst}"
            for (pid, stage, inst, v), n in sheets.items() if n > 1]
    rows = defaultdict(list)
    for r in steps:
        rows[(r.participant_id, r.stage)].append(r)
    for (pid, stage), versions in rows.items():
        live = [r for r in versions if r.superseded_at is None]
        if len(live) != 1 or live[0].step_version != versions[-1].step_version:
            out.append(f"participant {pid} {stage}: {len(live)} current versions")
        for r in versions:
            mine = by_step[(pid, stage, r.step_version)]
            if r.superseded_at is not None and any(a.status != "locked" for a in mine):
                out.append(f"participant {pid} {stage} v{r.step_version}: superseded with open answers")
            if r.status == "signed" and any(a.status != "locked" for a in mine):
                out.append(f"participant {pid} {stage} v{r.step_version}: signed with unlocked answers")
            if r.status in ("submitted", "reviewed") and (not mine or any(a.status == "draft" for a in mine)):
                out.append(f"participant {pid} {stage} v{r.step_version}: {r.status} with drafts or no answers")
    for pid_stage, versions in rows.items():
        pid, stage = pid_stage
        if stage == "planning":
            continue
        before = "planning" if stage == "midterm" else "midterm"
        started = any(r.status != "not_started" for r in versions)
        prior = rows.get((pid, before), [])
        ok = any(r.status == "signed" or r.superseded_at is not None for r in prior) or any(
            r.status == "skipped" and (stage == "conclusion" or r.skip_reason == "transfer") for r in prior)
        # A step skipped straight from not_started never opened, so it needs no gate.
        if started and not ok and not all(r.status == "skipped" for r in versions):
            out.append(f"participant {pid}: {stage} started before {before} was finished")
    return out


def run(*, workers: int = 16, seconds: float = 120.0, participants: int = 40, url: str | None = None,
        data_dir: Path | None = None) -> dict:
    server = None
    if url is None:
        from tests.pg import start_postgres

        server = start_postgres()
        url = server.url()
    tmp = Path(data_dir or tempfile.mkdtemp(prefix="dscr-load-"))
    try:
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), pool_size=workers + 4,
                               max_overflow=4, pool_pre_ping=True)
        settings = Settings(data_dir=tmp, database_url=url, key_file=tmp / "field.key",
                            study_key_file=tmp / "study-code.key", user=None)
        migrate.upgrade(engine)
        rt = Runtime(settings, engine=engine, create_keys=True)
        rt.check_key()
        loader.load(rt, participants=participants, seed=3)
        today = local_today()
        with rt.sessions() as s:
            counselors = [Actor(a.id, a.username, a.role) for a in
                          s.scalars(select(Account).where(Account.role == "counselor").order_by(Account.id))]
            caseloads = defaultdict(list)
            for cid, pid in s.execute(select(CounselorAssignment.counselor_id, CounselorAssignment.participant_id)):
                caseloads[cid].append(pid)
            cohort_id = s.scalar(select(Participant.cohort_id).limit(1))
        # Each counselor also takes on new young people, whose matrix the workers fill in.
        own: dict[int, list[int]] = defaultdict(list)
        for i, c in enumerate(counselors):
            for j in range(2):
                with rt.context(c, today=today) as ctx:
                    pid = casework.register_participant(ctx, casework.NewParticipant(
                        intake_ref=f"LOAD-{i}-{j}", name=f"부하 {i}-{j}", birth_date=dt.date(2010, 1, 1),
                        sex="male", cohort_id=cohort_id, enrolled_on=today, age_at_referral=15))
                own[c.id].append(pid)
                caseloads[c.id].append(pid)
        tally, lock = Tally(), threading.Lock()
        deadline = time.monotonic() + seconds
        threads = []
        t0 = time.perf_counter()
        for w in range(workers):
            c = counselors[w % len(counselors)]
            th = threading.Thread(target=_worker, args=(rt, c, caseloads[c.id], own[c.id], deadline,
                                                        tally, lock, 1000 + w), daemon=True)
            th.start()
            threads.append(th)
        for th in threads:
            th.join()
        elapsed = time.perf_counter() - t0
        result = verify(rt, tally)
        acknowledged = len(tally.sessions) + len(tally.drafts) + tally.steps
        result.update({
            "backend": f"postgresql ({server.version()})" if server else engine.dialect.name,
            "workers": workers,
            "seconds": round(elapsed, 1),
            "acknowledged_writes": acknowledged,
            "acknowledged_sessions": len(tally.sessions),
            "acknowledged_drafts": len(tally.drafts),
            "acknowledged_steps": tally.steps,
            "refused_by_rules_or_conflict": tally.refused,
            "retried_transactions": tally.retries,
            "errors": dict(tally.errors),
            "writes_per_s": round(acknowledged / elapsed, 1),
            "p95_ms": round(float(np.percentile(tally.latencies_ms, 95)), 1) if tally.latencies_ms else None,
        })
        rt.dispose()
        return result
    finally:
        if server is not None:
            server.destroy()


def verify(rt: Runtime, tally: Tally) -> dict:
    with rt.sessions() as s:
        stored = Counter()
        for topics in s.scalars(select(CounselingSession.topics)):
            for t in topics or []:
                if isinstance(t, str) and t.startswith(TOKEN_TOPIC):
                    stored[t[len(TOKEN_TOPIC):]] += 1
        rows = {a.id: a for a in s.scalars(select(Assessment))}
        with rt.engine.connect() as conn:
            chain = audit.verify_chain(conn, rt.audit_chain)
    lost = sum(1 for t in tally.sessions if stored[t] == 0)
    dup = sum(1 for t in tally.sessions if stored[t] > 1)
    # Assessment saves: each acknowledged save made one version; the newest must be what is stored
    # unless a later acknowledged write (finalise, sign) moved the row on.
    by_version: dict[tuple[int, int], list[str]] = defaultdict(list)
    for aid, version, token in tally.drafts:
        by_version[(aid, version)].append(token)
    dup += sum(len(v) - 1 for v in by_version.values() if len(v) > 1)
    newest: dict[int, tuple[int, str]] = {}
    for (aid, version), tokens in by_version.items():
        if aid not in newest or version > newest[aid][0]:
            newest[aid] = (version, tokens[0])
    for aid, (version, token) in newest.items():
        row = rows.get(aid)
        if row is None or row.version < version:
            lost += 1
        elif row.version == version and row.notes_enc is not None:
            note = json.loads(rt.keyring.decrypt(row.notes_enc)).get("notes")
            lost += note != token
    violations = rule_violations(rt)
    return {"lost_writes": lost, "duplicate_writes": dup, "audit_chain_ok": chain.ok,
            "audit_entries": chain.rows_checked, "rule_violations": len(violations),
            "rule_violation_examples": violations[:5]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="under a minute (30 s of load)")
    p.add_argument("--workers", type=int, default=16)
    p.add_argument("--seconds", type=float, help="how long to run the load (default 180, --quick 30)")
    p.add_argument("--participants", type=int, default=60)
    p.add_argument("--json", required=True, metavar="PATH")
    args = p.parse_args(argv)
    seconds = args.seconds or (30.0 if args.quick else 180.0)
    result = run(workers=args.workers, seconds=seconds, participants=args.participants)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    keys = ("backend", "workers", "acknowledged_writes", "lost_writes", "duplicate_writes",
            "audit_chain_ok", "rule_violations", "writes_per_s", "p95_ms")
    for k in keys:
        print(f"{k:<22} {result[k]}")
    print(f"wrote {args.json}")
    ok = result["lost_writes"] == 0 and result["duplicate_writes"] == 0 and result["audit_chain_ok"] \
        and result["rule_violations"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
