"""The analysis frames built from plain rows: baseline features, outcomes, matrix scores, episodes.

Pure: DataFrames in, DataFrames out. `models.service` reads the rows from the store (cut at
`as_of` where the store can cut them) and hands them here; these functions never read anything.
The rows are keyed by participant id, which stays on the server: the frames that leave carry the
study code only.

Age at offence is approximated from the age at referral and the days between offence and
referral, never from a birth date (analysts never see one).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import numpy as np
import pandas as pd

import vocab
from models import survival

# The columns of the rows each function takes (what `models.service` reads).
PEOPLE_COLUMNS = ("participant_id", "study_code", "sex", "age_at_referral", "prior_offences",
                  "enrolled_on", "status", "ended_on", "cohort", "programme")
CASE_COLUMNS = ("case_id", "participant_id", "offence_date", "referral_date")
OFFENCE_COLUMNS = ("participant_id", "offence_type")
ATTENDANCE_COLUMNS = ("participant_id", "n")
ASSESSMENT_COLUMNS = ("participant_id", "stage", "date", "assessment_id", "domain", "score")
FOLLOW_UP_COLUMNS = ("participant_id", "follow_up_start", "follow_up_end")
EVENT_COLUMNS = ("participant_id", "event_date", "event_type", "source", "event_id")
SESSION_COLUMNS = ("participant_id", "date")

# Used to build the frame, not columns of it.
_DROP = ("status", "ended_on")


def latest_step_scores(assessments: pd.DataFrame) -> pd.DataFrame:
    """The domain scores that count: the matrix's domains only, the latest at each step.

    `assessments`: ASSESSMENT_COLUMNS, one row per assessment and domain (final or locked only).
    A step given again (a new step version) replaces the earlier scores of that step.
    """
    rows = assessments[assessments["domain"].isin(vocab.DOMAINS)]
    return (rows.sort_values(["date", "assessment_id"])
            .drop_duplicates(["participant_id", "stage", "domain"], keep="last"))


def step_scores(assessments: pd.DataFrame) -> pd.DataFrame:
    """One row per participant, a `score_<domain>_<stage>` column per step and domain measured."""
    rows = latest_step_scores(assessments)
    if rows.empty:
        return pd.DataFrame()
    # One row per participant, stage and domain already: a plain pivot, no aggregation.
    wide = rows.pivot(index="participant_id", columns=["domain", "stage"], values="score")
    wide.columns = [f"score_{d}_{st}" for d, st in wide.columns]
    return wide


def baseline_frame(people: pd.DataFrame, cases: pd.DataFrame, offences: pd.DataFrame,
                   attended: pd.DataFrame, *, as_of: dt.date | None = None,
                   assessments: pd.DataFrame | None = None) -> pd.DataFrame:
    """Baseline features per participant (index: participant id), pseudonymised.

    `people` (PEOPLE_COLUMNS), their `cases` (CASE_COLUMNS), the offence types of those cases
    (OFFENCE_COLUMNS) and `attended` (ATTENDANCE_COLUMNS: sessions attended or late, up to
    `as_of`). Adds age_at_offence, age_band (`vocab.age_band` of the age at referral),
    offence_<type> indicators, offence_group (the single type, "multiple" or "unknown"),
    sessions_attended and completed (0/1: completed, and ended by `as_of`). With `assessments`
    (ASSESSMENT_COLUMNS, up to `as_of`) also score_<domain>_<stage>, change_<domain>
    (conclusion - planning) and change_to_last_<domain> (last step reached - planning, 0 with
    only a planning score).
    """
    base = people.set_index("participant_id")
    if base.empty:
        return base
    offences = offences.drop_duplicates()
    # The earliest case is the index offence the referral was about.
    first_case = cases.sort_values(["offence_date", "case_id"]).drop_duplicates("participant_id")
    first_case = first_case.set_index("participant_id").reindex(base.index)
    lag = pd.to_datetime(first_case["referral_date"]) - pd.to_datetime(first_case["offence_date"])
    lag_years = lag.dt.days / 365.25
    base["age_at_offence"] = base["age_at_referral"] - lag_years
    base["age_band"] = base["age_at_referral"].map(vocab.age_band)
    for kind in vocab.OFFENCE_TYPES:
        has = offences.loc[offences.offence_type == kind, "participant_id"]
        base[f"offence_{kind}"] = base.index.isin(has).astype(int)
    group = offences.groupby("participant_id")["offence_type"].agg(vocab.offence_group)
    base["offence_group"] = group.reindex(base.index).fillna(vocab.UNKNOWN_OFFENCE).to_numpy()

    counts = attended.set_index("participant_id")["n"]
    base["sessions_attended"] = counts.reindex(base.index).fillna(0).astype(int).to_numpy()
    ended = [d is not None and not pd.isna(d) and (as_of is None or d <= as_of)
             for d in base["ended_on"]]
    base["completed"] = ((base["status"] == "completed") & np.array(ended, dtype=bool)).astype(int)

    if assessments is None:
        return base
    scores = step_scores(assessments)
    for domain in vocab.DOMAINS:
        for stage in vocab.STEPS:
            col = f"score_{domain}_{stage}"
            base[col] = scores[col].reindex(base.index) if col in scores else np.nan
        first = base[f"score_{domain}_{vocab.PLANNING}"]
        base[f"change_{domain}"] = base[f"score_{domain}_{vocab.CONCLUSION}"] - first
        last = base[f"score_{domain}_{vocab.CONCLUSION}"].fillna(
            base[f"score_{domain}_{vocab.MIDTERM}"])
        # Change to the last step reached: 0 with only a planning score (nothing measured after).
        change = (last - first).where(last.notna(), 0.0)
        base[f"change_to_last_{domain}"] = change.where(first.notna())
    return base


def outcomes_frame(follow_ups: pd.DataFrame, events: pd.DataFrame, *,
                   as_of: dt.date | None = None) -> pd.DataFrame:
    """Per participant with a follow-up (index: participant id): window, duration, first event.

    `follow_ups` (FOLLOW_UP_COLUMNS, one window per participant) and `events` (EVENT_COLUMNS).
    `as_of` drops windows starting later and cuts ends and events at that date. Columns:
    follow_up_start, follow_up_end, duration (days to the first event, else to the window's end),
    event, event_<type> (1 when the first event is of that type), first_event_type,
    first_event_source ("none" without an event), first_event_date, events_recorded.
    """
    fus = follow_ups.set_index("participant_id")
    if as_of is not None:
        fus = fus[fus["follow_up_start"] <= as_of]
        fus["follow_up_end"] = fus["follow_up_end"].map(lambda d: min(d, as_of))
    events = events[events["participant_id"].isin(fus.index)]
    if as_of is not None:
        events = events[events["event_date"] <= as_of]
    first = (events.sort_values(["event_date", "event_id"]).drop_duplicates("participant_id")
             .set_index("participant_id").reindex(fus.index))
    has_event = first["event_date"].notna()
    exit_date = first["event_date"].where(has_event, fus["follow_up_end"])
    out = fus.copy()
    out["duration"] = (pd.to_datetime(exit_date) - pd.to_datetime(fus["follow_up_start"])).dt.days
    out["event"] = has_event.astype(int)
    for kind in vocab.EVENT_TYPES:
        out[f"event_{kind}"] = (first["event_type"] == kind).astype(int)
    out["first_event_type"] = first["event_type"].where(has_event, None)
    out["first_event_source"] = first["source"].where(has_event, "none")
    out["first_event_date"] = first["event_date"].where(has_event, None)
    counts = events.groupby("participant_id").size().reindex(fus.index)
    out["events_recorded"] = counts.fillna(0).astype(int)
    return out


def analysis_frame(baseline: pd.DataFrame, outcomes: pd.DataFrame, *,
                   as_of: dt.date | None = None, matrix: bool = True) -> pd.DataFrame:
    """One row per participant with a follow-up window, by study code (participant ids dropped).

    `baseline` from `baseline_frame`, `outcomes` from `outcomes_frame`, both cut at `as_of`;
    `matrix` says whether the baseline has the matrix columns. Both are kept in `frame.attrs`
    so that an analysis can check what it is given.
    """
    frame = baseline.join(outcomes, how="inner").drop(columns=list(_DROP))
    front = ["study_code", "duration", "event", "first_event_type"]
    frame = frame[front + [c for c in frame.columns if c not in front]]
    frame = frame.sort_values("study_code").reset_index(drop=True)
    frame.attrs["as_of"] = as_of.isoformat() if as_of else None
    frame.attrs["matrix"] = matrix
    return frame


def person_period_frame(frame: pd.DataFrame, participant_ids: Mapping[str, int],
                        assessments: pd.DataFrame, sessions: pd.DataFrame) -> pd.DataFrame:
    """Counting-process (start, stop] rows for the time-varying Cox model.

    `frame`: an analysis frame (with or without the matrix); `participant_ids`: the participant
    id of each of its study codes, which key `assessments` (ASSESSMENT_COLUMNS) and the
    attended `sessions` (SESSION_COLUMNS), both up to the frame's `as_of`. Time is days since
    enrolment; each row is split (through `survival.split_episodes`) at every step's date and
    every attended session, and rows before the follow-up start are cut off (left truncation).
    Columns: study_code, start, stop, event, step (the last step measured, "none" before the
    first), sessions_attended, score_<domain> and change_<domain> (from planning) at that step,
    prior_offences, age_at_referral, completed, programme. People whose follow-up has zero length
    are left out; their number is in `attrs["dropped_zero_length"]`.
    """
    frame = frame.assign(participant_id=frame["study_code"].map(participant_ids))
    enrolled = dict(zip(frame["participant_id"], frame["enrolled_on"], strict=True))
    steps = latest_step_scores(assessments)
    steps = steps[steps["participant_id"].isin(enrolled)]
    sessions = sessions[sessions["participant_id"].isin(enrolled)]
    entry = np.array([(f - e).days
                      for f, e in zip(frame["follow_up_start"], frame["enrolled_on"], strict=True)])
    base = pd.DataFrame({"participant_id": frame["participant_id"], "event": frame["event"],
                         "time": entry + frame["duration"].to_numpy(),
                         "step": 0, "sessions_attended": 0})
    zero = frame["duration"].to_numpy() == 0
    base = base[~zero]

    def days(df: pd.DataFrame) -> np.ndarray:
        pairs = zip(df["participant_id"], df["date"], strict=True)
        return np.array([(d - enrolled[p]).days for p, d in pairs], dtype=float)

    step_index = {stage: i + 1 for i, stage in enumerate(vocab.STEPS)}
    step_dates = steps.groupby(["participant_id", "stage"], as_index=False)["date"].max()
    step_changes = pd.DataFrame({"participant_id": step_dates["participant_id"],
                                 "t": days(step_dates) if len(step_dates) else [],
                                 "step": step_dates["stage"].map(step_index),
                                 "sessions_attended": np.nan})
    sessions = sessions.sort_values(["participant_id", "date"])
    count = sessions.groupby("participant_id").cumcount() + 1
    session_changes = pd.DataFrame({"participant_id": sessions["participant_id"],
                                    "t": days(sessions) if len(sessions) else [], "step": np.nan,
                                    "sessions_attended": count})
    changes = pd.concat([step_changes, session_changes], ignore_index=True)
    changes = changes[changes["participant_id"].isin(set(base["participant_id"]))]
    # A session and a step on one day are one change; the later step wins within a day.
    changes = (changes.sort_values(["participant_id", "t", "step"])
               .groupby(["participant_id", "t"], as_index=False).agg({"step": "max",
                                                                     "sessions_attended": "max"}))
    changes = changes[changes["t"] >= 0]
    rows = survival.split_episodes(base, changes, id="participant_id", duration="time",
                                   event="event", time="t", values=["step", "sessions_attended"])
    entry_of = dict(zip(frame["participant_id"], entry, strict=False))
    enter = rows["participant_id"].map(entry_of)
    rows = rows[rows["stop"] > enter].copy()
    rows["start"] = np.maximum(rows["start"], enter[rows.index])
    rows["step"] = rows["step"].astype(int)
    scores = pd.DataFrame() if steps.empty else steps.pivot_table(
        index=["participant_id", "stage"], columns="domain", values="score", aggfunc="last")
    stage_of = {i: stage for stage, i in step_index.items()}
    rows["step"] = rows["step"].map(stage_of).fillna("none")
    keys = pd.MultiIndex.from_arrays([rows["participant_id"], rows["step"]])
    planning = pd.MultiIndex.from_arrays([rows["participant_id"], [vocab.PLANNING] * len(rows)])
    for domain in vocab.DOMAINS:
        if domain in scores:
            now = scores[domain].reindex(keys).to_numpy()
            first = scores[domain].reindex(planning).to_numpy()
        else:
            now = first = np.full(len(rows), np.nan)
        rows[f"score_{domain}"] = now
        rows[f"change_{domain}"] = now - first
    baseline = frame.set_index("participant_id")[
        ["study_code", "prior_offences", "age_at_referral", "completed", "programme"]]
    rows = rows.join(baseline, on="participant_id").drop(columns=["participant_id"])
    front = ["study_code", "start", "stop", "event", "step", "sessions_attended"]
    rows = rows[front + [c for c in rows.columns if c not in front]].reset_index(drop=True)
    rows["sessions_attended"] = rows["sessions_attended"].astype(int)
    rows.attrs["dropped_zero_length"] = int(zero.sum())
    rows.attrs["time_origin"] = "enrolment"
    return rows
