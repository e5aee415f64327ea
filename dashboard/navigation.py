"""Which pages a role sees: built from the access policy, so the menu and the guard agree."""

from __future__ import annotations

from dashboard.i18n import t
from db import access

# page file, title key, the action the page needs (the page and its use cases check again),
# and the roles it is written for when the action alone does not say (None: every allowed role).
PAGE_TABLE: tuple[tuple[str, str, str | None, frozenset[str] | None], ...] = (
    ("pages/home.py", "home", None, None),
    ("pages/caseload.py", "caseload", "participant.identify", None),
    ("pages/participant.py", "participant_page", "participant.identify", None),
    ("pages/register.py", "rg_title", "participant.create", None),
    ("pages/matrix.py", "co_matrix", "assessment.read", None),
    ("pages/instrument.py", "co_instrument", "assessment.record", None),
    ("pages/accounts.py", "accounts", "account.manage", None),
    ("pages/audit.py", "audit_log", "audit.read", None),
    ("pages/outcomes.py", "cm_outcomes", "outcomes.read", None),
    ("pages/reviews.py", "cm_reviews", "review.record", None),
    ("pages/signoff.py", "cm_signoff", "conclusion.signoff", None),
    ("pages/registry.py", "rv_registry", "registry.read", None),
    ("pages/scans.py", "rv_scans", "scan.run", None),
    ("pages/review.py", "rv_review", "flag.review", None),
    ("pages/recidivism.py", "an_recidivism", "recidivism.read", None),
    # Counselors read a prediction on the matrix page; the model cards are for those who fit,
    # approve and withdraw models.
    ("pages/models.py", "an_models", "model.card", frozenset({"analyst", "committee", "admin"})),
    ("pages/cohort.py", "an_cohort", "recidivism.read", None),
    ("pages/deliveries.py", "ed_deliveries", "delivery.record", None),
    ("pages/surveys.py", "ed_surveys", "delivery.record", None),
    ("pages/prevention_effects.py", "pv_effects", "prevention.effects", None),
    ("pages/prevention_reviews.py", "pv_reviews", "prevention.review", None),
)


def visible_pages(role: str) -> list[tuple[str, str]]:
    """(page file, title key) of the pages a role may open."""
    out = []
    for path, title_key, action, roles in PAGE_TABLE:
        if action is not None and not access.is_allowed(role, action):
            continue
        if roles is not None and role not in roles:
            continue
        out.append((path, title_key))
    return out


def pages_for(role: str, lang: str) -> list:
    import streamlit as st

    return [st.Page(path, title=t(key, lang), url_path=key) for path, key in visible_pages(role)]
