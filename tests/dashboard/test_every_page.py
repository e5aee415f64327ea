"""No page shows an identifying value it should not: every role, every page, every byte sent.

The synthetic programme's names, contacts and birth dates are searched for in everything each page
sends to the browser (text, tables as Arrow bytes, chart specs). Only the counselor's explicit
identity view may show them, and it is not opened here.
"""

from __future__ import annotations

import pytest

from dashboard.navigation import visible_pages
from demo import synthetic
from tests.dashboard.helpers import rendered

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

USERS = {"counselor": "counselor1", "committee": "committee1", "analyst": "analyst1",
         "reviewer": "reviewer1", "admin": "admin", "educator": "educator1"}


@pytest.fixture
def identities():
    people = synthetic.generate(40, seed=3).participants
    values = set(people.name) | set(people.contact) | set(people.guardian_contact)
    values |= {d.isoformat() for d in people.birth_date}
    return sorted(values)


@pytest.mark.parametrize("role", sorted(USERS))
def test_no_page_of_any_role_sends_an_identifying_value(demo, signed_in, identities, role):
    pages = visible_pages(role)
    assert pages
    for path, _ in pages:
        at = signed_in(USERS[role], path)
        assert not at.exception, (role, path, at.exception)
        sent = rendered(at)
        assert at.title and len(sent) > 100, (role, path)  # the page really rendered something
        leaked = [v for v in identities if v.encode("utf-8") in sent]
        assert not leaked, f"{path} as {role} sent {leaked[:3]}"


def test_the_search_would_find_a_leak(demo, signed_in, identities):
    """The same search on the counselor's explicit identity view does find the name."""
    at = signed_in("counselor1", "pages/participant.py")
    at.button(key="show_identity").click().run()
    sent = rendered(at)
    assert any(v.encode("utf-8") in sent for v in identities)
