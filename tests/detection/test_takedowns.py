"""Takedown states and the moves between them, on plain values."""

from __future__ import annotations

import itertools

import pytest

import vocab
from detection import takedowns
from errors import Conflict, ValidationError

ALLOWED = {
    ("requested", "removed"), ("requested", "refused"),
    ("removed", "reappeared"),
    ("refused", "requested"),
    ("reappeared", "requested"), ("reappeared", "removed"),
}


def test_the_table_has_a_row_for_every_state_of_the_vocabulary_and_names_only_states():
    assert set(takedowns.NEXT) == set(vocab.TAKEDOWN_STATES)
    assert all(set(nxt) <= set(vocab.TAKEDOWN_STATES) for nxt in takedowns.NEXT.values())
    assert takedowns.INITIAL == takedowns.REQUESTED == "requested"
    assert (takedowns.REMOVED, takedowns.REFUSED, takedowns.REAPPEARED) == (
        "removed", "refused", "reappeared")


@pytest.mark.parametrize(
    "current,status", list(itertools.product(vocab.TAKEDOWN_STATES, repeat=2)))
def test_every_move_is_allowed_exactly_when_the_table_says_so(current, status):
    if (current, status) in ALLOWED:
        assert takedowns.check_transition(7, current, status) is None
    else:
        with pytest.raises(Conflict) as err:
            takedowns.check_transition(7, current, status)
        assert str(err.value) == (
            f"takedown 7 is {current}; it can move to "
            f"{' or '.join(takedowns.NEXT[current])}, not {status}")


def test_a_status_that_is_no_takedown_state_is_a_validation_error():
    assert takedowns.check_status("removed") == "removed"
    message = "takedown status must be one of requested, removed, refused, reappeared, got 'gone'"
    with pytest.raises(ValidationError) as err:
        takedowns.check_status("gone")
    assert str(err.value) == message
    with pytest.raises(ValidationError) as err:
        takedowns.check_transition(7, "requested", "gone")
    assert str(err.value) == message


def test_a_removed_request_can_only_reappear_and_a_refusal_be_requested_again():
    assert takedowns.NEXT["removed"] == ("reappeared",)
    assert takedowns.NEXT["refused"] == ("requested",)
    with pytest.raises(Conflict, match="takedown 3 is removed; it can move to reappeared, not refused"):
        takedowns.check_transition(3, "removed", "refused")
