"""The per-session memo: a rerun reuses what this session read, a write by anyone is seen on the
next run, and nothing is kept past log-out or shared between sessions."""

from __future__ import annotations

import pytest

from dashboard.state import MEMO_KEY
from models import service as ms

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def events_metric(at) -> int:
    (metric,) = [m for m in at.metric if m.label == "재범"]
    return int(metric.value)


def memo_frame(at):
    return at.session_state[MEMO_KEY]["values"]["analysis_frame_light"]


def test_a_rerun_reuses_the_frame_and_a_write_elsewhere_is_seen_next_run(demo, signed_in,
                                                                        make_account):
    other = make_account("analyst", "analyst2")
    at = signed_in("analyst1", "pages/cohort.py")
    assert not at.exception
    before = events_metric(at)
    frame = memo_frame(at)
    at.run()
    assert memo_frame(at) is frame  # nothing was written: not read again
    # Another analyst records a reoffence for someone with a window and no event yet.
    with demo.context(other) as ctx:
        register = ms.follow_up_register(ctx)
        row = register[register["follow_up_start"].notna()
                       & register["study_code"].isin(frame.loc[frame["event"] == 0, "study_code"])
                       ].iloc[0]
        ms.record_event(ctx, participant_id=int(row["participant_id"]),
                        event_date=row["follow_up_start"], event_type="other_sexual",
                        source="police")
    at.run()
    assert not at.exception
    assert memo_frame(at) is not frame
    assert events_metric(at) == before + 1


def test_the_memo_belongs_to_one_session_and_ends_at_log_out(demo, signed_in, make_account):
    make_account("analyst", "analyst2")
    first = signed_in("analyst1", "pages/recidivism.py")
    second = signed_in("analyst2", "pages/recidivism.py")
    assert memo_frame(first) is not memo_frame(second)
    assert first.session_state[MEMO_KEY]["account"] != second.session_state[MEMO_KEY]["account"]
    # AppTest reruns only the page, not app.py with its sidebar, so the log-out button is
    # clicked in Chromium (tests/e2e/test_login_browser.py); here the log-in ends in the store.
    from accounts import service as accounts
    from tests.dashboard.conftest import BROWSER_COOKIE

    assert MEMO_KEY in first.session_state
    accounts.end_login_session(demo, first.session_state[BROWSER_COOKIE])
    first.run()
    assert MEMO_KEY not in first.session_state
    assert MEMO_KEY in second.run().session_state
