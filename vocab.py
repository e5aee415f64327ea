"""The users' vocabulary, defined once: the codes the store keeps and every layer speaks.

Labels live in the dashboard's catalogues; here are only the codes and the few rules that belong
to a word itself (which age band an age falls in). Schema, pure logic, use cases, pages and
exports import these names; nothing else spells them out.
"""

from __future__ import annotations

import math

# --- people and roles ---------------------------------------------------------------------------

# A supervisor leads a team of counselors (accounts.supervisor_id): reads the team's caseload,
# reviews and countersigns its steps, never edits answers.
ROLES = ("counselor", "supervisor", "committee", "analyst", "reviewer", "admin")
SEXES = ("female", "male", "other", "unknown")
PARTICIPANT_STATUSES = ("active", "completed", "dropped_out", "transferred")
REFERRAL_SOURCES = ("police", "prosecution", "court", "probation", "school", "family", "self", "other")

# --- the three-step matrix ----------------------------------------------------------------------

PLANNING, MIDTERM, CONCLUSION = "planning", "midterm", "conclusion"
STEPS: tuple[str, ...] = (PLANNING, MIDTERM, CONCLUSION)
# The pairs of steps whose change the committee reads, in the order its tables show them.
STEP_PAIRS: tuple[tuple[str, str], ...] = (
    (PLANNING, MIDTERM), (MIDTERM, CONCLUSION), (PLANNING, CONCLUSION))

NOT_STARTED, DRAFT, SUBMITTED, REVIEWED, SIGNED, SKIPPED = (
    "not_started", "draft", "submitted", "reviewed", "signed", "skipped")
STEP_STATUSES: tuple[str, ...] = (NOT_STARTED, DRAFT, SUBMITTED, REVIEWED, SIGNED, SKIPPED)
SKIP_REASONS = ("dropout", "transfer", "other")
ASSESSMENT_STATUSES = ("draft", "final", "locked")
INSTRUMENT_KINDS = ("self_report", "counselor_rating")

# The three domains of the matrix, scored by the young person's own answers.
MATRIX_DOMAINS: tuple[str, ...] = (
    "gender_sensitivity",
    "gender_equality",
    "digital_sex_crime_understanding",
)
# What the counselor rates at each step; kept apart from the matrix domains so that a
# counselor's judgement is never averaged into a young person's own answers.
COUNSELOR_DOMAINS: tuple[str, ...] = (
    "engagement",
    "responsibility_taking",
    "victim_harm_understanding",
)
DOMAINS: tuple[str, ...] = MATRIX_DOMAINS + COUNSELOR_DOMAINS

# --- counseling sessions ------------------------------------------------------------------------

MODALITIES = ("in_person", "video", "phone", "group")
ATTENDANCE = ("attended", "late", "absent", "cancelled")
ATTENDED = ("attended", "late")  # what counts as a session the young person came to

# --- offences, follow-up and recidivism ---------------------------------------------------------

OFFENCE_TYPES = (
    "illegal_filming",
    "non_consensual_distribution",
    "possession_or_viewing",
    "sextortion_or_coercion",
    "synthetic_sexual_imagery",
    "grooming",
    "other",
)
# An offence group is the single offence type of the index case, or one of these two.
MULTIPLE_OFFENCES, UNKNOWN_OFFENCE = "multiple", "unknown"
OFFENCE_GROUPS = OFFENCE_TYPES + (MULTIPLE_OFFENCES, UNKNOWN_OFFENCE)



def offence_group(types) -> str:
    """The offence group of a young person's index case: its single offence type, else one of two words.

    >>> offence_group(["grooming"]), offence_group(["grooming", "other"]), offence_group([])
    ('grooming', 'multiple', 'unknown')
    """
    kinds = set(types)
    if not kinds:
        return UNKNOWN_OFFENCE
    return kinds.pop() if len(kinds) == 1 else MULTIPLE_OFFENCES


EVENT_TYPES = ("digital_sex_crime", "other_sexual", "non_sexual_violent", "other")
EVENT_SOURCES = ("police", "court", "probation", "self_report", "detection_flag")
PROPOSAL_STATUSES = ("proposed", "accepted", "rejected")

# --- detection ----------------------------------------------------------------------------------

FLAG_STATES = ("pending", "confirmed", "rejected")
TAKEDOWN_STATES = ("requested", "removed", "refused", "reappeared")
SCAN_STATES = ("running", "finished", "failed", "interrupted")
SCAN_ITEM_STATES = ("clear", "flagged", "error")

# --- releases outside the programme -------------------------------------------------------------

# Juvenile Act Art. 70 allows a release only on a few bases; anything else is refused.
DISCLOSURE_BASES = ("juvenile_act_70_1_court_or_prosecution", "juvenile_act_70_1_investigation",
                    "juvenile_act_70_1_child_protection", "juvenile_act_70_1_education_or_research",
                    "participant_and_guardian_consent")

# --- risk models: who may rely on them, and when a prediction is made ------------------------------

# A fitted model is a draft; it reaches counselors only once a second person approved it, and
# stops when it is withdrawn.
MODEL_DRAFT, MODEL_APPROVED, MODEL_WITHDRAWN = "draft", "approved", "withdrawn"
MODEL_STATUSES = (MODEL_DRAFT, MODEL_APPROVED, MODEL_WITHDRAWN)
# The moments a risk model predicts at (landmarks): after the planning step (intake facts and the
# planning scores) and at the end of the programme (completion and change known).
LANDMARKS = (PLANNING, CONCLUSION)

# --- free-text reasons kept apart from the audit log ----------------------------------------------

# What a kept reason was given for: a re-identification and a break-glass opening (read by the
# admin in the access review) and a cohort's sign-off decision (read by the committee).
REASON_KINDS = ("reidentify", "break_glass", "sign_off")

# --- age bands ----------------------------------------------------------------------------------

# One banding for the committee's tables, the analyst's frames and every export, so that one word
# means one table. The bounds are where Korean law treats a young person differently:
#   under 14  the Criminal Act (Art. 9) does not punish; from 10 the Juvenile Act's protective
#             dispositions apply (촉법소년)
#   14-15     criminally responsible juveniles (범죄소년) of middle-school age
#   16-18     criminally responsible juveniles of high-school age; the Juvenile Act covers
#             everyone under 19 (Art. 2)
#   19 and over  adults under the Juvenile Act, still in the programme's youth range
AGE_BANDS: tuple[tuple[int, int, str], ...] = (
    (0, 13, "under_14"),
    (14, 15, "14_15"),
    (16, 18, "16_18"),
    (19, 200, "19_over"),
)
AGE_BAND_CODES: tuple[str, ...] = tuple(code for _, _, code in AGE_BANDS)


def age_band(age: float | None) -> str | None:
    """The age band code of an age in whole or fractional years (floored), or None when unknown.

    >>> age_band(13.9), age_band(14), age_band(18), age_band(19)
    ('under_14', '14_15', '16_18', '19_over')
    """
    if age is None or (isinstance(age, float) and math.isnan(age)):
        return None
    years = math.floor(age)
    for lo, hi, code in AGE_BANDS:
        if lo <= years <= hi:
            return code
    raise ValueError(f"age {age!r} is outside every age band")
