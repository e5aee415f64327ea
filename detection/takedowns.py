"""Takedown requests' states and the moves between them, as one table.

A confirmed flag opens a request (``INITIAL``); a reviewer then moves it on as the platform
answers. The states are vocab.TAKEDOWN_STATES; which state may follow which is ``NEXT``, read by
the use case that checks a move (detection.service.update_takedown) and by the page that offers
the next states. Plain values in, an error out: no store.
"""

from __future__ import annotations

import datetime as dt

import vocab
from errors import Conflict, ValidationError

# The codes in vocab's order; unpacking fails at import if vocab gains or loses a state.
REQUESTED, REMOVED, REFUSED, REAPPEARED = vocab.TAKEDOWN_STATES
INITIAL = REQUESTED

# Which status a takedown may move to next: a removed item can re-appear, a refusal can be
# requested again (for example from another platform contact).
NEXT: dict[str, tuple[str, ...]] = {
    REQUESTED: (REMOVED, REFUSED),
    REMOVED: (REAPPEARED,),
    REFUSED: (REQUESTED,),
    REAPPEARED: (REQUESTED, REMOVED),
}
if set(NEXT) != set(vocab.TAKEDOWN_STATES):  # pragma: no cover - caught at import
    raise RuntimeError("every takedown state needs its row in NEXT")


# How long a platform has to answer a request before the reviewer chases it. Korean law asks for
# removal without delay once a platform is told (the Telecommunications Business Act, art. 22-5);
# a day is the window the Digital Sex Crime Victim Support Center's practice of same-day follow-up
# gives, and what the reviewer's home page counts from.
RESPONSE_WINDOW = dt.timedelta(hours=24)
# The states in which dscr waits on the platform.
WAITING = (REQUESTED, REAPPEARED)


def past_deadline(status: str, since: dt.datetime, now: dt.datetime) -> dt.timedelta | None:
    """How long past its deadline a takedown is that has waited on the platform since `since`
    (when it was requested, or last moved), or None when it is answered or still in time."""
    check_status(status)
    if status not in WAITING:
        return None
    late = now - (since + RESPONSE_WINDOW)
    return late if late > dt.timedelta(0) else None


def check_status(status: str) -> str:
    """The status, if it is a takedown state; ValidationError otherwise."""
    if status not in vocab.TAKEDOWN_STATES:
        raise ValidationError(
            "detection.takedown_status_one",
            "takedown status must be one of {vocab_takedown_states}, got {status!r}",
            vocab_takedown_states=', '.join(vocab.TAKEDOWN_STATES), status=status
        )
    return status


def check_transition(takedown_id: int, current: str, status: str) -> None:
    """Whether takedown ``takedown_id`` may move from ``current`` to ``status``.

    ValidationError when ``status`` is no takedown state; Conflict when the table does not allow
    the move from the state the request is in now.
    """
    check_status(status)
    if status not in NEXT[current]:
        raise Conflict(
            "detection.takedown_move_not",
            "takedown {takedown_id} is {current}; it can move to {next}, not {status}",
            takedown_id=takedown_id, current=current, next=' or '.join(NEXT[current]),
            status=status
        )
