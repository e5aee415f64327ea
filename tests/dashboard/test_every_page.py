"""Every page of every role, opened as its users open it: in Korean, then in English.

On each page, in each language: no exception and no error box, and none of the synthetic
programme's names, contacts or birth dates in anything sent to the browser (text, tables as Arrow
bytes, chart specs); only the counselor's explicit identity view may show them, and it is not
opened here. In Korean, no text a person reads (titles, labels, options, table headers and cells,
chart titles, axes, legends and hovers: tests/dashboard/seen.py) holds an English word or a raw
snake_case code; statistics' names, file kinds and account names are allowed.

Pages whose tabs are drawn only when opened (the recidivism page, the committee's outcomes by
domain) are swept tab by tab.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from sqlalchemy import select

from dashboard.dates import TABLE_FORMAT
from dashboard.i18n import TEXT
from dashboard.navigation import visible_pages
from db.schema import Account
from demo import synthetic
from tests.dashboard.helpers import rendered
from tests.dashboard.seen import english, unreadable_dates, visible_texts
from tests.matrix.test_service_signoff import reviewed_cohort

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

USERS = {"counselor": "counselor1", "supervisor": "supervisor1", "committee": "committee1",
         "analyst": "analyst1", "reviewer": "reviewer1", "admin": "admin", "educator": "educator1"}
# Tabs drawn only when chosen: their state key (dashboard pages use st.tabs(on_change="rerun")).
STATEFUL_TABS = {"pages/recidivism.py": "an_tabs", "pages/outcomes.py": "cm_domain_tabs",
                 "pages/audit.py": "au_tabs"}
# The audit log's stored record is shown as kept (column names, the software's task strings) and
# says so on the page; everything else on that page is checked.
RECORD_COLUMNS = {TEXT["au_fields"]["ko"], TEXT["au_detail"]["ko"]}


@pytest.fixture
def identities():
    people = synthetic.generate(40, seed=3).participants
    values = set(people.name) | set(people.contact) | set(people.guardian_contact)
    values |= {d.isoformat() for d in people.birth_date}
    return sorted(values)


@pytest.fixture
def usernames(demo):
    with demo.sessions() as s:
        return set(s.scalars(select(Account.username)))


def english_on(at, usernames) -> list[str]:
    return sorted({f"{word} <- {text[:80]!r}" for text in visible_texts(at, skip_columns=RECORD_COLUMNS)
                   for word in english(text, usernames)})


def check(at, where, identities, usernames=None) -> None:
    assert not at.exception, (where, at.exception)
    assert not at.error, (where, [e.value for e in at.error])
    sent = rendered(at)
    assert at.title and len(sent) > 100, where  # the page really rendered something
    leaked = [v for v in identities if v.encode("utf-8") in sent]
    assert not leaked, f"{where} sent {leaked[:3]}"
    # Date inputs take dates the reader's way (Korea's YYYY.MM.DD, not Streamlit's YYYY/MM/DD).
    shape = "YYYY.MM.DD" if usernames is not None else "YYYY-MM-DD"
    assert all(w.proto.format == shape for w in at.date_input), (where, shape)
    # Table dates too: 2026. 10. 13. in Korean, ISO in English, never Streamlit's default.
    korean = usernames is not None
    bad_dates = unreadable_dates(at, TABLE_FORMAT["ko" if korean else "en"], iso_text_ok=not korean)
    assert not bad_dates, (where, bad_dates)
    if usernames is not None:
        assert not english_on(at, usernames), (where, english_on(at, usernames))


def states(at, path):
    """The page as opened, then each of its tabs that is drawn only when chosen."""
    yield path
    key = STATEFUL_TABS.get(path)
    if key:
        for label in [tab.label for tab in at.tabs][1:]:
            at.session_state[key] = label
            at.run()
            yield f"{path} [{label}]"


@pytest.mark.parametrize("role", sorted(USERS))
def test_every_page_of_every_role_in_korean_and_english_names_no_one(
        demo, signed_in, identities, usernames, role):
    if role == "committee":
        reviewed_cohort(demo)  # so that the sign-off page has its form
    pages = visible_pages(role)
    assert pages
    for path, _ in pages:
        at = signed_in(USERS[role], path)
        for where in states(at, path):
            check(at, (role, where, "ko"), identities, usernames)
        at = signed_in(USERS[role], path)
        at.session_state["lang"] = "en"
        at.run()
        for where in states(at, path):
            check(at, (role, where, "en"), identities)


def test_the_search_would_find_a_leak(demo, signed_in, identities):
    """The same search on the counselor's explicit identity view does find the name."""
    at = signed_in("counselor1", "pages/participant.py")
    at.button(key="show_identity").click().run()
    sent = rendered(at)
    assert any(v.encode("utf-8") in sent for v in identities)


def test_the_language_check_would_find_english(demo, signed_in, usernames):
    """The same check on a page drawn in English finds its words; codes and names pass."""
    at = signed_in("committee1", "pages/outcomes.py")
    at.session_state["lang"] = "en"
    at.run()
    assert len(english_on(at, usernames)) > 20
    assert english("ICC(2,k) 0.75, AUC 0.81, CSV 파일, DU-14, counselor1, `a_b`", {"admin"}) == []
    assert english("[-inf, 1.00]") == ["inf"] and english("단계: not_started") == ["not_started"]
    assert english("change (POMP, 0-100)") == ["change"]


def _tables_with_dates():
    import datetime as dt

    import pandas as pd
    import streamlit as st

    from dashboard import dates

    days = [dt.date(2026, 10, 13), dt.date(2026, 11, 2)]
    st.dataframe(pd.DataFrame({"날짜": days}), key="plain")
    st.dataframe(pd.DataFrame({"날짜": days}), key="shown",
                 column_config=dates.date_columns(["날짜"], "ko"))
    st.dataframe(pd.DataFrame({"적힌 날짜": [dates.day(d, "ko") for d in days]}), key="text")
    st.dataframe(pd.DataFrame({"시각": ["2026-10-13 14:05 KST", "없음"]}), key="moment")
    stored = [dt.datetime(2026, 10, 13, 5, 5), None]  # naive UTC, as the store keeps them
    st.dataframe(pd.DataFrame({"적힌 시각": [dates.moment(m, "ko") for m in stored]}), key="mtext")
    st.dataframe(pd.DataFrame({"기본 시각": dates.times(stored)}), key="mplain")
    st.dataframe(pd.DataFrame({"시각 열": dates.times(stored)}), key="mshown",
                 column_config=dates.moment_columns(["시각 열"], "ko"))


def test_the_date_check_would_find_a_date_shown_streamlits_way(backend):
    """A date or time column without its format, a column of dates or moments written as text
    (which sorts as text) and, in Korean, a moment written ISO-fashion are found; the columns
    formatted by dates.date_columns and dates.moment_columns pass."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_tables_with_dates).run()
    assert not at.exception
    found = unreadable_dates(at, TABLE_FORMAT["ko"], iso_text_ok=False)
    assert found == ["날짜: 2026-10-13 (format None)", "적힌 날짜: '2026. 10. 13.' (dates as text)",
                     "시각: '2026-10-13 14:05 KST' (ISO text)",
                     "적힌 시각: '2026. 10. 13. 14:05' (moments as text)",
                     "기본 시각: 2026-10-13 14:05:00 (format None)"]
    assert unreadable_dates(at, TABLE_FORMAT["ko"], iso_text_ok=True) == found[:2] + found[3:]
    # The moment shown is Seoul's (UTC+9), to the minute, the Korean way.
    shown = next(d for d in at.dataframe if "시각 열" in d.value.columns)
    assert shown.value["시각 열"].iloc[0] == pd.Timestamp(2026, 10, 13, 14, 5)
    assert json.loads(shown.proto.columns)["시각 열"]["type_config"]["format"] == "YYYY. M. D. HH:mm"
