"""The users' vocabulary, defined once: the codes the store keeps and every layer speaks.

Labels live in the dashboard's catalogues; here are only the codes and the few rules that belong
to a word itself (which age band an age falls in). Schema, pure logic, use cases, pages and
exports import these names; nothing else spells them out.
"""

from __future__ import annotations

import math

# --- time ---------------------------------------------------------------------------------------

# The programme runs in Seoul: "today", due dates and every date and time a user reads are Korea's
# (db.context.local_today, dashboard.dates); the store keeps naive UTC (db.schema.utcnow).
TIME_ZONE = "Asia/Seoul"

# --- people and roles ---------------------------------------------------------------------------

# A supervisor leads a team of counselors (accounts.supervisor_id): reads the team's caseload,
# reviews and countersigns its steps, never edits answers.
# A partner is a platform or hotline that asks the matching API whether hashes are in the
# registry (api/, with a token the admin issued): it sees match / no match, a distance and an
# opaque entry id, never a case. An educator (예방교육 강사) delivers prevention education in
# kindergartens and schools: their own deliveries and anonymous surveys, nothing of the
# counseling side.
ROLES = ("counselor", "supervisor", "committee", "analyst", "reviewer", "admin", "partner",
         "educator")
# What a partner's API token may be used for: each scope is the access action of that request.
PARTNER_SCOPES = ("match.hashes", "match.image")
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

# What a kept reason was given for: a re-identification, a break-glass opening and a transfer to
# another counselor (read by the admin in the access review) and a cohort's sign-off decision (read
# by the committee).
REASON_KINDS = ("reidentify", "break_glass", "sign_off", "transfer")

# --- the audit log ------------------------------------------------------------------------------

# What an audit entry records: a row written (insert, update, delete), an identifying field read,
# a refusal, and the acts that are not row writes. Every audit.record names one of these (a test
# reads the source); the admin's page filters and shows them by their Korean names.
AUDIT_ACTIONS = (
    "insert", "update", "delete", "read", "denied",
    "login", "login_failed", "login_refused_locked", "lockout", "unlock", "logout",
    "sessions_ended", "password_change_refused", "password_change_required", "password_reset",
    "role_change", "transfer",
    "break_glass", "reidentify", "reason_correct", "reason_erase", "sign_off", "predict",
    "backup", "restore", "key_rotate", "key_retire", "retention_purge", "audit_verify",
    "access_reviewed", "api_hashes", "api_image",
)
# Entries that record an access, not a change: a decrypted field read, a refusal, a log-in or
# log-out, a prediction shown, a partner's query. They leave `accounts.service.data_version` as it
# was, so a counselor opening a record does not make every analyst's memo compute again.
ACCESS_ACTIONS = (
    "read", "denied", "login", "login_failed", "login_refused_locked", "logout",
    "password_change_refused", "reidentify", "predict", "audit_verify", "api_hashes", "api_image",
)

# --- prevention education -----------------------------------------------------------------------

# Who a prevention programme is written for, youngest first (유치원, 초등 저학년, 초등 고학년, 중학교,
# 고등학교, 보호자, 교사). A delivery is to one audience level; children are never named or coded.
AUDIENCES: tuple[str, ...] = ("kindergarten", "elementary_lower", "elementary_upper", "middle",
                              "high", "guardians", "teachers")
# How it is delivered (강의, 인형극, 보드게임, 역할극, 캠페인, 온라인).
EDUCATION_FORMATS: tuple[str, ...] = ("lecture", "puppet_show", "board_game", "role_play",
                                      "campaign", "online")
INSTITUTION_KINDS: tuple[str, ...] = ("kindergarten", "elementary", "middle", "high",
                                      "community_centre", "other")
# Seoul's 25 districts (자치구), the finest place a delivery is kept at.
SEOUL_DISTRICTS: tuple[str, ...] = (
    "jongno", "jung", "yongsan", "seongdong", "gwangjin", "dongdaemun", "jungnang", "seongbuk",
    "gangbuk", "dobong", "nowon", "eunpyeong", "seodaemun", "mapo", "yangcheon", "gangseo",
    "guro", "geumcheon", "yeongdeungpo", "dongjak", "gwanak", "seocho", "gangnam", "songpa",
    "gangdong")
SURVEY_TIMES: tuple[str, ...] = ("pre", "post")

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


# --- review periods -----------------------------------------------------------------------------
# The committee rates programmes for a period, and every rating of one period is summarised
# together: a period is a calendar half, quarter or month, a date range, or a named cohort, never
# free text ("다음주쯤" would be a period of its own that no summary finds).
PERIOD_KINDS: tuple[str, ...] = ("half", "quarter", "month", "range", "cohort")
COHORT_PERIOD_PREFIX = "cohort:"
PERIOD_MAX_LENGTH = 80  # "cohort:" and a cohort's name (64), with room to spare


def period_kind(text: str) -> str | None:
    """The kind of a review period written as its code, or None when it is not one.

    Half "2026-H1", quarter "2026-Q3", month "2026-10", date range "2026-01-05~2026-06-30"
    (start on or before end), cohort "cohort:<the cohort's name>".

    >>> [period_kind(p) for p in ("2026-H1", "2026-Q3", "2026-10", "2026-01-05~2026-06-30")]
    ['half', 'quarter', 'month', 'range']
    >>> period_kind("cohort:2026 봄 기수"), period_kind("다음주쯤"), period_kind("2026-06-30~2026-01-05")
    ('cohort', None, None)
    """
    import datetime as dt
    import re

    text = (text or "").strip()
    if not text or len(text) > PERIOD_MAX_LENGTH:
        return None
    if text.startswith(COHORT_PERIOD_PREFIX):
        return "cohort" if text[len(COHORT_PERIOD_PREFIX):].strip() else None
    year = re.match(r"^(\d{4})-", text)
    if not year or not 2000 <= int(year.group(1)) <= 2100:
        return None
    if re.fullmatch(r"\d{4}-H[12]", text):
        return "half"
    if re.fullmatch(r"\d{4}-Q[1-4]", text):
        return "quarter"
    if re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text):
        return "month"
    span = re.fullmatch(r"(\d{4}-\d{2}-\d{2})~(\d{4}-\d{2}-\d{2})", text)
    if span:
        try:
            start, end = (dt.date.fromisoformat(d) for d in span.groups())
        except ValueError:
            return None
        return "range" if start <= end else None
    return None
