"""components.paged: a long table is drawn a page at a time, sorted on the server over all its rows."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _long_table():
    import pandas as pd
    import streamlit as st

    from dashboard.components import paged

    total = st.session_state.get("total", 1234)
    frame = pd.DataFrame({"code": [f"P-{i:04d}" for i in range(total)],
                          "score": [(i * 37) % 1000 for i in range(total)]})
    part = paged(frame, "long", rows=500)
    st.session_state["shown"] = part
    st.dataframe(part, hide_index=True, key="long_table")


def test_a_long_table_is_sent_a_page_at_a_time_sorted_over_all_its_rows():
    at = AppTest.from_function(_long_table).run()
    assert not at.exception
    first = at.session_state["shown"]
    assert list(first["code"]) == [f"P-{i:04d}" for i in range(500)]  # by its first column
    assert "1-500" in at.caption[0].value and "1,234" in at.caption[0].value
    assert at.number_input(key="long_page").max == 3

    at.number_input(key="long_page").set_value(3).run()
    last = at.session_state["shown"]
    assert list(last["code"]) == [f"P-{i:04d}" for i in range(1000, 1234)]
    assert "1,001-1,234" in at.caption[0].value

    # Sorting is over every row, not the page: the highest scores of the whole table come first.
    at.number_input(key="long_page").set_value(1).run()
    at.selectbox(key="long_sort").set_value("score").run()
    at.toggle(key="long_desc").set_value(True).run()
    top = at.session_state["shown"]["score"].tolist()
    everything = sorted(((i * 37) % 1000 for i in range(1234)), reverse=True)
    assert top == everything[:500]


def test_fewer_rows_bring_the_page_back_in_range_and_a_short_table_has_no_controls():
    at = AppTest.from_function(_long_table).run()
    at.number_input(key="long_page").set_value(3).run()
    at.session_state["total"] = 700  # a filter left two pages
    at.run()
    assert not at.exception
    assert at.number_input(key="long_page").value == 2
    assert len(at.session_state["shown"]) == 200

    at.session_state["total"] = 40
    at.run()
    assert not at.exception
    assert len(at.session_state["shown"]) == 40
    assert not at.number_input and not at.caption
