"""The server's live index reads new registry rows by id, including rows committed out of id order."""

from __future__ import annotations

from sqlalchemy import select

from api.app import MatchingState
from db.schema import Case, HashEntry
from detection import service as detection
from partners.index import Query


def _entry(ctx, row_id: int, hx: str) -> None:
    with ctx.transaction() as s:
        case_id = s.scalar(select(Case.id).limit(1))
        s.add(HashEntry(id=row_id, case_id=case_id, algorithm="pdq", bits=256, hash_hex=hx,
                        added_by=ctx.actor.id))


def test_a_row_committed_below_the_watermark_is_read_once_and_none_twice(rt, make_account):
    reviewer = make_account("reviewer")
    with rt.context(reviewer) as ctx:
        detection.import_hash_list_bytes(
            ctx, f"algorithm,hash,case\npdq,{'ab' * 32},SYN-1\npdq,{'cd' * 32},SYN-1\n".encode(),
            new_cases=True)
        _entry(ctx, 50, "ef" * 32)
    state = MatchingState(rt, refresh_seconds=60)
    assert state.load() == 3 and state.index.watermark == 50
    assert state.load() == 0  # the window is read again, and nothing doubled
    with rt.context(reviewer) as ctx:  # as if its transaction had committed after id 50's
        _entry(ctx, 40, "12" * 32)
    assert state.load() == 1 and len(state.index) == 4
    got = state.index.match([Query("pdq", "12" * 32), Query("pdq", "ab" * 32)])
    assert [r.matches for r in got] == [((40, 0),), ((1, 0),)]
    assert state.key and state.answer(got).results[0].matches[0].entry != "40"
