"""The analysis frames from plain rows: baseline features, outcomes, matrix scores, episodes."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

import vocab
from models import frames

D = dt.date
GS, GE = "gender_sensitivity", "gender_equality"


def rows(columns, *values) -> pd.DataFrame:
    return pd.DataFrame(list(values), columns=list(columns))


def people() -> pd.DataFrame:
    return rows(frames.PEOPLE_COLUMNS,
                (1, "P-A", "male", 15.5, 1, D(2022, 1, 10), "completed", D(2022, 7, 1), "C1", "X"),
                (2, "P-B", "female", 13.2, 0, D(2022, 2, 1), "dropped_out", D(2022, 4, 1), "C1",
                 "X"),
                (3, "P-C", "male", 18.9, 2, D(2022, 3, 1), "dropped_out", D(2022, 5, 1), "C2",
                 "Y"))


def cases() -> pd.DataFrame:
    # P-A's index offence is the earlier of two cases: referred 183 days after it.
    return rows(frames.CASE_COLUMNS,
                (11, 1, D(2021, 8, 1), D(2021, 12, 20)),
                (10, 1, D(2021, 6, 1), D(2021, 12, 1)),
                (20, 2, D(2021, 12, 1), D(2022, 1, 1)))


def offences() -> pd.DataFrame:
    return rows(frames.OFFENCE_COLUMNS,
                (1, "illegal_filming"), (1, "grooming"), (1, "illegal_filming"),
                (2, "sextortion_or_coercion"))


def attended() -> pd.DataFrame:
    return rows(frames.ATTENDANCE_COLUMNS, (1, 12), (2, 3))


def assessments() -> pd.DataFrame:
    return rows(frames.ASSESSMENT_COLUMNS,
                (1, "planning", D(2022, 1, 15), 1, GS, 40.0),
                (1, "planning", D(2022, 1, 15), 1, GE, 50.0),
                (1, "conclusion", D(2022, 6, 20), 2, GS, 55.0),
                # The conclusion given again: its scores replace the first.
                (1, "conclusion", D(2022, 6, 25), 3, GS, 60.0),
                (1, "conclusion", D(2022, 6, 25), 3, "not_a_domain", 99.0),
                (2, "planning", D(2022, 2, 5), 4, GS, 30.0),
                (2, "midterm", D(2022, 3, 1), 5, GS, 35.0))


def follow_ups() -> pd.DataFrame:
    return rows(frames.FOLLOW_UP_COLUMNS,
                (1, D(2022, 7, 1), D(2024, 7, 1)),
                (2, D(2022, 4, 1), D(2023, 4, 1)),
                (3, D(2022, 5, 1), D(2022, 5, 1)))


def events() -> pd.DataFrame:
    # Two on one day: the first recorded (lower id) is the first event.
    return rows(frames.EVENT_COLUMNS,
                (1, D(2023, 1, 10), "other", "court", 2),
                (1, D(2023, 1, 10), "digital_sex_crime", "police", 1),
                (1, D(2023, 5, 1), "other", "police", 3))


def test_the_baseline_derives_age_offences_sessions_and_completion():
    base = frames.baseline_frame(people(), cases(), offences(), attended())
    assert base.loc[1, "age_at_offence"] == pytest.approx(15.5 - 183 / 365.25)
    assert base.loc[2, "age_at_offence"] == pytest.approx(13.2 - 31 / 365.25)
    assert np.isnan(base.loc[3, "age_at_offence"])  # no case recorded
    assert base["age_band"].tolist() == ["14_15", "under_14", "16_18"]
    assert base["age_band"].tolist() == [vocab.age_band(a) for a in base["age_at_referral"]]
    assert base["offence_group"].tolist() == ["multiple", "sextortion_or_coercion", "unknown"]
    assert base["offence_illegal_filming"].tolist() == [1, 0, 0]
    assert base["offence_grooming"].tolist() == [1, 0, 0]
    assert base["offence_sextortion_or_coercion"].tolist() == [0, 1, 0]
    assert {f"offence_{k}" for k in vocab.OFFENCE_TYPES} <= set(base.columns)
    assert base["sessions_attended"].tolist() == [12, 3, 0]
    assert base["completed"].tolist() == [1, 0, 0]
    # Completed after the as_of date: not completed then.
    cut = frames.baseline_frame(people(), cases(), offences(), attended(), as_of=D(2022, 6, 30))
    assert cut["completed"].tolist() == [0, 0, 0]
    assert not [c for c in base.columns if c.startswith(("score_", "change_"))]


def test_the_matrix_columns_take_the_latest_step_and_change_from_planning():
    base = frames.baseline_frame(people(), cases(), offences(), attended(),
                                 assessments=assessments())
    assert len([c for c in base.columns if c.startswith("score_")]) == (
        len(vocab.DOMAINS) * len(vocab.STEPS))
    assert "score_not_a_domain_conclusion" not in base.columns
    assert base.loc[1, f"score_{GS}_conclusion"] == 60.0
    assert base[f"change_{GS}"].tolist()[0] == 20.0
    assert np.isnan(base[f"change_{GS}"].tolist()[1])  # no conclusion: no change
    assert base[f"change_to_last_{GS}"].tolist()[:2] == [20.0, 5.0]  # to the midterm for P-B
    assert base.loc[1, f"change_to_last_{GE}"] == 0.0  # planning only: nothing measured after
    assert base.loc[[2, 3], f"change_to_last_{GE}"].isna().all()  # no planning score
    assert base.loc[3, [c for c in base.columns if c.startswith("score_")]].isna().all()


def test_outcomes_take_the_first_event_and_cut_at_as_of():
    out = frames.outcomes_frame(follow_ups(), events())
    assert out["duration"].tolist() == [193, 365, 0]
    assert out["event"].tolist() == [1, 0, 0]
    assert out["event_digital_sex_crime"].tolist() == [1, 0, 0]
    assert out["event_other"].tolist() == [0, 0, 0]
    assert out.loc[1, "first_event_type"] == "digital_sex_crime"
    assert out["first_event_source"].tolist() == ["police", "none", "none"]
    assert out.loc[1, "first_event_date"] == D(2023, 1, 10)
    assert out["events_recorded"].tolist() == [3, 0, 0]
    # As of 2022-06-30 P-A's window has not started and P-B's is cut to that day.
    cut = frames.outcomes_frame(follow_ups(), events(), as_of=D(2022, 6, 30))
    assert cut.index.tolist() == [2, 3]
    assert cut["follow_up_end"].tolist() == [D(2022, 6, 30), D(2022, 5, 1)]
    assert cut["duration"].tolist() == [90, 0]
    # As of the day before the first event, P-A has none yet.
    before = frames.outcomes_frame(follow_ups(), events(), as_of=D(2023, 1, 9))
    assert (before.loc[1, "duration"], before.loc[1, "event"]) == (192, 0)
    assert before.loc[1, "events_recorded"] == 0


def analysis(as_of=None, matrix=True) -> pd.DataFrame:
    base = frames.baseline_frame(people(), cases(), offences(), attended(), as_of=as_of,
                                 assessments=assessments() if matrix else None)
    return frames.analysis_frame(base, frames.outcomes_frame(follow_ups(), events(), as_of=as_of),
                                 as_of=as_of, matrix=matrix)


def test_the_analysis_frame_is_one_row_per_study_code_outcome_first():
    frame = analysis()
    assert frame["study_code"].tolist() == ["P-A", "P-B", "P-C"]
    assert frame.columns[:4].tolist() == ["study_code", "duration", "event", "first_event_type"]
    assert not {"participant_id", "status", "ended_on"} & set(frame.columns)
    assert frame["duration"].tolist() == [193, 365, 0]
    assert frame[f"change_{GS}"].tolist()[0] == 20.0
    assert frame.attrs == {"as_of": None, "matrix": True}
    light = analysis(as_of=D(2022, 6, 30), matrix=False)
    assert light["study_code"].tolist() == ["P-B", "P-C"]
    assert light.attrs == {"as_of": "2022-06-30", "matrix": False}
    full = analysis(as_of=D(2022, 6, 30))
    pd.testing.assert_frame_equal(
        light, full.drop(columns=[c for c in full.columns if c.startswith(("score_", "change_"))]))


def test_the_person_period_frame_enters_at_follow_up_and_splits_at_steps_and_sessions():
    steps = rows(frames.ASSESSMENT_COLUMNS,
                 (1, "planning", D(2022, 1, 15), 1, GS, 40.0),     # day 5
                 (1, "midterm", D(2022, 4, 1), 2, GS, 50.0),       # day 81
                 (1, "conclusion", D(2022, 9, 1), 3, GS, 70.0),    # day 234, after entry
                 (2, "planning", D(2022, 2, 5), 4, GS, 30.0))
    sessions = rows(frames.SESSION_COLUMNS,
                    (1, D(2022, 1, 20)), (1, D(2022, 3, 1)),         # days 10, 50
                    (1, D(2022, 8, 1)))                              # day 203, after entry
    frame = analysis(matrix=False)
    ids = {"P-A": 1, "P-B": 2, "P-C": 3}
    out = frames.person_period_frame(frame, ids, steps, sessions)
    # P-A enters on day 172 (2022-07-01) and reoffends on day 365; P-B enters on day 59.
    assert out[["study_code", "start", "stop", "event", "step", "sessions_attended"]].to_numpy(
    ).tolist() == [
        ["P-A", 172.0, 203.0, 0, "midterm", 2],
        ["P-A", 203.0, 234.0, 0, "midterm", 3],
        ["P-A", 234.0, 365.0, 1, "conclusion", 3],
        ["P-B", 59.0, 424.0, 0, "planning", 0],
    ]
    assert out[f"score_{GS}"].tolist() == [50.0, 50.0, 70.0, 30.0]
    assert out[f"change_{GS}"].tolist() == [10.0, 10.0, 30.0, 0.0]
    assert out[f"score_{GE}"].isna().all()
    assert out["prior_offences"].tolist() == [1, 1, 1, 0]
    assert out["programme"].tolist() == ["X"] * 4
    # P-C's follow-up has no length: left out, and counted.
    assert out.attrs == {"dropped_zero_length": 1, "time_origin": "enrolment"}
    # The frame with the matrix gives the same episodes.
    pd.testing.assert_frame_equal(frames.person_period_frame(analysis(), ids, steps, sessions), out)
