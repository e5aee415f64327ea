"""The stage state machine: every transition, gating, unlock versions, due dates, overdue."""

from datetime import date, timedelta

import pandas as pd
import pytest

from errors import Conflict, ValidationError
from matrix.stages import (
    ACTIONS,
    STAGES,
    STATUSES,
    TRANSITIONS,
    StepState,
    apply_transition,
    check_editable,
    check_transition,
    due_dates,
    overdue,
)

# The full legal table, written out by hand (not derived from TRANSITIONS) so the test checks it.
LEGAL = {
    ("not_started", "start"): "draft",
    ("draft", "submit"): "submitted",
    ("submitted", "review"): "reviewed",
    ("reviewed", "sign"): "signed",
    ("reviewed", "return"): "draft",
    ("signed", "unlock"): "draft",
    ("not_started", "skip"): "skipped",
    ("draft", "skip"): "skipped",
    ("skipped", "reopen"): "not_started",
}
REASONS = {
    "return": "goal 2 needs evidence",
    "unlock": "typo in item 4",
    "reopen": "skipped by mistake",
    "skip": "dropout",
}
# For planning, no gate applies; later steps get a finished predecessor so only the status matters.
CONTEXT = {
    "planning": {},
    "midterm": {"planning": "signed"},
    "conclusion": {"planning": "signed", "midterm": "signed"},
}

ALL = [(stage, status, action) for stage in STAGES for status in STATUSES for action in ACTIONS]


def test_table_matches_the_written_rules():
    written = {
        (src, action): target
        for action, (sources, target) in TRANSITIONS.items()
        for src in sources
    }
    assert written == LEGAL


@pytest.mark.parametrize(("stage", "status", "action"), [c for c in ALL if (c[1], c[2]) in LEGAL])
def test_every_legal_transition_is_accepted(stage, status, action):
    statuses = {**CONTEXT[stage], stage: status}
    assert (
        check_transition(statuses, stage, action, reason=REASONS.get(action))
        == LEGAL[(status, action)]
    )


@pytest.mark.parametrize(
    ("stage", "status", "action"), [c for c in ALL if (c[1], c[2]) not in LEGAL]
)
def test_every_illegal_transition_is_refused_with_its_message(stage, status, action):
    statuses = {**CONTEXT[stage], stage: status}
    with pytest.raises(Conflict) as err:
        check_transition(statuses, stage, action, reason=REASONS.get(action))
    msg = str(err.value)
    assert msg.startswith(f"cannot {action} {stage}: it is '{status}' and {action} needs ")
    sources = TRANSITIONS[action][0]
    assert all(f"'{s}'" in msg for s in sources)


@pytest.mark.parametrize(
    ("planning", "message"),
    [
        ("not_started", "midterm cannot start: planning is 'not_started', it must be signed first"),
        ("draft", "midterm cannot start: planning is 'draft', it must be signed first"),
        ("submitted", "midterm cannot start: planning is 'submitted', it must be signed first"),
        ("reviewed", "midterm cannot start: planning is 'reviewed', it must be signed first"),
        (
            StepState("skipped", skip_reason="dropout"),
            "midterm cannot start: planning was skipped (dropout)",
        ),
        (
            StepState("skipped", skip_reason="other"),
            "midterm cannot start: planning was skipped (other)",
        ),
        ("skipped", "midterm cannot start: planning was skipped (no recorded reason)"),
    ],
)
def test_midterm_waits_for_signed_planning(planning, message):
    with pytest.raises(Conflict) as err:
        check_transition({"planning": planning}, "midterm", "start")
    assert str(err.value).startswith(message)


def test_midterm_may_start_after_planning_skipped_for_transfer():
    skipped = apply_transition({}, "planning", "skip", reason="transfer")
    assert skipped == StepState("skipped", 1, "transfer")
    assert check_transition({"planning": skipped}, "midterm", "start") == "draft"


@pytest.mark.parametrize("midterm", ["not_started", "draft", "submitted", "reviewed"])
def test_conclusion_waits_for_midterm(midterm):
    with pytest.raises(
        Conflict,
        match=f"conclusion cannot start: midterm is '{midterm}', it must be signed or skipped",
    ):
        check_transition({"planning": "signed", "midterm": midterm}, "conclusion", "start")


@pytest.mark.parametrize("midterm", ["signed", StepState("skipped", skip_reason="dropout")])
def test_conclusion_may_start_after_midterm_signed_or_skipped(midterm):
    assert (
        check_transition({"planning": "signed", "midterm": midterm}, "conclusion", "start")
        == "draft"
    )


@pytest.mark.parametrize("action", ["return", "unlock", "reopen"])
@pytest.mark.parametrize("reason", [None, "", "   "])
def test_actions_that_need_a_reason_refuse_without_one(action, reason):
    status = TRANSITIONS[action][0][0]
    with pytest.raises(ValidationError, match=f"to {action} planning, give a reason"):
        check_transition({"planning": status}, "planning", action, reason=reason)


@pytest.mark.parametrize("reason", [None, "moved away", "Dropout"])
def test_skip_needs_a_known_reason(reason):
    with pytest.raises(ValidationError, match=r"one of \['dropout', 'transfer', 'other'\]"):
        check_transition({}, "planning", "skip", reason=reason)


def test_unlock_creates_a_new_version_and_later_signing_keeps_it():
    state = {"planning": StepState("signed", version=1)}
    v2 = apply_transition(state, "planning", "unlock", reason="wrong date of birth used")
    assert v2 == StepState("draft", version=2)
    for action in ("submit", "review", "sign"):
        v2 = apply_transition({"planning": v2}, "planning", action)
    assert v2 == StepState("signed", version=2)
    v3 = apply_transition({"planning": v2}, "planning", "unlock", reason="second correction")
    assert v3.version == 3


def test_return_keeps_the_version():
    assert apply_transition(
        {"midterm": StepState("reviewed", 4)}, "midterm", "return", reason="x"
    ) == StepState("draft", 4)


def test_reopen_refused_once_a_later_step_started():
    statuses = {"planning": StepState("skipped", skip_reason="transfer"), "midterm": "draft"}
    with pytest.raises(Conflict, match="cannot reopen planning: midterm has already started"):
        check_transition(statuses, "planning", "reopen", reason="mistake")


def test_unknown_stage_status_and_action_are_validation_errors():
    with pytest.raises(ValidationError, match="unknown step 'final'"):
        check_transition({}, "final", "start")
    with pytest.raises(ValidationError, match="unknown action 'approve'"):
        check_transition({}, "planning", "approve")
    with pytest.raises(ValidationError, match="unknown status 'done'"):
        check_transition({"planning": "done"}, "planning", "submit")


@pytest.mark.parametrize("status", [s for s in STATUSES if s != "draft"])
def test_only_drafts_are_editable(status):
    with pytest.raises(Conflict, match=f"planning cannot be edited: it is '{status}'"):
        check_editable({"planning": status}, "planning")
    check_editable({"planning": "draft"}, "planning")


def test_default_due_dates():
    # 2025-03-03 + 14 days = 03-17; + 56 days = 04-28; + 112 days = 06-23
    assert due_dates(date(2025, 3, 3)) == {
        "planning": date(2025, 3, 17),
        "midterm": date(2025, 4, 28),
        "conclusion": date(2025, 6, 23),
    }


def test_due_dates_schedule_is_configurable_and_checked():
    assert due_dates(
        date(2025, 1, 1), {"planning": 7, "midterm": timedelta(weeks=6), "conclusion": 90}
    ) == {
        "planning": date(2025, 1, 8),
        "midterm": date(2025, 2, 12),
        "conclusion": date(2025, 4, 1),
    }
    with pytest.raises(ValidationError, match="planning <= midterm <= conclusion"):
        due_dates(date(2025, 1, 1), {"planning": 60, "midterm": 30, "conclusion": 90})
    with pytest.raises(ValidationError, match="exactly the steps"):
        due_dates(date(2025, 1, 1), {"planning": 7})


def test_overdue_lists_unfinished_steps_past_due_most_overdue_first():
    steps = pd.DataFrame(
        [
            {
                "participant": 1,
                "stage": "planning",
                "status": "signed",
                "due_on": date(2025, 1, 10),
            },
            {"participant": 1, "stage": "midterm", "status": "draft", "due_on": date(2025, 2, 1)},
            {
                "participant": 2,
                "stage": "planning",
                "status": "not_started",
                "due_on": date(2025, 1, 20),
            },
            {
                "participant": 3,
                "stage": "planning",
                "status": "draft",
                "due_on": date(2025, 3, 1),
            },  # due today
            {
                "participant": 4,
                "stage": "planning",
                "status": "skipped",
                "due_on": date(2025, 1, 1),
            },
            {
                "participant": 5,
                "stage": "planning",
                "status": "submitted",
                "due_on": date(2025, 1, 1),
            },
            {
                "participant": 6,
                "stage": "midterm",
                "status": "not_started",
                "due_on": date(2025, 4, 1),
            },  # future
        ]
    )
    out = overdue(steps, as_of=date(2025, 3, 1))
    assert out[["participant", "stage", "days_overdue"]].values.tolist() == [
        [2, "planning", 40],  # 2025-01-20 -> 2025-03-01
        [1, "midterm", 28],  # 2025-02-01 -> 2025-03-01
    ]


def test_overdue_done_statuses_are_configurable_and_empty_input_works():
    steps = [
        {"participant": 5, "stage": "planning", "status": "submitted", "due_on": date(2025, 1, 1)}
    ]
    out = overdue(steps, as_of=date(2025, 1, 3), done_statuses=("signed", "skipped"))
    assert out["days_overdue"].tolist() == [2]
    assert overdue([], as_of=date(2025, 1, 3)).empty
    with pytest.raises(ValidationError, match="as_of must be a date"):
        overdue(steps, as_of="2025-01-03")
