"""The completion status of each answer sheet of a caseload (REDCap's record status dashboard).

One cell per participant, step and instrument: what the counselor sees at a glance. Pure: plain
values in, the same out.
"""

from __future__ import annotations

from matrix import stages

# In the order of the legend: nothing yet, being written, done by the counselor, the committee's
# part, and the two marks that need attention or close the cell.
NOT_STARTED, DRAFT, FINAL, SUBMITTED, REVIEWED, SIGNED, SKIPPED, OVERDUE = (
    "not_started", "draft", "final", "submitted", "reviewed", "signed", "skipped", "overdue")
CELL_STATUSES: tuple[str, ...] = (NOT_STARTED, DRAFT, FINAL, SUBMITTED, REVIEWED, SIGNED, SKIPPED,
                                  OVERDUE)


def cell_status(step_status: str, assessment_status: str | None, step_overdue: bool) -> str:
    """The status of one instrument at one step.

    `step_status` is the step's status (matrix.stages), `assessment_status` the answer sheet's
    (None when there is none: draft, final or locked) and `step_overdue` whether the step is past
    its due date and not yet submitted. A sheet still to be done in an overdue step is marked
    overdue; a finalised sheet keeps its status, since the counselor's part of it is done.
    """
    if step_status not in stages.STATUSES:
        raise ValueError(f"unknown step status {step_status!r}; statuses are {list(stages.STATUSES)}")
    if assessment_status not in (None, "draft", "final", "locked"):
        raise ValueError(f"unknown answer sheet status {assessment_status!r}")
    if step_status == stages.SKIPPED:
        return SKIPPED
    if step_status == stages.SIGNED or assessment_status == "locked":
        return SIGNED
    if assessment_status == "final":
        if step_status in (stages.SUBMITTED, stages.REVIEWED):
            return step_status
        return FINAL
    todo = DRAFT if assessment_status == "draft" else NOT_STARTED
    return OVERDUE if step_overdue else todo


__all__ = ["CELL_STATUSES", "cell_status"]
