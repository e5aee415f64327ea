"""A synthetic programme with known true effects, for the demo, the tests and the benchmarks.

Everything here is invented from a seeded generator: names are random syllables, contacts use a
reserved-looking 010-0000 prefix, case references say SYN-. The true effects the generator uses are
in `TRUE_EFFECTS`, so tests can check that the statistics recover them. No I/O, no database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

import vocab

STAGES = vocab.STEPS
DOMAINS = vocab.MATRIX_DOMAINS

# Offence types and their shares among referred young people: a plausible mix in which illegal
# filming and distribution dominate and deepfakes are a growing share (invented for the demo).
OFFENCE_MIX = {
    "illegal_filming": 0.33,
    "non_consensual_distribution": 0.19,
    "possession_or_viewing": 0.18,
    "synthetic_sexual_imagery": 0.14,
    "sextortion_or_coercion": 0.08,
    "grooming": 0.05,
    "other": 0.03,
}
AGE_WEIGHTS = {10: 0.01, 11: 0.02, 12: 0.04, 13: 0.09, 14: 0.15, 15: 0.19, 16: 0.18, 17: 0.15,
               18: 0.11, 19: 0.06}
REFERRAL_MIX = {"police": 0.45, "prosecution": 0.2, "court": 0.15, "probation": 0.08,
                "school": 0.08, "family": 0.04}
PROGRAMMES = (
    ("표준 과정 (12회기)", "Standard course: 12 weekly sessions", 12),
    ("집중 과정 (20회기)", "Intensive course: 20 weekly sessions", 20),
)

TRUE_EFFECTS: dict = {
    # Mean change of every domain score, in units of the instrument's reference SD, from planning.
    "stage_effect_sd": {"planning": 0.0, "midterm": 0.35, "conclusion": 0.70},
    # Between-person SD of the latent level, and the within-person noise at each step (SD units).
    "person_sd": 0.8,
    "occasion_sd": 0.45,
    # Share whose scores fall instead of rising (a real risk the committee must see).
    "deteriorating_share": 0.07,
    "dropout_before_midterm": 0.09,
    "dropout_before_conclusion": 0.07,
    "attendance_rate": 0.86,
    # Recidivism: exponential times, any reoffence; log hazard ratios of the covariates.
    "baseline_annual_hazard": 0.085,
    "log_hr": {
        "prior_offences": 0.35,          # per prior offence
        "completed": -0.45,              # completed the programme
        "age_over_15": -0.06,            # per year of age above 15 at referral
        "dsc_change_sd": -0.30,          # per SD of change in understanding of digital sex crimes
    },
    # Given a reoffence, its type (sexual recidivism stays in single digits over five years).
    "event_type_mix": {"digital_sex_crime": 0.17, "other_sexual": 0.05,
                       "non_sexual_violent": 0.28, "other": 0.50},
    "data_end": dt.date(2026, 6, 30),
}

# The synthetic world's "today": steps and sessions after it have not happened yet.
AS_OF = dt.date(2026, 11, 20)

_SURNAMES = list("김이박최정강조윤장임한오서신권황안송류홍")
_SYLLABLES = list("민서지하윤도현준우예진수아은채건영태연주성혜원재희나")


@dataclass
class SyntheticProgramme:
    seed: int
    counselors: pd.DataFrame      # username, display_name, supervisor (the team lead's username)
    supervisors: pd.DataFrame     # username, display_name: one team lead per 4-6 counselors
    programmes: pd.DataFrame
    cohorts: pd.DataFrame
    participants: pd.DataFrame
    sessions: pd.DataFrame
    levels: pd.DataFrame          # latent domain levels (z) per participant x stage that was assessed
    follow_ups: pd.DataFrame
    events: pd.DataFrame
    detection_cases: pd.DataFrame
    truth: dict = field(default_factory=lambda: TRUE_EFFECTS)


def _pick(rng: np.random.Generator, mix: dict, size: int) -> np.ndarray:
    keys = list(mix)
    p = np.array([mix[k] for k in keys], dtype=float)
    return np.array(keys, dtype=object)[rng.choice(len(keys), size=size, p=p / p.sum())]


def _name(rng: np.random.Generator) -> str:
    return rng.choice(_SURNAMES) + "".join(rng.choice(_SYLLABLES, size=2))


def generate(participants: int = 300, seed: int = 1) -> SyntheticProgramme:
    if participants < 1:
        raise ValueError("participants must be at least 1")
    rng = np.random.default_rng(seed)
    t = TRUE_EFFECTS
    n = participants

    n_counselors = max(3, int(np.ceil(n / 25)))
    counselors = pd.DataFrame({
        "username": [f"counselor{i + 1}" for i in range(n_counselors)],
        "display_name": [f"상담사 {_name(rng)}" for _ in range(n_counselors)],
    })
    # Teams: one supervisor per five counselors or so, each leading a run of them. Their names
    # come from a stream of their own, so that everything else stays as it was for a seed.
    team_rng = np.random.default_rng(seed + 15485863)
    n_supervisors = max(1, int(np.ceil(n_counselors / 5)))
    supervisors = pd.DataFrame({
        "username": [f"supervisor{i + 1}" for i in range(n_supervisors)],
        "display_name": [f"슈퍼바이저 {_name(team_rng)}" for _ in range(n_supervisors)],
    })
    counselors["supervisor"] = [supervisors.username[i * n_supervisors // n_counselors]
                                for i in range(n_counselors)]
    programmes = pd.DataFrame({
        "name": [p[0] for p in PROGRAMMES], "description": [p[1] for p in PROGRAMMES],
        "sessions_planned": [p[2] for p in PROGRAMMES],
    })
    # Quarterly cohorts from mid-2020 (the programme began after the Nth Room case) to 2025.
    starts = pd.date_range("2020-07-01", "2026-10-01", freq="QS").date
    cohorts = pd.DataFrame([
        {"programme": prog, "name": f"{s.year}-{(s.month - 1) // 3 + 1}기", "start_date": s}
        for prog in programmes["name"] for s in starts
    ])

    cohort_idx = rng.integers(0, len(cohorts), size=n)
    ages = rng.choice(list(AGE_WEIGHTS), size=n, p=np.array(list(AGE_WEIGHTS.values())))
    primary = _pick(rng, OFFENCE_MIX, n)
    second = np.where(rng.random(n) < 0.2, _pick(rng, OFFENCE_MIX, n), None)
    enrolled = [cohorts.start_date.iloc[c] + dt.timedelta(days=int(rng.integers(0, 60)))
                for c in cohort_idx]
    prior = rng.poisson(0.35, size=n)
    sex = np.where(rng.random(n) < 0.9, "male", np.where(rng.random(n) < 0.9, "female", "unknown"))
    deteriorating = rng.random(n) < t["deteriorating_share"]
    u = rng.random(n)
    dropout_stage = np.where(u < t["dropout_before_midterm"], "midterm",
                             np.where(u < t["dropout_before_midterm"] + t["dropout_before_conclusion"],
                                      "conclusion", None))
    person_level = rng.normal(0.0, t["person_sd"], size=(n, len(DOMAINS))) - 0.5
    counselor_of = rng.integers(0, n_counselors, size=n)

    parts, levels, sessions, fups, events, cases = [], [], [], [], [], []
    for i in range(n):
        code = f"SYN-{seed:03d}-{i + 1:05d}"
        cohort = cohorts.iloc[cohort_idx[i]]
        planned = int(programmes.set_index("name").sessions_planned[cohort.programme])
        start = enrolled[i]
        offence_date = start - dt.timedelta(days=int(rng.integers(60, 400)))
        types = [primary[i]] + ([second[i]] if second[i] and second[i] != primary[i] else [])
        # Steps fall at enrolment, at the middle and at the end of the course.
        stage_dates = {"planning": start + dt.timedelta(days=int(rng.integers(3, 14))),
                       "midterm": start + dt.timedelta(weeks=planned // 2, days=int(rng.integers(0, 10))),
                       "conclusion": start + dt.timedelta(weeks=planned, days=int(rng.integers(0, 14)))}
        reached = {"planning": True, "midterm": dropout_stage[i] != "midterm",
                   "conclusion": dropout_stage[i] is None}
        completed = bool(reached["conclusion"])
        end = stage_dates["conclusion"] if completed else (
            stage_dates["planning"] + dt.timedelta(days=int(rng.integers(14, 60))) if not reached["midterm"]
            else stage_dates["midterm"] + dt.timedelta(days=int(rng.integers(7, 40))))
        for stage in STAGES:
            if not reached[stage] or stage_dates[stage] > AS_OF:
                continue
            effect = t["stage_effect_sd"][stage] * (-0.6 if deteriorating[i] else 1.0)
            noise = rng.normal(0.0, t["occasion_sd"], size=len(DOMAINS))
            row = {"code": code, "stage": stage, "date": stage_dates[stage]}
            row.update({d: float(person_level[i, k] + effect + noise[k]) for k, d in enumerate(DOMAINS)})
            levels.append(row)
        n_sessions = planned if completed else int(rng.integers(2, planned // 2 + 2))
        for k in range(n_sessions):
            day = start + dt.timedelta(weeks=k, days=int(rng.integers(0, 3)))
            if day > min(end, AS_OF):
                break
            attended = rng.random() < t["attendance_rate"]
            sessions.append({
                "code": code, "date": day, "minutes": int(rng.choice([50, 60, 90])),
                "modality": str(rng.choice(["in_person", "in_person", "in_person", "video", "group"])),
                "attendance": "attended" if attended else str(rng.choice(["absent", "cancelled", "late"])),
                "topics": list(rng.choice(["consent", "gender_norms", "harm_to_victims", "online_conduct",
                                           "law_and_consequences", "family"], size=2, replace=False)),
                "note": "회기 진행: 목표 점검 및 과제 검토" if attended else None,
            })
        # Follow-up from programme end (or drop-out) to the data end, with any reoffence.
        fu_start = end
        if fu_start < t["data_end"]:
            lv = [r for r in levels if r["code"] == code]
            dsc_change = (lv[-1]["digital_sex_crime_understanding"] - lv[0]["digital_sex_crime_understanding"]
                          if len(lv) > 1 else 0.0)
            b = t["log_hr"]
            lp = (b["prior_offences"] * prior[i] + b["completed"] * completed
                  + b["age_over_15"] * (ages[i] - 15) + b["dsc_change_sd"] * dsc_change)
            rate = t["baseline_annual_hazard"] / 365.25 * np.exp(lp)
            time_to = rng.exponential(1.0 / rate)
            window = (t["data_end"] - fu_start).days
            fu = {"code": code, "start_date": fu_start, "end_date": t["data_end"], "linear_predictor": lp,
                  "dsc_change": dsc_change}
            fups.append(fu)
            if time_to <= window:
                events.append({
                    "code": code,
                    "event_date": fu_start + dt.timedelta(days=max(1, int(time_to))),
                    "event_type": str(_pick(rng, t["event_type_mix"], 1)[0]),
                    "source": str(rng.choice(["police", "police", "court", "probation", "self_report"])),
                })
        parts.append({
            "code": code, "intake_ref": code, "name": _name(rng),
            "birth_date": start - dt.timedelta(days=int(ages[i] * 365.25 + rng.integers(0, 365))),
            "sex": sex[i], "age_at_referral": int(ages[i]), "prior_offences": int(prior[i]),
            "cohort": cohort["name"], "programme": cohort.programme, "enrolled_on": start,
            "status": "completed" if completed else "dropped_out",
            "ended_on": end if end <= AS_OF else None,
            "contact": f"010-0000-{int(rng.integers(0, 10000)):04d}",
            "guardian_contact": f"010-0000-{int(rng.integers(0, 10000)):04d}",
            "counselor": counselors.username[counselor_of[i]],
            "case_ref": f"SYN-CASE-{seed:03d}-{i + 1:05d}", "offence_types": types,
            "offence_date": offence_date, "referral_date": start - dt.timedelta(days=int(rng.integers(1, 40))),
            "referral_source": str(_pick(rng, REFERRAL_MIX, 1)[0]),
            "deteriorating": bool(deteriorating[i]), "completed": completed,
        })
        if end > AS_OF:
            parts[-1]["status"] = "active"
        if rng.random() < 0.1:
            cases.append({"case_ref": parts[-1]["case_ref"], "image_seed": int(rng.integers(0, 2**31))})

    return SyntheticProgramme(
        seed=seed, counselors=counselors, supervisors=supervisors, programmes=programmes, cohorts=cohorts,
        participants=pd.DataFrame(parts), sessions=pd.DataFrame(sessions),
        levels=pd.DataFrame(levels), follow_ups=pd.DataFrame(fups),
        events=pd.DataFrame(events, columns=["code", "event_date", "event_type", "source"]),
        detection_cases=pd.DataFrame(cases, columns=["case_ref", "image_seed"]),
    )


def draw_benign_image(seed: int, size: int = 256):
    """A benign picture of coloured shapes, drawn in memory for the hash registry demo."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (size, size), tuple(int(v) for v in rng.integers(0, 256, 3)))
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x0, y0 = (int(v) for v in rng.integers(0, size, 2))
        x1, y1 = (int(v) for v in np.array([x0, y0]) + rng.integers(10, size // 2, 2))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse([int(x0), int(y0), int(x1), int(y1)], fill=colour)
        else:
            draw.rectangle([int(x0), int(y0), int(x1), int(y1)], fill=colour)
    return img
