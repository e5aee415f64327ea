"""Recidivism use cases on the store: follow-up records, analysis frames, survival, stored models."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from importlib import metadata

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from demo import loader, synthetic
from db.config import Settings
from db.context import SYSTEM, Actor, Runtime
from db.schema import (
    Account,
    Assessment,
    AssessmentScore,
    Case,
    EventProposal,
    Flag,
    FollowUp,
    HashEntry,
    Participant,
    RecidivismEvent,
    RiskModel,
    Scan,
    utcnow,
)
import vocab
from errors import Conflict, NotFound, PermissionDenied, ValidationError
from models import service as ms
from models import approval
from models.cards import data_fingerprint
from models.risk import get_model

TODAY = dt.date(2026, 11, 27)
FAST = {"n_repeats": 2, "n_bootstrap": 30}
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def actor(rt: Runtime, username: str) -> Actor:
    with rt.sessions() as s:
        acc = s.scalars(select(Account).where(Account.username == username)).one()
        return Actor(acc.id, acc.username, acc.role)


def pid_of(rt: Runtime, code: str) -> int:
    with rt.sessions() as s:
        return s.scalar(select(Participant.id).where(
            Participant.study_code == rt.study_coder.code(code)))


def counselor_of(rt: Runtime, prog: synthetic.SyntheticProgramme, code: str) -> Actor:
    return actor(rt, prog.participants.set_index("code").counselor[code])


def truth(prog: synthetic.SyntheticProgramme, rt: Runtime) -> pd.DataFrame:
    """What the generator made: duration and first event per study code."""
    fu = prog.follow_ups.merge(prog.events, on="code", how="left")
    fu["duration"] = [((e if pd.notna(e) else end) - start).days
                      for start, end, e in zip(fu.start_date, fu.end_date, fu.event_date, strict=True)]
    fu["event"] = fu.event_date.notna().astype(int)
    fu["study_code"] = [rt.study_coder.code(c) for c in fu.code]
    return fu.set_index("study_code")


# What the demo_rt fixture loads (tests/conftest.py): the dates below are read from it.
DEMO_N, DEMO_SEED = 40, 3
DAY = dt.timedelta(days=1)


def as_date(value) -> dt.date:
    return pd.Timestamp(value).date()


def window(prog: synthetic.SyntheticProgramme, code: str) -> tuple[dt.date, dt.date]:
    """The follow-up window the generator made for `code`."""
    row = prog.follow_ups.set_index("code").loc[code]
    return as_date(row.start_date), as_date(row.end_date)


def midway(start: dt.date, end: dt.date) -> dt.date:
    return start + (end - start) // 2


def followed_event_free(prog: synthetic.SyntheticProgramme) -> list[str]:
    """Codes followed for more than a day without an event, with a planning step, in order."""
    fu = prog.follow_ups
    long = [(as_date(e) - as_date(s)).days > 1 for s, e in zip(fu.start_date, fu.end_date,
                                                                 strict=True)]
    planned = set(prog.levels.loc[prog.levels.stage == "planning", "code"])
    return [c for c, ok in zip(fu.code, long, strict=True)
            if ok and c not in set(prog.events.code) and c in planned]


def ended_without_window(prog: synthetic.SyntheticProgramme) -> tuple[str, dt.date]:
    """The participant who ended the programme longest ago without a follow-up window."""
    people = prog.participants
    ended = people[people.ended_on.notna() & ~people.code.isin(prog.follow_ups.code)]
    row = ended.assign(day=ended.ended_on.map(as_date)).sort_values(["day", "code"]).iloc[0]
    return row.code, row.day


# ---------------------------------------------------------------- the analysis frame


def test_the_analysis_frame_has_the_durations_and_events_the_generator_made(demo_rt):
    prog = synthetic.generate(40, 3)
    with demo_rt.context(actor(demo_rt, "analyst1"), today=TODAY) as ctx:
        frame = ms.analysis_frame(ctx).set_index("study_code")
    expected = truth(prog, demo_rt)
    assert sorted(frame.index) == sorted(expected.index)
    assert (frame.duration == expected.duration.reindex(frame.index)).all()
    assert (frame.event == expected.event.reindex(frame.index)).all()
    first_type = expected.event_type.reindex(frame.index)
    assert (frame.first_event_type.fillna("-") == first_type.fillna("-")).all()
    for kind in ms.EVENT_TYPE_CODES:
        assert (frame[f"event_{kind}"] == (first_type == kind).astype(int)).all()
    assert (frame[[f"event_{k}" for k in ms.EVENT_TYPE_CODES]].sum(axis=1) == frame.event).all()
    # Baseline features as the generator set them.
    people = prog.participants.assign(
        study_code=[demo_rt.study_coder.code(c) for c in prog.participants.code]
    ).set_index("study_code").reindex(frame.index)
    assert (frame.prior_offences == people.prior_offences).all()
    assert (frame.completed == people.completed.astype(int)).all()
    assert (frame.programme == people.programme).all()
    sessions = prog.sessions[prog.sessions.attendance.isin(["attended", "late"])]
    attended = sessions.groupby("code").size()
    attended.index = [demo_rt.study_coder.code(c) for c in attended.index]
    assert (frame.sessions_attended == attended.reindex(frame.index).fillna(0)).all()
    for kind in prog.participants.offence_types.explode().unique():
        has = people.offence_types.map(lambda types, k=kind: int(k in types))
        assert (frame[f"offence_{kind}"] == has).all()
    # Change scores: conclusion - planning where both exist, NaN otherwise.
    dsc = "digital_sex_crime_understanding"
    both = frame[f"score_{dsc}_planning"].notna() & frame[f"score_{dsc}_conclusion"].notna()
    assert np.allclose(frame.loc[both, f"change_{dsc}"],
                       frame.loc[both, f"score_{dsc}_conclusion"] - frame.loc[both, f"score_{dsc}_planning"])
    assert frame.loc[~both, f"change_{dsc}"].isna().all()
    assert (frame.loc[frame.completed == 0, f"change_{dsc}"].isna()).all()
    # No identifying column, by name.
    assert not [c for c in frame.columns if any(w in c for w in ("name", "contact", "birth"))]


def test_as_of_cuts_follow_up_and_events_at_a_date(demo_rt):
    cut = dt.date(2024, 6, 30)
    prog = synthetic.generate(40, 3)
    with demo_rt.context(actor(demo_rt, "analyst1"), today=TODAY) as ctx:
        frame = ms.analysis_frame(ctx, as_of=cut).set_index("study_code")
    expected = truth(prog, demo_rt)
    expected = expected[expected.start_date <= cut]
    assert sorted(frame.index) == sorted(expected.index)
    exit_day = [min(e if pd.notna(e) else end, cut) for e, end
                in zip(expected.event_date, expected.end_date, strict=True)]
    days = pd.Series([(x - s).days for x, s in zip(exit_day, expected.start_date, strict=True)],
                     index=expected.index)
    assert (frame.duration == days.reindex(frame.index)).all()
    assert frame.event.sum() == int((expected.event_date.fillna(dt.date.max) <= cut).sum())


def test_the_follow_up_register_lists_everyone_who_ended_with_their_window(demo_rt):
    prog = synthetic.generate(40, 3)
    with demo_rt.context(actor(demo_rt, "analyst1"), today=TODAY) as ctx:
        register = ms.follow_up_register(ctx).set_index("study_code")
    ended = prog.participants[prog.participants.ended_on.notna()]
    assert sorted(register.index) == sorted(demo_rt.study_coder.code(c) for c in ended.code)
    windows = truth(prog, demo_rt)
    has = register.follow_up_start.notna()
    assert sorted(register.index[has]) == sorted(windows.index)
    assert (register.loc[windows.index, "follow_up_end"] == windows.end_date).all()
    events = prog.events.groupby("code").size()
    events.index = [demo_rt.study_coder.code(c) for c in events.index]
    assert (register.events_recorded == events.reindex(register.index).fillna(0)).all()
    assert not [c for c in register.columns if any(w in c for w in ("name", "contact", "birth"))]
    with demo_rt.context(actor(demo_rt, "committee1"), today=TODAY) as ctx, \
            pytest.raises(PermissionDenied):
        ms.follow_up_register(ctx)


def test_analysts_only_read_the_frames(demo_rt):
    committee = actor(demo_rt, "committee1")
    with demo_rt.context(committee, today=TODAY) as ctx, pytest.raises(PermissionDenied):
        ms.analysis_frame(ctx)
    counselor = actor(demo_rt, "counselor1")
    with demo_rt.context(counselor, today=TODAY) as ctx:
        with pytest.raises(PermissionDenied):
            ms.person_period_frame(ctx)
        with pytest.raises(PermissionDenied):
            ms.fit_risk_model(ctx)


# ---------------------------------------------------------------- follow-up records


def test_an_event_outside_its_window_is_refused_naming_the_dates(demo_rt):
    prog = synthetic.generate(DEMO_N, DEMO_SEED)
    code = followed_event_free(prog)[0]
    start, end = window(prog, code)
    early, late, inside = start - 24 * DAY, end + 10 * DAY, midway(start, end)
    pid = pid_of(demo_rt, code)
    with demo_rt.sessions() as s:
        before = s.scalar(select(func.count()).select_from(RecidivismEvent))
    with demo_rt.context(actor(demo_rt, "analyst1"), today=TODAY) as ctx:
        with pytest.raises(ValidationError, match=f"{early}.*before the follow-up starts "
                                                  rf"\({start}\)"):
            ms.record_event(ctx, participant_id=pid, event_date=early,
                            event_type="other", source="police")
        with pytest.raises(ValidationError, match=f"{late}.*{start} to {end}"):
            ms.record_event(ctx, participant_id=pid, event_date=late,
                            event_type="other", source="police")
        with pytest.raises(ValidationError, match="proposal"):
            ms.record_event(ctx, participant_id=pid, event_date=inside,
                            event_type="other", source="detection_flag")
        with pytest.raises(ValidationError, match="not one of"):
            ms.record_event(ctx, participant_id=pid, event_date=inside,
                            event_type="theft", source="police")
        no_window = pid_of(demo_rt, ended_without_window(prog)[0])
        with pytest.raises(ValidationError, match="no follow-up window"):
            ms.record_event(ctx, participant_id=no_window, event_date=TODAY - 26 * DAY,
                            event_type="other", source="police")
        with demo_rt.sessions() as s:
            assert s.scalar(select(func.count()).select_from(RecidivismEvent)) == before
        event_id = ms.record_event(ctx, participant_id=pid, event_date=inside,
                                   event_type="digital_sex_crime", source="court")
        assert event_id > 0
        row = ms.analysis_frame(ctx).set_index("study_code").loc[demo_rt.study_coder.code(code)]
    assert row.event == 1 and row.first_event_type == "digital_sex_crime"
    assert row.duration == (inside - start).days
    assert row.event_digital_sex_crime == 1 and row.first_event_source == "court"


def test_a_follow_up_window_starts_at_programme_end_and_moves_with_each_check(demo_rt):
    prog = synthetic.generate(DEMO_N, DEMO_SEED)
    code, ended = ended_without_window(prog)
    assert ended + 49 * DAY <= TODAY, "the checks below need 49 days between the end and today"
    pid = pid_of(demo_rt, code)
    active = pid_of(demo_rt, prog.participants[prog.participants.ended_on.isna()].code.iloc[0])
    day = {n: ended + n * DAY for n in (-1, 3, 8, 13, 18, 30, 49)}
    with demo_rt.context(actor(demo_rt, "analyst1"), today=TODAY) as ctx:
        with pytest.raises(ValidationError,
                           match=f"{day[-1]}.*before the programme ended.*{ended}"):
            ms.record_follow_up(ctx, participant_id=pid, start_date=day[-1], end_date=day[30])
        with pytest.raises(ValidationError, match=f"{day[-1]}, before it starts on {ended}"):
            ms.record_follow_up(ctx, participant_id=pid, start_date=ended, end_date=day[-1])
        with pytest.raises(ValidationError, match="after today"):
            ms.record_follow_up(ctx, participant_id=pid, start_date=ended,
                                end_date=TODAY + 34 * DAY)
        with pytest.raises(ValidationError, match="has not ended the programme"):
            ms.record_follow_up(ctx, participant_id=active, start_date=ended, end_date=day[30])
        fu = ms.record_follow_up(ctx, participant_id=pid, start_date=ended, end_date=day[18])
        ms.record_event(ctx, participant_id=pid, event_date=day[13],
                        event_type="other", source="self_report")
        assert ms.record_follow_up(ctx, participant_id=pid, start_date=ended,
                                   end_date=day[49]) == fu
        with pytest.raises(Conflict, match=f"give its start {ended}"):
            ms.record_follow_up(ctx, participant_id=pid, start_date=day[3], end_date=day[49])
        with pytest.raises(ValidationError, match=f"event is recorded on {day[13]}"):
            ms.record_follow_up(ctx, participant_id=pid, start_date=ended, end_date=day[8])
    with demo_rt.sessions() as s:
        row = s.get(FollowUp, fu)
        assert (row.start_date, row.end_date) == (ended, day[49])
        assert s.scalar(select(func.count()).where(FollowUp.participant_id == pid)) == 1


def _proposal(rt: Runtime, code: str, on: dt.date, flag_status: str = "confirmed") -> int:
    pid = pid_of(rt, code)
    reviewer = actor(rt, "reviewer1")
    with rt.context(SYSTEM, task="test set-up") as ctx, ctx.transaction() as s:
        case_id = s.scalar(select(Case.id).where(Case.participant_id == pid))
        scan = Scan(source_label="test", started_by=reviewer.id)
        entry = HashEntry(case_id=case_id, algorithm="phash", bits=64, hash_hex=f"{pid:016x}",
                          added_by=reviewer.id)
        s.add_all([scan, entry])
        s.flush()
        flag = Flag(scan_id=scan.id, item_path=f"item-{pid}.jpg", item_digest=f"{pid:064x}",
                    hash_entry_id=entry.id, algorithm="phash", distance=3, status=flag_status)
        if flag_status != "pending":
            flag.reviewed_by, flag.reviewed_at, flag.review_reason = reviewer.id, utcnow(), "seen"
        s.add(flag)
        s.flush()
        proposal = EventProposal(flag_id=flag.id, participant_id=pid, proposed_date=on)
        s.add(proposal)
        s.flush()
        return proposal.id


def test_a_proposal_from_a_confirmed_flag_is_decided_once(demo_rt):
    prog = synthetic.generate(DEMO_N, DEMO_SEED)
    codes = followed_event_free(prog)[:4]
    inside = [midway(*window(prog, c)) for c in codes]
    beyond = window(prog, codes[2])[1] + 35 * DAY
    accepted = _proposal(demo_rt, codes[0], inside[0])
    rejected = _proposal(demo_rt, codes[1], inside[1])
    outside = _proposal(demo_rt, codes[2], beyond)
    pending = _proposal(demo_rt, codes[3], inside[3], flag_status="pending")
    with demo_rt.context(actor(demo_rt, "analyst1"), today=TODAY) as ctx:
        listed = ms.list_event_proposals(ctx)
        assert {p.id for p in listed} == {accepted, rejected, outside, pending}
        assert all(p.study_code.startswith("P-") for p in listed)
        event_id = ms.decide_event_proposal(ctx, proposal_id=accepted, accept=True)
        with pytest.raises(Conflict, match="accepted already by analyst1"):
            ms.decide_event_proposal(ctx, proposal_id=accepted, accept=False, reason="mistake")
        with pytest.raises(ValidationError, match="reason"):
            ms.decide_event_proposal(ctx, proposal_id=rejected, accept=False)
        assert ms.decide_event_proposal(ctx, proposal_id=rejected, accept=False,
                                        reason="another person's upload") is None
        with pytest.raises(ValidationError, match=f"{beyond} is after the follow-up window"):
            ms.decide_event_proposal(ctx, proposal_id=outside, accept=True)
        with pytest.raises(Conflict, match="pending, not confirmed"):
            ms.decide_event_proposal(ctx, proposal_id=pending, accept=True)
        with pytest.raises(NotFound):
            ms.decide_event_proposal(ctx, proposal_id=9999, accept=True)
        assert {p.id for p in ms.list_event_proposals(ctx)} == {outside, pending}
    with demo_rt.sessions() as s:
        event = s.get(RecidivismEvent, event_id)
        assert (event.source, event.event_type, event.event_date) == (
            "detection_flag", "digital_sex_crime", inside[0])
        p = s.get(EventProposal, rejected)
        assert (p.status, p.reason, p.event_id) == ("rejected", "another person's upload", None)
        assert s.get(EventProposal, accepted).event_id == event_id
        # The refused acceptance wrote nothing.
        assert s.get(EventProposal, outside).status == "proposed"


# ---------------------------------------------------------------- person-period frame


def test_the_person_period_frame_enters_at_follow_up_and_splits_at_later_steps(demo_rt):
    prog = synthetic.generate(DEMO_N, DEMO_SEED)
    code = followed_event_free(prog)[0]
    start, end = window(prog, code)
    pid = pid_of(demo_rt, code)
    later = midway(start, end)   # a conclusion step given again after follow-up started
    admin = actor(demo_rt, "admin")
    with demo_rt.context(admin, task="test set-up") as ctx, ctx.transaction() as s:
        when = dt.datetime.combine(later, dt.time(10, 0))
        a = Assessment(participant_id=pid, stage="conclusion", instrument_id="DU-14",
                       instrument_version=1, responses={}, status="final", step_version=2,
                       administered_on=later, created_by=admin.id, finalised_by=admin.id,
                       finalised_at=when, created_at=when)
        a.scores.append(AssessmentScore(domain="digital_sex_crime_understanding", score=80.0,
                                        scale_min=0, scale_max=100))
        s.add(a)
    with demo_rt.context(actor(demo_rt, "analyst1"), today=TODAY) as ctx:
        frame = ms.analysis_frame(ctx).set_index("study_code")
        rows = ms.person_period_frame(ctx)
    with demo_rt.sessions() as s:
        enrolled = s.get(Participant, pid).enrolled_on
    study = demo_rt.study_coder.code(code)
    mine = rows[rows.study_code == study].sort_values("start")
    entry = (start - enrolled).days
    split = (later - enrolled).days
    assert mine[["start", "stop"]].to_numpy().tolist() == [
        [entry, split], [split, entry + frame.loc[study, "duration"]]]
    assert mine.step.tolist()[1] == "conclusion"
    assert mine.score_digital_sex_crime_understanding.iloc[1] == 80.0
    planning = frame.loc[study, "score_digital_sex_crime_understanding_planning"]
    assert mine.change_digital_sex_crime_understanding.iloc[1] == pytest.approx(80.0 - planning)
    # Everyone: contiguous rows from follow-up entry to exit, the event on the last row only.
    assert rows.groupby("study_code").event.sum().reindex(frame.index).eq(frame.event).all()
    lengths = (rows.stop - rows.start).groupby(rows.study_code).sum()
    assert (lengths.reindex(frame.index) == frame.duration).all()
    first = rows.sort_values("start").groupby("study_code").first()
    assert (first.sessions_attended.reindex(frame.index) == frame.sessions_attended).all()


# ---------------------------------------------------------------- bad inputs


def test_bad_requests_get_clear_errors(demo_rt):
    events = int(truth(synthetic.generate(DEMO_N, DEMO_SEED), demo_rt).event.sum())
    with demo_rt.context(actor(demo_rt, "analyst1"), today=TODAY) as ctx:
        with pytest.raises(ValidationError, match="'no_such'; choose one of"):
            ms.km(ctx, by="no_such")
        with pytest.raises(ValidationError, match="no column.*'shoe_size'"):
            ms.cox_fit(ctx, ["prior_offences", "shoe_size"])
        with pytest.raises(ValidationError, match="'programme' is .*not numeric"):
            ms.cox_fit(ctx, ["programme"])
        with pytest.raises(ValidationError, match="change_gender_equality' has .*missing"):
            ms.cox_fit(ctx, ["change_gender_equality"])
        with pytest.raises(ValidationError, match=f"only {events} event"):
            ms.cox_fit(ctx, ["prior_offences", "completed", "age_at_referral"])
        with pytest.raises(ValidationError, match=r"only \d+ events .*within 730 days.*at least 10"):
            ms.fit_risk_model(ctx, **FAST)
        with pytest.raises(ValidationError, match="event_other describe the follow-up"):
            ms.fit_risk_model(ctx, features=["prior_offences", "event_other"], **FAST)
        with pytest.raises(ValidationError, match="shoe_size are not columns"):
            ms.fit_risk_model(ctx, features=["shoe_size"], **FAST)
        with pytest.raises(ValidationError, match="horizon must be a positive"):
            ms.fit_risk_model(ctx, horizon=0, **FAST)
        with pytest.raises(ValidationError, match="no risk model named 'forest'"):
            ms.fit_risk_model(ctx, model="forest", **FAST)
        with pytest.raises(NotFound, match="No risk model 77"):
            ms.get_card(ctx, 77)


@sqlite_only
def test_an_empty_store_says_what_to_record_first(rt, make_account):
    with rt.context(make_account("analyst"), today=TODAY) as ctx:
        with pytest.raises(ValidationError, match="No follow-up windows are recorded yet"):
            ms.km(ctx)


def test_cumulative_incidence_by_type_adds_up_to_one_minus_survival(demo_rt):
    with demo_rt.context(actor(demo_rt, "analyst1"), today=TODAY) as ctx:
        cif = ms.cumulative_incidence_by_type(ctx)
        km = ms.km(ctx)
    times = [365.0, 730.0, 1460.0]
    total = cif.at(times).sum(axis=1).to_numpy()
    assert np.allclose(total, 1 - km.survival_at(times).to_numpy(), atol=1e-12)
    named = cif.table.drop_duplicates("event_type").set_index("event_type").event_type_name
    assert named.to_dict() == {ms.EVENT_TYPE_CODES[n]: n for n in named}


def test_the_frame_without_the_matrix_is_the_frame_less_its_matrix_columns(demo_rt):
    with demo_rt.context(actor(demo_rt, "analyst1"), today=TODAY) as ctx:
        full = ms.analysis_frame(ctx)
        light = ms.analysis_frame(ctx, matrix=False)
        matrix_cols = [c for c in full.columns if c.startswith(("score_", "change_"))]
        assert len(matrix_cols) == len(vocab.DOMAINS) * (len(vocab.STEPS) + 2)
        pd.testing.assert_frame_equal(light, full.drop(columns=matrix_cols))
        # Survival curves are the same from either; a model of changes needs the whole frame.
        pd.testing.assert_frame_equal(ms.km(ctx, frame=light).table, ms.km(ctx, frame=full).table)
        with pytest.raises(ValidationError, match="without the matrix columns"):
            ms.cox_fit(ctx, ["change_to_last_gender_sensitivity"], frame=light)


def test_analyses_on_a_frame_already_read_equal_those_that_read_it(demo_rt):
    with demo_rt.context(actor(demo_rt, "analyst1"), today=TODAY) as ctx:
        frame = ms.analysis_frame(ctx)
        kept = frame.copy()
        pairs = [(ms.km(ctx, by="completed"), ms.km(ctx, by="completed", frame=frame)),
                 (ms.cumulative_incidence_by_type(ctx),
                  ms.cumulative_incidence_by_type(ctx, frame=frame))]
        cox = ms.cox_fit(ctx, ["completed"])
        cox_given = ms.cox_fit(ctx, ["completed"], frame=frame)
        # A frame cut at another date is not taken for this one.
        with pytest.raises(ValidationError, match="read as of"):
            ms.km(ctx, as_of=dt.date(2024, 1, 1), frame=frame)
    for read, given in pairs:
        pd.testing.assert_frame_equal(read.table, given.table)
    pd.testing.assert_frame_equal(cox.summary, cox_given.summary)
    pd.testing.assert_frame_equal(frame, kept)  # the analyses leave the given frame as it was
    # A frame in hand is no way around the access rules.
    with demo_rt.context(actor(demo_rt, "committee1"), today=TODAY) as ctx:
        for call in (lambda: ms.km(ctx, frame=frame), lambda: ms.cox_fit(ctx, ["completed"], frame=frame),
                     lambda: ms.cumulative_incidence_by_type(ctx, frame=frame)):
            with pytest.raises(PermissionDenied):
                call()


# ---------------------------------------------------------------- stored risk models


def test_a_fitted_model_is_stored_listed_and_predicts_with_its_name(demo250):
    rt = demo250
    analyst = actor(rt, "analyst1")
    with rt.context(analyst, today=TODAY) as ctx:
        # Three years: at 250 people the default model then passes the approval gates.
        model_id = ms.fit_risk_model(ctx, horizon=1095, random_state=0, **FAST)
        listed = ms.list_models(ctx)
        card = ms.get_card(ctx, model_id)
        frame = ms.analysis_frame(ctx, as_of=TODAY)
    assert [m.id for m in listed] == [model_id]
    info = listed[0]
    assert (info.name, info.horizon_days, info.created_by) == ("logistic", 1095, "analyst1")
    assert info.auc_ci_lower <= info.auc <= info.auc_ci_upper
    features = list(ms.DEFAULT_FEATURES)
    assert card.features == features and card.n == len(frame)
    assert card.data_fingerprint == data_fingerprint(frame, ["duration", "event", *features])
    assert info.data_fingerprint == card.data_fingerprint
    # The code is named by the installed package's version, not by a git folder's commit.
    assert card.code_version == f"dscr {metadata.version('dscr')}"
    assert set(card.subgroups) == set(ms.FAIRNESS_GROUPS)
    assert set(card.subgroups["programme"]) == set(frame.programme)
    for row in card.subgroups["sex"].values():
        assert {"n", "base_rate", "auc", "fpr", "fnr", "ppv"} <= set(row)
    # Card and parameters, never rows: no study code is stored with the model.
    with rt.sessions() as s:
        stored = s.get(RiskModel, model_id)
        text = json.dumps(stored.card, ensure_ascii=False) + json.dumps(stored.params)
    assert not [c for c in frame.study_code if c in text]
    # The calibration bins of the validation are kept (aggregates) and plot for the card.
    with rt.context(analyst, today=TODAY) as ctx:
        calibration = ms.model_calibration(ctx, model_id)
    assert calibration.horizon == 1095 and calibration.table["n"].sum() == len(frame)
    assert (calibration.table.ci_lower <= calibration.table.observed).all()
    assert len(calibration.plot().data) == 2

    # Approved by a committee member (tests/models/test_approval.py has the rules), a counselor
    # sees the risk of someone in the caseload, with the model's name and why.
    with rt.context(actor(rt, "committee1"), today=TODAY) as ctx:
        ms.approve_model(ctx, model_id=model_id, reason="Read the card for this test",
                         acknowledged=approval.warning_keys(card.warnings))
    prog = synthetic.generate(250, 3)
    code = prog.follow_ups.code.iloc[0]
    pid = pid_of(rt, code)
    with rt.context(counselor_of(rt, prog, code), today=TODAY) as ctx:
        prediction = ms.predict_for(ctx, pid, model_id)
        other = next(c for c in prog.participants.code
                     if prog.participants.set_index("code").counselor[c]
                     != prog.participants.set_index("code").counselor[code])
        with pytest.raises(NotFound):
            ms.predict_for(ctx, pid_of(rt, other), model_id)
        with pytest.raises(NotFound, match="No risk model"):
            ms.predict_for(ctx, pid, model_id + 1)
    assert prediction.model_id == model_id and prediction.model_name == "logistic"
    assert f"logistic #{model_id}" in prediction.model_label
    assert prediction.study_code == rt.study_coder.code(code)
    assert prediction.log_odds == pytest.approx(
        prediction.contributions.contribution.sum() + prediction.intercept, abs=1e-12)
    assert "auc" in prediction.metrics and prediction.method == "stored coefficients"
    # The stored coefficients give what the fitted pipeline gives (a refit with the same settings).
    refit = get_model("logistic", random_state=0).fit(frame, features, 1095)
    row = frame[frame.study_code == prediction.study_code]
    assert prediction.risk == pytest.approx(float(refit.predict_risk(row).iloc[0]), rel=1e-9)
    # The prediction's explanation is the model class's own, from the stored parameters: the
    # same numbers as LogisticRisk.explain of the model refitted with the same settings.
    with rt.sessions() as s:
        stored_params = s.get(RiskModel, model_id).params["logistic"]
    assert stored_params == refit.stored_parameters()
    expected = refit.explain(row).iloc[0]
    got = prediction.contributions.set_index("feature").contribution
    assert got[features].tolist() == expected[features].tolist()
    assert prediction.intercept == expected["intercept"]
    assert prediction.log_odds == float(expected.sum())


@sqlite_only
def test_a_boosted_model_is_never_approved_so_nothing_is_refitted_for_a_prediction(demo250):
    rt = demo250
    with rt.context(actor(rt, "analyst1"), today=TODAY) as ctx:
        model_id = ms.fit_risk_model(ctx, model="gradient_boosting", **FAST)
        info = ms.list_models(ctx)[0]
        card = ms.get_card(ctx, model_id)
    assert info.status == "draft" and "models.gate_stored" in [b.code for b in info.blockers]
    with rt.context(actor(rt, "admin"), today=TODAY) as ctx, \
            pytest.raises(ValidationError, match="does not predict from stored parameters"):
        ms.approve_model(ctx, model_id=model_id, reason="Read the card",
                         acknowledged=approval.warning_keys(card.warnings))
    with rt.sessions() as s:
        assert "logistic" not in s.get(RiskModel, model_id).params


# ---------------------------------------------------------------- a larger synthetic programme

BIG_N, BIG_SEED = 600, 5


@pytest.fixture(scope="module")
def big_rt(tmp_path_factory, _sqlite_template):
    """A 600-participant synthetic programme on SQLite, shared by the read-only tests below."""
    path = tmp_path_factory.mktemp("big")
    shutil.copy(_sqlite_template, path / "dscr.sqlite3")
    settings = Settings(data_dir=path, database_url=f"sqlite:///{path / 'dscr.sqlite3'}",
                        key_file=path / "field.key", study_key_file=path / "study.key", user=None)
    runtime = Runtime(settings, create_keys=True)
    runtime.check_key()
    loader.load(runtime, participants=BIG_N, seed=BIG_SEED)
    yield runtime
    runtime.dispose()


def test_a_cox_fit_on_the_demo_recovers_the_true_hazard_ratios(big_rt):
    with big_rt.context(actor(big_rt, "analyst1"), today=TODAY) as ctx:
        result = ms.cox_fit(ctx, ["prior_offences", "completed", "age_at_referral",
                                  "change_to_last_digital_sex_crime_understanding"],
                            complete_cases=True)
    true = synthetic.TRUE_EFFECTS["log_hr"]
    for name in ("prior_offences", "completed"):
        row = result.summary.loc[name]
        assert row.ci_lower < true[name] < row.ci_upper, (name, row)
    # Older at referral, lower hazard, as generated (-0.06 per year).
    age = result.summary.loc["age_at_referral"]
    assert age.ci_lower < true["age_over_15"] < age.ci_upper
    assert result.n > 500 and result.n_events > 60


def test_matrix_change_and_reoffending_recovers_the_generators_effect_of_change(big_rt):
    """The generator lowers the hazard by TRUE_EFFECTS["log_hr"]["dsc_change_sd"] per SD of
    change in understanding of digital sex crimes (DU-14, SD 7.5); per reliable improvement (its
    reliable change criterion in SDs) that is the truth the time-varying Cox model must hold
    inside its CI. The other domains have no effect on the hazard."""
    from assessment.instruments import default_instruments

    with big_rt.context(actor(big_rt, "analyst1"), today=TODAY) as ctx:
        result = ms.change_on_recidivism(ctx)
        frame_codes = set(ms.analysis_frame(ctx).study_code)
    norm = default_instruments()["DU-14"].norms["digital_sex_crime_understanding"]
    criterion = result.reliable_change["digital_sex_crime_understanding"]
    truth = synthetic.TRUE_EFFECTS["log_hr"]["dsc_change_sd"] * criterion / norm.sd
    row = result.summary.loc["improvement_digital_sex_crime_understanding"]
    assert row.ci_lower < truth < row.ci_upper, (truth, row)
    assert row.ci_upper < 0  # and the data say so: improvement goes with less reoffending
    for domain in ("gender_sensitivity", "gender_equality"):
        other = result.summary.loc[f"improvement_{domain}"]
        assert other.ci_lower < 0 < other.ci_upper, (domain, other)
    prior = result.summary.loc["prior_offences"]
    assert prior.ci_lower < synthetic.TRUE_EFFECTS["log_hr"]["prior_offences"] < prior.ci_upper
    assert result.n_ids > 500 and result.n_events > 60 and result.epv > 10
    assert list(result.ph_test.index) == [*result.covariates, "GLOBAL"]
    # Only aggregates: no study code in what leaves.
    text = result.summary.to_csv() + result.ph_test.to_csv() + repr(result)
    assert not [c for c in frame_codes if c in text]


def test_no_output_of_the_module_holds_a_name_contact_or_birth_date(big_rt):
    prog = synthetic.generate(BIG_N, BIG_SEED)
    people = prog.participants
    needles = set(people.name) | set(people.contact) | set(people.guardian_contact) | {
        d.isoformat() for d in people.birth_date}
    analyst = actor(big_rt, "analyst1")
    outputs: dict[str, str] = {}
    with big_rt.context(analyst, today=TODAY) as ctx:
        model_id = ms.fit_risk_model(ctx, **FAST)
        outputs["frame"] = ms.analysis_frame(ctx).to_csv()
        outputs["person_period"] = ms.person_period_frame(ctx).to_csv()
        km = ms.km(ctx, by="programme")
        outputs["km"] = km.table.to_csv() + repr(km.logrank)
        outputs["cox"] = ms.cox_fit(ctx, ["prior_offences", "completed"]).summary.to_csv()
        outputs["cif"] = ms.cumulative_incidence_by_type(ctx).table.to_csv()
        outputs["card"] = ms.get_card(ctx, model_id).to_json()
        outputs["models"] = repr(ms.list_models(ctx))
        outputs["proposals"] = repr(ms.list_event_proposals(ctx, status=None))
    # Marked approved in the store (whether it passes the gates is not what this test is about;
    # tests/models/test_approval.py is), so that a counselor's prediction is among the outputs.
    committee = actor(big_rt, "committee1")
    with big_rt.context(SYSTEM) as ctx, ctx.transaction() as s:
        row = s.get(RiskModel, model_id)
        row.status, row.approved_by, row.approved_at, row.approval_reason = (
            "approved", committee.id, utcnow(), "for the test of outputs")
    code = prog.follow_ups.code.iloc[0]
    with big_rt.context(counselor_of(big_rt, prog, code), today=TODAY) as ctx:
        p = ms.predict_for(ctx, pid_of(big_rt, code), model_id)
        outputs["prediction"] = repr(p) + p.contributions.to_csv()
    with big_rt.sessions() as s:
        stored = s.get(RiskModel, model_id)
        outputs["stored"] = json.dumps([stored.card, stored.params], ensure_ascii=False)
    assert len(needles) > 3 * BIG_N * 0.9
    found = {what: [n for n in needles if n in text] for what, text in outputs.items()}
    assert found == {what: [] for what in outputs}
    # The needles are what the store holds: decrypted by the counselor, as the design allows.
    from casework.service import participant_identity

    with big_rt.context(counselor_of(big_rt, prog, code), today=TODAY) as ctx:
        ident = participant_identity(ctx, pid_of(big_rt, code))
    row = people.set_index("code").loc[code]
    assert (ident.name, ident.contact, ident.birth_date) == (
        row["name"], row.contact, row.birth_date.isoformat())


def test_an_event_after_the_window_is_accepted_by_moving_its_end_in_the_same_step(demo_rt):
    prog = synthetic.generate(DEMO_N, DEMO_SEED)
    code = followed_event_free(prog)[5]
    start, end = window(prog, code)
    beyond = end + 35 * DAY
    proposal = _proposal(demo_rt, code, beyond)
    check_day = beyond + 2 * DAY
    today = max(TODAY, check_day)
    with demo_rt.context(actor(demo_rt, "analyst1"), today=today) as ctx:
        (view,) = [p for p in ms.list_event_proposals(ctx) if p.id == proposal]
        assert view.follow_up_end == end and view.case_ref  # the analyst sees it falls after
        with pytest.raises(ValidationError, match="reason"):
            ms.decide_event_proposal(ctx, proposal_id=proposal, accept=True,
                                     extend_window_to=check_day)
        with pytest.raises(ValidationError, match="on or after the event"):
            ms.decide_event_proposal(ctx, proposal_id=proposal, accept=True,
                                     extend_window_to=beyond - DAY,
                                     reason="the platform check of that week")
        with pytest.raises(ValidationError, match="after today"):
            ms.decide_event_proposal(ctx, proposal_id=proposal, accept=True,
                                     extend_window_to=today + DAY,
                                     reason="the platform check of that week")
        event_id = ms.decide_event_proposal(ctx, proposal_id=proposal, accept=True,
                                            extend_window_to=check_day,
                                            reason="the platform check of that week")
    with demo_rt.sessions() as s:
        fu = s.scalars(select(FollowUp).where(FollowUp.participant_id == pid_of(demo_rt, code))).one()
        assert (fu.start_date, fu.end_date) == (start, check_day)
        assert s.get(RecidivismEvent, event_id).event_date == beyond
        p = s.get(EventProposal, proposal)
        assert (p.status, p.reason, p.event_id) == ("accepted", "the platform check of that week",
                                                    event_id)
